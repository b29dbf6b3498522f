"""What the interpretation methods need from a network, in one place for
every network they study.

The audiovisual network (Güçlütürk et al.) and Ventura et al.'s VGG-16
networks (:mod:`~deep_impression.models.dan`) differ in where their maps
are, how frames enter them and how their positions map to pixels; the
methods (class activation maps, face overlap, units, action units) ask
these functions instead of the network:

* :func:`spatial_layers` and :func:`unit_layer`: the layers units can be
  studied on, and the paper's default (res5b_relu; conv5_3 for VGG-16);
* :func:`extract`: those layers' maps for a batch of frames;
* :func:`cam_layer` and :func:`cam_units`: the maps that class activation
  maps weigh, and :func:`fc_weights` the weights (eq. (2));
* :func:`fields`: where each layer's positions lie in the frame.
"""

from deep_impression import _compat  # noqa: F401  (before chainer)

import chainer
import numpy

from deep_impression import inputs
from deep_impression.errors import InputError
from deep_impression.interpret.fields import ReceptiveField, receptive_fields
from deep_impression.models.audiovisual import CHANNELS, VISUAL

#: Spatial layers of the audiovisual network's visual stream, input to
#: output.
RESNET_LAYERS = ('conv1_relu', 'pool1', 'res2a_relu', 'res2b_relu',
                 'res3a_relu', 'res3b_relu', 'res4a_relu', 'res4b_relu',
                 'res5a_relu', 'res5b_relu')


def is_visual(model):
    """True for DAN+ / CAM-DAN+ (frames only, a VGG-16 backbone ``vgg``)."""
    return hasattr(model, 'vgg')


def spatial_layers(model):
    """The layers :func:`extract` can return, input to output."""
    if is_visual(model):
        from deep_impression.models.vgg import LAYERS
        return LAYERS
    return RESNET_LAYERS


def unit_layer(model):
    """The layer of the papers' unit studies: conv5_3 of VGG-16 (Ventura
    et al. §4.4-4.5), res5b_relu of the audiovisual network."""
    return 'conv5_3' if is_visual(model) else 'res5b_relu'


def check_layers(model, layers):
    """Raise :class:`InputError` naming any layer the model lacks."""
    known = spatial_layers(model)
    unknown = [name for name in layers if name not in known]
    if unknown:
        raise InputError('unknown layer(s) {}; choose from {}'.format(
            ', '.join(unknown), ', '.join(known)))


def extract(model, x, layers):
    """``{layer: Variable (N, U, h, w)}`` for ``x`` ``(N, 3, H, W)``
    float32 RGB 0-255 frames (DAN models resize and subtract their mean
    first)."""
    if is_visual(model):
        return model.vgg.extract(model.prepare(x), list(layers))
    return model.vis.extract(x, list(layers))


def cam_layer(model):
    """The layer whose units the fully connected layer weighs."""
    if is_visual(model):
        if not hasattr(model, 'cam_layer'):
            raise InputError('DAN+ has no class activation maps (its FC '
                             'layer weighs L2-normalised max and average '
                             'poolings); use --model cam-dan-plus, Ventura '
                             'et al.\'s CAM version')
        return model.cam_layer
    return 'res5b_relu'


def cam_units(model, x):
    """``(N, U, h, w)`` NumPy float64: the maps of :func:`cam_layer` for
    frames ``x`` (test mode, no gradients)."""
    layer = cam_layer(model)
    with chainer.using_config('train', False), \
            chainer.using_config('enable_backprop', False):
        y = extract(model, model.device.send(x), [layer])[layer]
    return numpy.asarray(chainer.backend.CpuDevice().send(y.array),
                         dtype=numpy.float64)


def fc_weights(model):
    """``(W_audio (5, A), W_visual (5, V), b (5,))`` float64 NumPy arrays
    of the fully connected layer (audio features first; ``A = 0`` for the
    networks that see frames only)."""
    W = numpy.asarray(chainer.backend.CpuDevice().send(model.fc.W.array),
                      dtype=numpy.float64)
    b = model.fc.b
    b = (numpy.zeros(W.shape[0]) if b is None else numpy.asarray(
        chainer.backend.CpuDevice().send(b.array), dtype=numpy.float64))
    n = 0 if is_visual(model) else CHANNELS[-1]
    return W[:, :n], W[:, n:], b


def vgg_fields(input_size, frame_size):
    """Receptive fields of VGG-16's layers in the pixels of frames of
    ``frame_size`` ``(H, W)`` resized to ``input_size`` squared (0: not
    resized): 3x3 convolutions of pad 1, 2x2 poolings of stride 2."""
    from deep_impression.models.vgg import LAYERS
    fields = {}
    size, jump, start = 1.0, 1.0, 0.0
    for name in LAYERS:
        k, s, p = (2, 2, 0) if name.startswith('pool') else (3, 1, 1)
        size += (k - 1) * jump
        start += ((k - 1) / 2 - p) * jump
        jump *= s
        scale = [(f / input_size if input_size else 1.0) for f in frame_size]
        # Input pixel centre c lies at (c + 0.5) * scale - 0.5 in the frame.
        fields[name] = ReceptiveField(
            tuple(size * r for r in scale), tuple(jump * r for r in scale),
            tuple((start + 0.5) * r - 0.5 for r in scale))
    return fields


def fields(model, frame_size):
    """``{layer: ReceptiveField}`` in frame pixels for frames of
    ``frame_size`` ``(H, W)``."""
    if is_visual(model):
        return vgg_fields(int(model.input_size), frame_size)
    return receptive_fields(VISUAL)


def frames_to_input(frames):
    """``(T, H, W, 3)`` uint8 -> ``(T, 3, H, W)`` float32 (checked)."""
    return inputs.frames_to_nchw(inputs.check_frames(frames))
