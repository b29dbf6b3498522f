"""The audiovisual deep residual network of *Deep Impression* (paper §2.1).

Two 17-layer residual streams, half as wide as ResNet-18: an auditory stream
on raw 16 kHz audio with 1-D (``1 x k``) kernels, and a visual stream on RGB
frames with 2-D kernels. Their globally average-pooled 256-d features are
concatenated (audio first) and mapped by one fully connected layer, ``tanh``
and ``(y + 1) / 2`` to the five traits in :data:`~deep_impression.TRAITS`
order.

Child names, kernels, strides, pads, ``cover_all`` pooling, biases and
initialisation follow the authors' release (``shared/ORIGINAL_RELEASE.md``),
so its weight file loads into :class:`AudiovisualNetwork` unchanged.
"""

import collections

from deep_impression import _compat  # noqa: F401  (before chainer)

import chainer
import chainer.functions as F
import chainer.links as L
import numpy

from deep_impression import inputs
from deep_impression.constants import FRAME_CHUNK, TRAITS
from deep_impression.errors import InputError

# Channels per stage: conv1 and stage 2, then stages 3-5 (half of ResNet-18).
CHANNELS = (32, 32, 64, 128, 256)

#: Frames per visual-stream pass on the CPU in :meth:`clip_features`: keeps
#: a 15-s clip's peak memory under 1 GB at the same speed as larger batches.
CPU_FRAME_BATCH = 16


class Geometry(collections.namedtuple('Geometry', [
        'in_channels', 'conv1', 'pool1', 'block', 'down', 'shortcut'])):
    """Kernel, stride and pad of each kind of layer in one stream.

    Each of ``conv1``, ``pool1``, ``block`` (a block's stride-1 convolutions),
    ``down`` (the first convolution of a down-sampling block) and
    ``shortcut`` (its 1x1 projection) is a ``(ksize, stride, pad)`` triple of
    2-tuples, as Chainer's 2-D layers take them.
    """


#: Visual stream: the 2-D layers of ResNet-18.
VISUAL = Geometry(
    in_channels=3,
    conv1=((7, 7), (2, 2), (3, 3)),
    pool1=((3, 3), (2, 2), (1, 1)),
    block=((3, 3), (1, 1), (1, 1)),
    down=((3, 3), (2, 2), (1, 1)),
    shortcut=((1, 1), (2, 2), (0, 0)))

#: Auditory stream: an ``n x n`` kernel or stride of the visual stream becomes
#: ``1 x n**2`` (paper §2.1), e.g. 7x7 -> 1x49, stride 2x2 -> 1x4.
AUDITORY = Geometry(
    in_channels=1,
    conv1=((1, 49), (1, 4), (0, 24)),
    pool1=((1, 9), (1, 4), (0, 4)),
    block=((1, 9), (1, 1), (0, 4)),
    down=((1, 9), (1, 4), (0, 4)),
    shortcut=((1, 1), (1, 4), (0, 0)))


def _conv(in_channels, out_channels, geometry):
    ksize, stride, pad = geometry
    return L.Convolution2D(in_channels, out_channels, ksize, stride, pad,
                           nobias=False,
                           initialW=chainer.initializers.HeNormal())


class ConvBNReLU(chainer.Chain):
    """``conv1_relu``: convolution, batch normalisation, ReLU."""

    def __init__(self, in_channels, out_channels, geometry):
        super().__init__()
        with self.init_scope():
            self.conv = _conv(in_channels, out_channels, geometry)
            self.bn_conv = L.BatchNormalization(out_channels)

    def forward(self, x):
        return F.relu(self.bn_conv(self.conv(x)))


