"""The audiovisual deep residual network of *Deep Impression* (paper §2.1).

Two 17-layer residual streams, half as wide as ResNet-18: an auditory stream
on raw 16 kHz audio with 1-D (``1 x k``) kernels, and a visual stream on RGB
frames with 2-D kernels. Their globally average-pooled 256-d features are
concatenated (audio first) and mapped by one fully connected layer, ``tanh``
and ``(y + 1) / 2`` to the five traits in :data:`~deep_impression.TRAITS`
order.

Child names, kernels, strides, pads, ``cover_all`` pooling, biases and
initialisation follow the authors' release (docs/paper-notes.rst, "The
authors' release"), so its weight file loads into :class:`AudiovisualNetwork` unchanged.
"""

from deep_impression import _compat  # noqa: F401  (before chainer)

import chainer
import chainer.functions as F
import chainer.links as L
import numpy

from deep_impression import inputs
from deep_impression.constants import FRAME_CHUNK, TRAITS
from deep_impression.models.streams import (  # noqa: F401  (re-exported)
    AUDITORY, BLOCKS, CHANNELS, VISUAL, AuditoryStream, Geometry, Stream,
    VisualStream)

#: Frames per visual-stream pass on the CPU in :meth:`clip_features`: keeps
#: a 15-s clip's peak memory under 1 GB at the same speed as larger batches.
CPU_FRAME_BATCH = 16


def traits_from_logits(logits):
    """``tanh`` and scaling of the FC output to [0, 1] (paper §2.1)."""
    return (F.tanh(logits) + 1) / 2


class AudiovisualNetwork(chainer.Chain):
    """The full network: ``aud`` and ``vis`` streams and the ``fc`` layer.

    :meth:`forward` is the training-time computation on a batch of audio
    crops and frames; :meth:`predict` is the release's whole-clip inference.

    Args:
        outputs: units of ``fc``: the five traits (the challenge network),
            or one (a per-trait network of §4,
            :mod:`~deep_impression.models.per_trait`).
    """

    def __init__(self, outputs=len(TRAITS)):
        super().__init__()
        with self.init_scope():
            self.aud = AuditoryStream()
            self.vis = VisualStream()
            self.fc = L.Linear(2 * CHANNELS[-1], outputs,
                               initialW=chainer.initializers.HeNormal())

    def fuse(self, audio_features, visual_features):
        """Concatenate (audio first), FC, tanh, scale: ``(N, 5)`` traits."""
        h = F.concat((audio_features, visual_features), axis=1)
        return traits_from_logits(self.fc(h))

    def forward(self, audio, frames):
        """One prediction per example.

        Args:
            audio: ``(N, 1, 1, n_samples)`` float32, samples in [-1, 1].
            frames: ``(N, 3, H, W)`` float32 RGB, values 0-255.

        Returns:
            ``(N, 5)`` Variable of traits in [0, 1], TRAITS order.
        """
        return self.fuse(self.aud(audio), self.vis(frames))

    # -- whole-clip inference (deep_impression.inference.clip) ---------------

    @property
    def frame_batch(self):
        """Frames per visual-stream pass in :meth:`clip_features`:
        :data:`CPU_FRAME_BATCH` on the CPU (a 256-frame pass needs about
        10 GB there, mostly im2col buffers), a whole chunk on a GPU."""
        return CPU_FRAME_BATCH if self.xp is numpy else FRAME_CHUNK

    def _infer(self, link, x):
        with chainer.using_config('train', False), \
                chainer.using_config('enable_backprop', False):
            y = link(*[self.device.send(a) for a in x])
        return chainer.backend.CpuDevice().send(y.array)

    def audio_features(self, audio):
        """``(n,)`` float32 16 kHz samples in [-1, 1] -> ``(256,)`` pooled
        auditory features (NumPy, test mode)."""
        audio = inputs.check_audio(audio)
        return self._infer(self.aud, [audio.reshape(1, 1, 1, -1)])[0]

    def frame_features(self, frames):
        """``(N, H, W, 3)`` uint8 RGB frames -> ``(N, 256)`` pooled visual
        features (NumPy, test mode)."""
        return self._infer(self.vis, [inputs.frames_to_nchw(
            inputs.check_frames(frames))])

    def fuse_features(self, audio_features, visual_features):
        """``(B, 256)`` auditory and visual features -> ``(B, 5)`` traits
        (NumPy, test mode)."""
        return self._infer(self.fuse, [
            numpy.ascontiguousarray(audio_features, dtype=numpy.float32),
            numpy.ascontiguousarray(visual_features, dtype=numpy.float32)])

    def clip_features(self, audio, frames, frame_batch=None):
        """Pooled features of a whole clip, as the release computes them
        (:func:`deep_impression.inference.clip.clip_features`).

        Args:
            audio: 1-D float32 array of 16 kHz samples in [-1, 1].
            frames: ``(T, H, W, 3)`` uint8 RGB array, or an iterable of such
                chunks (so a long video need not sit in memory at once).
            frame_batch: frames per visual-stream pass (default
                :attr:`frame_batch`); changes memory, not results.

        Returns:
            ``(audio_features, visual_features)``, two float32 NumPy arrays
            of shape ``(256,)``.
        """
        from deep_impression.inference import clip
        a = self.audio_features(audio)
        v = clip.mean_frame_features(self.frame_features, frames,
                                     frame_batch or self.frame_batch)
        return a, v

    def predict(self, audio, frames, on_frames=None):
        """Traits of one whole clip, exactly as the authors' release.

        Args:
            audio: 1-D float32 array of 16 kHz samples in [-1, 1].
            frames: ``(T, 256, 456, 3)`` uint8 RGB array, or an iterable of
                such arrays (chunks of any length).
            on_frames: optional callable given the number of frames of
                each batch once it has run (progress bars).

        Returns:
            float32 NumPy array of shape ``(5,)`` in TRAITS order, in [0, 1].
        """
        from deep_impression.inference import clip
        return clip.predict_clip(self, audio, frames, on_frames)


def count_parameters(link):
    """Number of learnable scalars (BN averages and ``N`` not counted)."""
    return sum(p.size for p in link.params())
