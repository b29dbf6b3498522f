"""The two residual streams of *Deep Impression* (paper §2.1).

Each stream is 17 layers, half as wide as ResNet-18: a ``conv1`` with batch
normalisation and ReLU, max pooling, four stages of two residual blocks
(``res2a`` ... ``res5b``) and global average pooling to 256 features. The
auditory stream runs on raw 16 kHz audio with ``1 x k`` kernels
(:data:`AUDITORY`), the visual stream on RGB frames with ``k x k`` kernels
(:data:`VISUAL`). Child names, kernels, strides, pads, ``cover_all``
pooling and biases follow the authors' release (docs/paper-notes.rst,
"The authors' release").
"""

import collections

from deep_impression import _compat  # noqa: F401  (before chainer)

import chainer
import chainer.functions as F
import chainer.links as L

from deep_impression.models import fast_cpu

# Channels per stage: conv1 and stage 2, then stages 3-5 (half of ResNet-18).
CHANNELS = (32, 32, 64, 128, 256)


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
        h = fast_cpu.convolution(self.conv, x)
        return fast_cpu.batch_normalization(self.bn_conv, h, relu=True)


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
        # fast_cpu.* is link(x) unless the fast CPU path is on.
        h = fast_cpu.convolution(self.res_branch2a, x)
        h = fast_cpu.batch_normalization(self.bn_branch2a, h, relu=True)
        h = fast_cpu.convolution(self.res_branch2b, h)
        h = fast_cpu.batch_normalization(self.bn_branch2b, h)
        if self.downsample:
            shortcut = fast_cpu.convolution(self.res_branch1, x)
            shortcut = fast_cpu.batch_normalization(self.bn_branch1,
                                                    shortcut)
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
        yield 'pool1', lambda h: fast_cpu.max_pooling(h, ksize, stride, pad)
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
