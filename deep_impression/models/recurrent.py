"""The second post-challenge model of paper §4: "DNN + RNN".

A recurrent network on top of the trained (frozen) challenge network: two
layers of 512 long short-term memory units and one layer of five linear
units (:class:`RecurrentHead`). At each time point its input is the
challenge network's layer-5 features of one second of the clip: the pooled
256-d auditory features of that second's 16,000 samples and the pooled
256-d visual features averaged over its 25 frames, concatenated (audio
first, as the challenge network's fusion does). Its output at each time
point is a prediction of the five traits; a clip's prediction is their
mean over the clip.

* :func:`step_bounds` and :func:`step_features`: the per-second features of
  a clip (any backend of :mod:`deep_impression.inference.clip`);
* :class:`RecurrentModel`: the challenge network and the head, with
  ``predict(audio, frames)`` as the other models;
* :func:`load_recurrent`: a trained run directory.
"""

import json
import os

from deep_impression import _compat  # noqa: F401  (before chainer)

import chainer
import chainer.functions as F
import chainer.links as L
import numpy

from deep_impression.constants import FPS, SAMPLE_RATE, TRAITS
from deep_impression.errors import WeightsError
from deep_impression.inputs import even_indices
from deep_impression.models.streams import CHANNELS

#: LSTM units per layer and layers (paper §4).
HIDDEN = 512
#: Input per time point: the 256-d auditory and 256-d visual features.
INPUT = 2 * CHANNELS[-1]
#: Dropout ratio on the hidden layers. The paper uses dropout without
#: giving a ratio; 0.5 is the ratio of Srivastava et al. (its [27]).
DROPOUT = 0.5
#: Seconds per time point (paper §4: "a second-long video clip").
STEP_SECONDS = 1.0


class RecurrentHead(chainer.Chain):
    """Two LSTM layers of 512 units and five linear units (paper §4).

    :meth:`forward` is one time point: ``(B, 512)`` features to ``(B, 5)``
    traits (TRAITS order); the LSTM state carries over between calls until
    :meth:`reset_state`. Dropout acts on both hidden layers' outputs while
    ``chainer.config.train`` is on.
    """

    def __init__(self, hidden=HIDDEN, dropout=DROPOUT):
        super().__init__()
        self.dropout = dropout
        with self.init_scope():
            self.lstm1 = L.LSTM(INPUT, hidden)
            self.lstm2 = L.LSTM(hidden, hidden)
            # Biases start at 0.5, the middle of the traits' range (the
            # challenge network's tanh scaling also gives 0.5 for zero
            # input); the paper does not say.
            self.out = L.Linear(hidden, len(TRAITS), initial_bias=0.5)

    def reset_state(self):
        self.lstm1.reset_state()
        self.lstm2.reset_state()

    def forward(self, x):
        h = F.dropout(self.lstm1(x), self.dropout)
        h = F.dropout(self.lstm2(h), self.dropout)
        return self.out(h)

    def predict_sequence(self, features):
        """``(T, 512)`` features of one clip -> ``(T, 5)`` predictions
        (NumPy, test mode, from a fresh state)."""
        features = numpy.asarray(features, dtype=numpy.float32)
        self.reset_state()
        out = []
        with chainer.using_config('train', False), \
                chainer.using_config('enable_backprop', False):
            for t in range(len(features)):
                y = self(self.device.send(features[t:t + 1]))
                out.append(chainer.backend.CpuDevice().send(y.array)[0])
        self.reset_state()
        return numpy.stack(out)

    def predict_features(self, features):
        """A clip's traits from its per-second features: the mean of the
        predictions over the time points, clipped to [0, 1] (the traits'
        range), ``(5,)`` float32."""
        mean = self.predict_sequence(features).mean(axis=0)
        return numpy.clip(mean, 0, 1).astype(numpy.float32)


def step_bounds(num_samples, num_frames, step_seconds=STEP_SECONDS,
                sample_rate=SAMPLE_RATE, fps=FPS):
    """Sample and frame ranges of each time point of a clip.

    A time point covers ``step_seconds`` (16,000 samples and 25 frames for
    the paper's one second at 16 kHz and 25 frames/s). An incomplete last
    step (a 15.3-s clip's last 0.3 s) is left out; a clip shorter than one
    step is one time point.

    Returns:
        list of ``((sample start, stop), (frame start, stop))``.
    """
    per_step = step_seconds * sample_rate
    frames_per_step = step_seconds * fps
    steps = int(min(num_samples / per_step, num_frames / frames_per_step)
                + 1e-9)
    if steps == 0:
        return [((0, int(num_samples)), (0, int(num_frames)))]
    return [((int(round(s * per_step)), int(round((s + 1) * per_step))),
             (int(round(s * frames_per_step)),
              int(round((s + 1) * frames_per_step))))
            for s in range(steps)]