class ResidualBlock(chainer.Chain):
    """A residual block: conv-BN-ReLU-conv-BN, plus the shortcut, ReLU.

    With ``downsample=False`` the shortcut is the identity and the block keeps
    its input's shape. With ``downsample=True`` the first convolution is
    strided and the shortcut is a strided 1x1 convolution with batch
    normalisation (``res_branch1``/``bn_branch1``).
    """

    def __init__(self, in_channels, out_channels, geometry, downsample):
        super().__init__()
        self.downsample = downsample
        first = geometry.down if downsample else geometry.block
        with self.init_scope():
            self.res_branch2a = _conv(in_channels, out_channels, first)
            self.bn_branch2a = L.BatchNormalization(out_channels)
            self.res_branch2b = _conv(out_channels, out_channels,
                                      geometry.block)
            self.bn_branch2b = L.BatchNormalization(out_channels)
            if downsample:
                self.res_branch1 = _conv(in_channels, out_channels,
                                         geometry.shortcut)
                self.bn_branch1 = L.BatchNormalization(out_channels)

    def forward(self, x):
        h = F.relu(self.bn_branch2a(self.res_branch2a(x)))
        h = self.bn_branch2b(self.res_branch2b(h))
        if self.downsample:
            shortcut = self.bn_branch1(self.res_branch1(x))
        else:
            shortcut = x
        return F.relu(h + shortcut)


# (name, stage, down-sampling?) of the eight residual blocks.
BLOCKS = (('res2a', 2, False), ('res2b', 2, False),
          ('res3a', 3, True), ('res3b', 3, False),
          ('res4a', 4, True), ('res4b', 4, False),
          ('res5a', 5, True), ('res5b', 5, False))


class Stream(chainer.Chain):
    """One 17-layer residual stream, ending in global average pooling.

    Layers, in order, that :meth:`extract` can pick by name:
    ``conv1_relu``, ``pool1``, ``res2a_relu`` ... ``res5b_relu`` (each
    ``(N, C, H, W)``) and ``pool5`` (``(N, 256)``, the pooled features).
    """

    def __init__(self, geometry):
        super().__init__()
        self.geometry = geometry
        with self.init_scope():
            self.conv1_relu = ConvBNReLU(geometry.in_channels, CHANNELS[0],
                                         geometry.conv1)
            in_channels = CHANNELS[0]
            for name, stage, down in BLOCKS:
                out_channels = CHANNELS[stage - 1]
                setattr(self, name + '_relu', ResidualBlock(
                    in_channels, out_channels, geometry, down))
                in_channels = out_channels

    @property
    def layer_names(self):
        return (['conv1_relu', 'pool1'] +
                [name + '_relu' for name, _, _ in BLOCKS] + ['pool5'])

    def _layers(self):
        ksize, stride, pad = self.geometry.pool1
        yield 'conv1_relu', self.conv1_relu
        # cover_all=True (Chainer's default) as in the release: it changes
        # the output size, e.g. for 256x456 frames.
        yield 'pool1', lambda h: F.max_pooling_2d(h, ksize, stride, pad,
                                                  cover_all=True)
        for name, _, _ in BLOCKS:
            yield name + '_relu', getattr(self, name + '_relu')
        yield 'pool5', lambda h: F.mean(h, axis=(2, 3))

    def extract(self, x, layers):
        """Run the stream up to the last of ``layers``.

        Args:
            x: ``(N, C, H, W)`` float32 input.
            layers: names from :attr:`layer_names`.

        Returns:
            dict from each requested name to its ``chainer.Variable``.
        """
        wanted = set(layers)
        unknown = wanted - set(self.layer_names)
        if unknown:
            raise ValueError('unknown layer(s) {}; choose from {}'.format(
                sorted(unknown), self.layer_names))
        out = {}
        h = x
        for name, layer in self._layers():
            h = layer(h)
            if name in wanted:
                out[name] = h
                if len(out) == len(wanted):
                    break
        return out

    def forward(self, x):
        """``(N, C, H, W)`` -> ``(N, 256)`` pooled features."""
        return self.extract(x, ['pool5'])['pool5']


class AuditoryStream(Stream):
    """The auditory stream: input ``(N, 1, 1, n_samples)`` raw 16 kHz audio."""

    def __init__(self):
        super().__init__(AUDITORY)


