"""The whole-clip computation of the authors' release, written once.

A clip's traits (paper §2.1, §2.3): all of its audio through the auditory
stream at once; its frames through the visual stream in chunks of
:data:`~deep_impression.constants.FRAME_CHUNK` (the release's 256), each
chunk in batches of the backend's ``frame_batch``; the pooled visual
features averaged over every frame; the two 256-d vectors fused (audio
first) into the five traits.

Every backend runs this loop. A backend is any object with

* ``audio_features(audio)``: ``(n,)`` float32 samples -> ``(256,)`` float32;
* ``frame_features(frames)``: ``(N, H, W, 3)`` uint8 RGB -> ``(N, 256)``;
* ``fuse_features(audio_features, visual_features)``: ``(B, 256)`` twice ->
  ``(B, 5)`` traits in [0, 1], TRAITS order;
* ``frame_batch``: frames per ``frame_features`` call.

All three take and return NumPy arrays. Test-mode batch normalisation treats
frames independently, so ``frame_batch`` changes memory and speed, never
results.
"""

import numpy

from deep_impression import inputs
from deep_impression.constants import FRAME_CHUNK
from deep_impression.errors import InputError


def mean_frame_features(frame_features, frames, frame_batch,
                        on_frames=None):
    """Mean of ``frame_features`` over every frame of a clip.

    Args:
        frame_features: callable ``(N, H, W, 3)`` uint8 -> ``(N, D)``.
        frames: ``(T, H, W, 3)`` uint8 RGB array, or an iterable of such
            chunks (a long video need not sit in memory at once).
        frame_batch: frames per call of ``frame_features``.
        on_frames: optional callable given the number of frames of each
            batch once it has run (for progress bars).

    Returns:
        ``(D,)`` float32: the mean, summed in float64.

    Raises:
        InputError: no frame at all.
    """
    frame_batch = int(frame_batch)
    if frame_batch < 1:
        raise InputError('frame_batch: must be at least 1, got {}'.format(
            frame_batch))
    total = None
    count = 0
    for chunk in inputs.frame_chunks(frames, FRAME_CHUNK):
        for start in range(0, len(chunk), frame_batch):
            batch = chunk[start:start + frame_batch]
            s = numpy.asarray(frame_features(batch),
                              dtype=numpy.float64).sum(axis=0)
            total = s if total is None else total + s
            count += len(batch)
            if on_frames is not None:
                on_frames(len(batch))
    if count == 0:
        raise InputError('frames: no frame given')
    return (total / count).astype(numpy.float32)


def clip_features(backend, audio, frames, on_frames=None):
    """``(audio_features, visual_features)`` of a whole clip, float32
    ``(256,)`` each; the visual one is the mean over all frames."""
    audio_features = numpy.asarray(backend.audio_features(audio),
                                   dtype=numpy.float32)
    visual_features = mean_frame_features(
        backend.frame_features, frames, backend.frame_batch, on_frames)
    return audio_features, visual_features


def predict_clip(backend, audio, frames, on_frames=None):
    """Traits of one whole clip: float32 ``(5,)`` in TRAITS order, in
    [0, 1]."""
    a, v = clip_features(backend, audio, frames, on_frames)
    return numpy.asarray(backend.fuse_features(a[None], v[None])[0],
                         dtype=numpy.float32)
