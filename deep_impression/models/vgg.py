"""The convolutional part of VGG-16 (Simonyan and Zisserman 2015), the
backbone of DAN+ and CAM-DAN+ (Ventura et al. 2017, §3; Zhang et al. 2016).

Thirteen 3x3 convolutions (pad 1, stride 1), each followed by ReLU, in five
groups separated by 2x2 max pooling of stride 2: 64, 128, 256, 512 and 512
channels. Child names (``conv1_1`` ... ``conv5_3``), shapes, the pooling
(Chainer's ``max_pooling_2d(x, 2)``, ``cover_all`` as its default) and the
zero biases are those of ``chainer.links.VGG16Layers``, so weights move
between the two by name (:func:`copy_backbone`). The random weights are
He-normal (He et al. 2015), not ``VGG16Layers``'s normal of standard
deviation 0.01: through thirteen layers that shrinks the signal about a
million-fold, so a network trained from scratch (the synthetic
demonstration) would start with all-zero features. The fully
connected layers ``fc6``-``fc8`` are not part of it: DAN+ replaces them
(Zhang et al. 2016, §3.1.1).

Input: ``(N, 3, H, W)`` float32 **RGB**, mean already subtracted. Caffe
models (VGG-Face, the ImageNet VGG-16) take BGR; the loaders of
:mod:`~deep_impression.models.backbones` reverse ``conv1_1``'s input
channels so that the same filters see the same colours.

``width`` divides every layer's channels (1: VGG-16 itself). It exists only
for CPU-sized demonstrations (a quarter of the channels costs a sixteenth
of the arithmetic); pretrained weights need ``width=1``.
"""

import collections

from deep_impression import _compat  # noqa: F401  (before chainer)

import chainer
import chainer.functions as F
import chainer.links as L

#: ``(group, channels, convolutions)`` of VGG-16's five groups.
GROUPS = ((1, 64, 2), (2, 128, 2), (3, 256, 3), (4, 512, 3), (5, 512, 3))

#: Convolution names, input to output (``chainer.links.VGG16Layers``'s).
CONVOLUTIONS = tuple('conv{}_{}'.format(g, k) for g, _, n in GROUPS
                     for k in range(1, n + 1))

#: Every layer :meth:`VGG16Backbone.extract` can return, in order: each
#: convolution after its ReLU (named as Chainer names them; ``relu5_2`` of
#: the papers is ``conv5_2`` here) and each pooling.
LAYERS = tuple(name for g, _, n in GROUPS for name in
               ['conv{}_{}'.format(g, k) for k in range(1, n + 1)] +
               ['pool{}'.format(g)])

#: Total stride of each layer (input pixels between neighbouring outputs).
STRIDES = {name: 2 ** (int(name[4]) - (0 if name.startswith('pool') else 1))
           for name in LAYERS}


class VGG16Backbone(chainer.Chain):
    """VGG-16's thirteen convolutions and five max poolings.

    Args:
        width: divisor of every layer's channels (default 1: VGG-16).
        initialW: initialiser of the convolutions' weights (default:
            He-normal, see the module's note).
    """

    def __init__(self, width=1, initialW=None):
        super().__init__()
        if int(width) < 1 or 64 % int(width):
            raise ValueError('width must divide 64, got {}'.format(width))
        self.width = int(width)
        initialW = initialW or chainer.initializers.HeNormal()
        channels = 3
        with self.init_scope():
            for group, out, n in GROUPS:
                for k in range(1, n + 1):
                    setattr(self, 'conv{}_{}'.format(group, k),
                            L.Convolution2D(channels, out // self.width, 3, 1,
                                            1, initialW=initialW,
                                            initial_bias=0))
                    channels = out // self.width

    @property
    def channels(self):
        """Channels of ``conv5_3`` (512 for VGG-16)."""
        return GROUPS[-1][1] // self.width

    def extract(self, x, layers):
        """``{name: Variable}`` of the named layers (see :data:`LAYERS`);
        stops after the deepest one asked for."""
        layers = list(layers)
        unknown = [name for name in layers if name not in LAYERS]
        if unknown:
            raise ValueError('unknown layer(s) {}; choose from {}'.format(
                ', '.join(unknown), ', '.join(LAYERS)))
        last = max(LAYERS.index(name) for name in layers)
        out = collections.OrderedDict()
        h = x
        for name in LAYERS[:last + 1]:
            if name.startswith('pool'):
                h = F.max_pooling_2d(h, ksize=2)
            else:
                h = F.relu(getattr(self, name)(h))
            if name in layers:
                out[name] = h
        return out

    def forward(self, x):
        """``pool5``: ``(N, 3, H, W)`` -> ``(N, 512 / width, H/32, W/32)``
        (sizes rounded up at each pooling)."""
        return self.extract(x, ['pool5'])['pool5']


def copy_backbone(source, target):
    """Copy ``conv1_1`` ... ``conv5_3`` from ``source`` into ``target`` by
    name (any two links with these children, e.g. a
    ``chainer.links.VGG16Layers`` and a :class:`VGG16Backbone`).

    Raises:
        ValueError: a convolution whose shapes differ (named).
    """
    for name in CONVOLUTIONS:
        src, dst = getattr(source, name), getattr(target, name)
        for param in ('W', 'b'):
            a, b = getattr(src, param), getattr(dst, param)
            if a.shape != b.shape:
                raise ValueError('{}/{}: shape {} does not fit {}'.format(
                    name, param, a.shape, b.shape))
            b.array[...] = dst.xp.asarray(a.array)
    return target