class VisualStream(Stream):
    """The visual stream: input ``(N, 3, H, W)`` RGB frames, values 0-255."""

    def __init__(self):
        super().__init__(VISUAL)


def traits_from_logits(logits):
    """``tanh`` and scaling of the FC output to [0, 1] (paper §2.1)."""
    return (F.tanh(logits) + 1) / 2


class AudiovisualNetwork(chainer.Chain):
    """The full network: ``aud`` and ``vis`` streams and the ``fc`` layer.

    :meth:`forward` is the training-time computation on a batch of audio
    crops and frames; :meth:`predict` is the release's whole-clip inference.
    """

    def __init__(self):
        super().__init__()
        with self.init_scope():
            self.aud = AuditoryStream()
            self.vis = VisualStream()
            self.fc = L.Linear(2 * CHANNELS[-1], len(TRAITS),
                               initialW=chainer.initializers.HeNormal())

    @property
    def auditory_stream(self):
        return self.aud

    @property
    def visual_stream(self):
        return self.vis

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

    # -- whole-clip inference -------------------------------------------------

    def clip_features(self, audio, frames, frame_batch=None):
        """Pooled features of a whole clip, as the release computes them.

        The whole audio goes through the auditory stream at once; frames go
        through the visual stream in chunks of :data:`FRAME_CHUNK` and their
        pooled features are averaged over all frames.

        Args:
            audio: 1-D float32 array of 16 kHz samples in [-1, 1].
            frames: ``(T, H, W, 3)`` uint8 RGB array, or an iterable of such
                chunks (so a long video need not sit in memory at once).
            frame_batch: frames per forward pass of the visual stream
                within a chunk. Test-mode batch normalisation treats frames
                independently, so this changes memory, not results. Default:
                :data:`CPU_FRAME_BATCH` on the CPU (a 256-frame pass needs
                about 10 GB there, mostly im2col buffers), the whole chunk
                on a GPU.

        Returns:
            ``(audio_features, visual_features)``, two float32 NumPy arrays
            of shape ``(256,)``.
        """
        audio = inputs.check_audio(audio)
        xp = self.xp
        with chainer.using_config('train', False), \
                chainer.using_config('enable_backprop', False):
            a = self.device.send(audio.reshape(1, 1, 1, -1))
            audio_features = self.aud(a).array[0]
            total = None
            count = 0
            if frame_batch is None:
                frame_batch = (CPU_FRAME_BATCH if xp is numpy
                               else FRAME_CHUNK)
            for chunk in inputs.frame_chunks(frames, FRAME_CHUNK):
                for start in range(0, len(chunk), frame_batch):
                    x = self.device.send(inputs.frames_to_nchw(
                        chunk[start:start + frame_batch]))
                    s = self.vis(x).array.astype(xp.float64).sum(axis=0)
                    total = s if total is None else total + s
                count += len(chunk)
            if count == 0:
                raise InputError('frames: no frame given')
            visual_features = (total / count).astype(xp.float32)
        return (chainer.backend.CpuDevice().send(audio_features),
                chainer.backend.CpuDevice().send(visual_features))

    def predict(self, audio, frames):
        """Traits of one whole clip, exactly as the authors' release.

        Args:
            audio: 1-D float32 array of 16 kHz samples in [-1, 1].
            frames: ``(T, 256, 456, 3)`` uint8 RGB array, or an iterable of
                such arrays (chunks of any length).

        Returns:
            float32 NumPy array of shape ``(5,)`` in TRAITS order, in [0, 1].
        """
        a, v = self.clip_features(audio, frames)
        with chainer.using_config('train', False), \
                chainer.using_config('enable_backprop', False):
            y = self.fuse(self.device.send(a[None]), self.device.send(v[None]))
        return numpy.asarray(chainer.backend.CpuDevice().send(y.array[0]),
                             dtype=numpy.float32)


def count_parameters(link):
    """Number of learnable scalars (BN averages and ``N`` not counted)."""
    return sum(p.size for p in link.params())