def step_features(backend, audio, frames_of, num_frames,
                  step_seconds=STEP_SECONDS, frames_per_step=None,
                  sample_rate=SAMPLE_RATE, fps=FPS):
    """Layer-5 features of each time point of a clip.

    Args:
        backend: anything with ``audio_features`` and ``frame_features``
            (:mod:`deep_impression.inference.clip`), e.g. the challenge
            network.
        audio: ``(n,)`` float32 16 kHz samples.
        frames_of: callable from a list of frame indices to ``(k, H, W,
            3)`` uint8 frames (a store's ``frames``, or an array's
            indexing).
        num_frames: frames of the clip.
        step_seconds: seconds per time point (1 as the paper).
        frames_per_step: at most this many evenly spaced frames per time
            point (default all, as the paper).

    Returns:
        ``(T, 512)`` float32: per time point, the auditory features of its
        samples and the mean visual features of its frames.
    """
    rows = []
    for (a0, a1), (f0, f1) in step_bounds(len(audio), num_frames,
                                          step_seconds, sample_rate, fps):
        indices = [f0 + int(i) for i in even_indices(f1 - f0,
                                                     frames_per_step)]
        visual = numpy.asarray(backend.frame_features(frames_of(indices)),
                               dtype=numpy.float64).mean(axis=0)
        rows.append(numpy.concatenate([
            numpy.asarray(backend.audio_features(audio[a0:a1]),
                          dtype=numpy.float32),
            visual.astype(numpy.float32)]))
    return numpy.stack(rows)


class RecurrentModel(object):
    """The challenge network (frozen) and a :class:`RecurrentHead`.

    Args:
        base: the trained challenge network.
        head: the trained head.
        step_seconds, frames_per_step: as :func:`step_features`.
        base_path: the weight file of ``base`` (names its feature cache).
    """

    def __init__(self, base, head, step_seconds=STEP_SECONDS,
                 frames_per_step=None, base_path=None):
        self.base = base
        self.base_path = base_path
        self.head = head
        self.step_seconds = step_seconds
        self.frames_per_step = frames_per_step

    def features(self, audio, frames):
        """``(T, 512)`` per-second features of a clip (frames as an array
        or an iterable of chunks)."""
        from deep_impression import inputs
        if not isinstance(frames, numpy.ndarray):
            frames = numpy.concatenate(list(frames))
        frames = inputs.check_frames(frames)
        return step_features(self.base, inputs.check_audio(audio),
                             lambda idx: frames[idx], len(frames),
                             self.step_seconds, self.frames_per_step)

    def predict(self, audio, frames, on_frames=None):
        """Traits of one whole clip, ``(5,)`` float32 in TRAITS order: the
        head's predictions averaged over the clip's seconds (paper §4).

        ``on_frames``: optional callable given the number of frames once
        the per-second features are computed (all of them at once: a time
        point needs its whole second).
        """
        if not isinstance(frames, numpy.ndarray):
            frames = numpy.concatenate(list(frames))
        features = self.features(audio, frames)
        if on_frames is not None:
            on_frames(len(frames))
        return self.head.predict_features(features)


def load_recurrent(run_dir, base=None, device=None):
    """A :class:`RecurrentModel` from a run directory of
    :func:`~deep_impression.training.recurrent.train_recurrent`.

    Args:
        run_dir: holds ``model`` (the head) and ``config.json`` (naming the
            challenge network's weight file and the time points).
        base: the challenge network's weight file (default: the one the
            run was trained on).
    """
    from deep_impression.models.weights import (load_model, load_weights,
                                                to_device)
    config_path = os.path.join(os.fspath(run_dir), 'config.json')
    if not os.path.isfile(config_path):
        raise WeightsError('{}: not an RNN run directory (no config.json)'
                           .format(run_dir))
    with open(config_path) as f:
        config = json.load(f)
    head = to_device(load_weights(RecurrentHead(),
                                  os.path.join(run_dir, 'model')), device)
    base = base or config['base']
    return RecurrentModel(load_model(base, device=device), head,
                          config['step_seconds'], config['frames_per_step'],
                          base_path=base)
