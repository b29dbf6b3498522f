"""Facts of the paper and of the authors' release, each stated once.

Sources: Güçlütürk et al., *Deep Impression* (2016), §2-§3, and the
authors' Chainer release (its weight file's layout and its inference code),
as docs/paper-notes.rst restates them.
"""

#: Output order of the network's five values (the rows of ``fc/W`` in the
#: release's weight file).
TRAITS = ('extraversion', 'agreeableness', 'conscientiousness',
          'neuroticism', 'openness')

#: Column order of the paper's Tables 1-3 (Average first, then these).
PAPER_TRAIT_ORDER = ('openness', 'agreeableness', 'conscientiousness',
                     'neuroticism', 'extraversion')

#: Audio is resampled to 16 kHz mono (paper §3).
SAMPLE_RATE = 16000
#: Frames are resampled to 456 x 256 pixels at 25 frames/s (paper §3).
FRAME_WIDTH = 456
FRAME_HEIGHT = 256
FPS = 25
#: A training example: a random 50176-sample audio crop (3.136 s, 224**2
#: samples, the 1-D counterpart of a 224x224 image, paper §2.1) and a random
#: 224x224 crop of a random frame (paper §2.2).
AUDIO_CROP = 50176
FRAME_CROP = 224
#: The release runs frames through the visual stream in chunks of 256.
FRAME_CHUNK = 256
#: Inputs shorter than this are refused by :func:`predict_video`.
MIN_AUDIO_SECONDS = 1.0

#: One-line meanings of the five traits (the Big Five, as the raters of the
#: ChaLearn First Impressions data judged them), in :data:`TRAITS` order;
#: shown beside the predictions in the web app.
TRAIT_MEANINGS = (
    'outgoing, talkative, energetic (against reserved, quiet)',
    'warm, trusting, cooperative (against critical, cold)',
    'organised, careful, dependable (against careless, spontaneous)',
    'anxious, tense, easily upset (against calm, secure)',
    'curious, imaginative, open to new ideas (against conventional)',
)

#: Bootstrap resamples of the clips behind every metric's interval
#: (:mod:`deep_impression.evaluation.metrics`).
BOOTSTRAP_RESAMPLES = 1000
