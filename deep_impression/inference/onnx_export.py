"""ONNX export of the audiovisual network, built from its Chainer parameters.

Chainer's bundled ``onnx_chainer`` needs onnx < 1.7, so the graph is written
here directly with :mod:`onnx.helper`, layer by layer, from the same
:class:`~deep_impression.AudiovisualNetwork` parameters.

One ONNX model holds three independent parts, each with its own named inputs
and outputs, so that frames can run in batches of any size and the mean over
a clip's frames (which the release takes over chunks of 256 frames) stays
outside the graph:

=================  ======================================  ==================
part               input(s)                                output
=================  ======================================  ==================
auditory stream    ``audio`` ``(B, 1, 1, n)``              ``audio_features``
                   16 kHz samples in [-1, 1]               ``(B, 256)``
visual stream      ``frames`` ``(N, 3, H, W)``             ``frame_features``
                   RGB, float32 0-255                      ``(N, 256)``
fusion             ``clip_audio_features`` ``(B, 256)``,   ``traits``
                   ``clip_visual_features`` ``(B, 256)``   ``(B, 5)``
=================  ======================================  ==================

``B``, ``n``, ``N``, ``H`` and ``W`` are free dimensions. :func:`submodel`
cuts one part out (ONNX Runtime wants every graph input fed).

Test-mode batch normalisation (``gamma * (x - avg_mean) / sqrt(avg_var +
eps) + beta``, Chainer's eps 2e-5) is folded into the preceding convolution.
Chainer's ``cover_all=True`` max pooling becomes an ONNX ``MaxPool`` whose
end pad is ``pad + stride - 1``: its output size ``(in + 2 pad - k + s - 1)
// s + 1`` is Chainer's, and ONNX, like Chainer, never takes a pad value as
a maximum (Chainer pads with -inf).
"""

import os

from deep_impression import _compat  # noqa: F401  (before chainer)

import numpy
import onnx
from onnx import TensorProto, helper, numpy_helper

from deep_impression import fileio
from deep_impression.constants import TRAITS
from deep_impression.errors import DeepImpressionError

#: ONNX operator set of the exported graph (every operator used here is
#: unchanged since opset 13).
OPSET = 17

#: Graph input and output names of the three parts.
AUDIO = 'audio'
AUDIO_FEATURES = 'audio_features'
FRAMES = 'frames'
FRAME_FEATURES = 'frame_features'
CLIP_AUDIO_FEATURES = 'clip_audio_features'
CLIP_VISUAL_FEATURES = 'clip_visual_features'
TRAITS_OUTPUT = 'traits'

#: ``part name -> (inputs, outputs)``.
PARTS = {
    'auditory_stream': ((AUDIO,), (AUDIO_FEATURES,)),
    'visual_stream': ((FRAMES,), (FRAME_FEATURES,)),
    'fusion': ((CLIP_AUDIO_FEATURES, CLIP_VISUAL_FEATURES),
               (TRAITS_OUTPUT,)),
}


def fold_batch_normalization(conv, bn):
    """Weights and bias of ``bn(conv(x))`` as a single convolution.

    Args:
        conv: a ``chainer.links.Convolution2D`` (``W`` ``(O, C, kh, kw)``,
            ``b`` ``(O,)``).
        bn: the ``chainer.links.BatchNormalization`` after it, in test mode
            (stored ``avg_mean``, ``avg_var``; its ``eps``).

    Returns:
        ``(W, b)`` float32 arrays with ``W`` scaled per output channel by
        ``gamma / sqrt(avg_var + eps)`` and ``b = (b - avg_mean) * scale +
        beta``, computed in float64.
    """
    W = _numpy(conv.W.array).astype(numpy.float64)
    b = _numpy(conv.b.array).astype(numpy.float64)
    gamma = _numpy(bn.gamma.array).astype(numpy.float64)
    beta = _numpy(bn.beta.array).astype(numpy.float64)
    mean = _numpy(bn.avg_mean).astype(numpy.float64)
    var = _numpy(bn.avg_var).astype(numpy.float64)
    scale = gamma / numpy.sqrt(var + bn.eps)
    return ((W * scale[:, None, None, None]).astype(numpy.float32),
            ((b - mean) * scale + beta).astype(numpy.float32))


def _numpy(array):
    import chainer
    return numpy.asarray(chainer.backend.CpuDevice().send(array))


class _GraphBuilder(object):
    """Collects nodes and initializers; names tensors after Chainer's keys."""

    def __init__(self):
        self.nodes = []
        self.initializers = []

    def constant(self, name, array):
        self.initializers.append(numpy_helper.from_array(
            numpy.ascontiguousarray(array), name))
        return name

    def node(self, op, inputs, output, **attrs):
        self.nodes.append(helper.make_node(op, list(inputs), [output],
                                           name=output, **attrs))
        return output

    def conv_bn(self, x, conv, bn, name, geometry):
        """Convolution with its batch normalisation folded in."""
        (kh, kw), (sh, sw), (ph, pw) = geometry
        W, b = fold_batch_normalization(conv, bn)
        return self.node('Conv', [x, self.constant(name + '/W', W),
                                  self.constant(name + '/b', b)],
                         name, kernel_shape=[kh, kw], strides=[sh, sw],
                         pads=[ph, pw, ph, pw])

    def max_pool_cover_all(self, x, name, geometry):
        """Chainer's ``max_pooling_2d(..., cover_all=True)``."""
        (kh, kw), (sh, sw), (ph, pw) = geometry
        return self.node('MaxPool', [x], name, kernel_shape=[kh, kw],
                         strides=[sh, sw],
                         pads=[ph, pw, ph + sh - 1, pw + sw - 1],
                         ceil_mode=0)


def _stream(builder, stream, prefix, x, output):
    """Nodes of one :class:`~deep_impression.models.streams.Stream` from
    ``x``."""
    from deep_impression.models.streams import BLOCKS
    g = stream.geometry
    c1 = stream.conv1_relu
    h = builder.conv_bn(x, c1.conv, c1.bn_conv, prefix + '/conv1_relu/conv',
                        g.conv1)
    h = builder.node('Relu', [h], prefix + '/conv1_relu')
    h = builder.max_pool_cover_all(h, prefix + '/pool1', g.pool1)
    for name, _, down in BLOCKS:
        block = getattr(stream, name + '_relu')
        base = '{}/{}_relu'.format(prefix, name)
        r = builder.conv_bn(h, block.res_branch2a, block.bn_branch2a,
                            base + '/res_branch2a',
                            g.down if down else g.block)
        r = builder.node('Relu', [r], base + '/relu_branch2a')
        r = builder.conv_bn(r, block.res_branch2b, block.bn_branch2b,
                            base + '/res_branch2b', g.block)
        if down:
            shortcut = builder.conv_bn(h, block.res_branch1, block.bn_branch1,
                                       base + '/res_branch1', g.shortcut)
        else:
            shortcut = h
        r = builder.node('Add', [r, shortcut], base + '/add')
        h = builder.node('Relu', [r], base)
    # pool5: global average over all remaining positions -> (N, 256).
    h = builder.node('GlobalAveragePool', [h], prefix + '/pool5_map')
    return builder.node('Flatten', [h], output, axis=1)


def _fusion(builder, fc):
    """Concat (audio first), FC, tanh, ``(y + 1) / 2``."""
    h = builder.node('Concat', [CLIP_AUDIO_FEATURES, CLIP_VISUAL_FEATURES],
                     'fc/input', axis=1)
    h = builder.node('Gemm', [h, builder.constant('fc/W', _numpy(fc.W.array)),
                              builder.constant('fc/b', _numpy(fc.b.array))],
                     'fc', transB=1)
    h = builder.node('Tanh', [h], 'fc/tanh')
    one = builder.constant('one', numpy.ones((), numpy.float32))
    half = builder.constant('half', numpy.full((), 0.5, numpy.float32))
    h = builder.node('Add', [h, one], 'fc/tanh_plus_one')
    return builder.node('Mul', [h, half], TRAITS_OUTPUT)


def _value(name, dims):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(dims))


def export(model):
    """The network as one ONNX model with three parts (module docstring).

    Args:
        model: an :class:`~deep_impression.AudiovisualNetwork` (any
            device; batch normalisation is exported in test mode).

    Returns:
        ``onnx.ModelProto``, checked with ``onnx.checker``.
    """
    b = _GraphBuilder()
    _stream(b, model.aud, 'aud', AUDIO, AUDIO_FEATURES)
    _stream(b, model.vis, 'vis', FRAMES, FRAME_FEATURES)
    _fusion(b, model.fc)
    features = model.fc.W.shape[1] // 2
    graph = helper.make_graph(
        b.nodes, 'deep_impression',
        inputs=[_value(AUDIO, ('audio_batch', 1, 1, 'samples')),
                _value(FRAMES, ('frames', 3, 'height', 'width')),
                _value(CLIP_AUDIO_FEATURES, ('clips', features)),
                _value(CLIP_VISUAL_FEATURES, ('clips', features))],
        outputs=[_value(AUDIO_FEATURES, ('audio_batch', features)),
                 _value(FRAME_FEATURES, ('frames', features)),
                 _value(TRAITS_OUTPUT, ('clips', len(TRAITS)))],
        initializer=b.initializers)
    onnx_model = helper.make_model(
        graph, producer_name='deep-impression',
        opset_imports=[helper.make_opsetid('', OPSET)],
        doc_string='Deep Impression (Güçlütürk et al. 2016) '
                   'audiovisual network; traits in order ' + ', '.join(TRAITS))
    # ONNX Runtime 1.2x reads IR version 9 and older.
    onnx_model.ir_version = min(onnx_model.ir_version, 9)
    helper.set_model_props(onnx_model, {'traits': ','.join(TRAITS)})
    onnx.checker.check_model(onnx_model)
    return onnx_model


def submodel(onnx_model, part):
    """One part of an exported model as a model of its own.

    Args:
        onnx_model: a ``ModelProto`` from :func:`export` (or its file).
        part: ``'auditory_stream'``, ``'visual_stream'`` or ``'fusion'``.

    Returns:
        ``onnx.ModelProto`` with only the nodes, initializers, inputs and
        outputs that ``part``'s outputs need.
    """
    inputs, outputs = PARTS[part]
    graph = onnx_model.graph
    producer = {out: node for node in graph.node for out in node.output}
    needed_nodes, needed_tensors = {}, set()
    stack = list(outputs)
    while stack:
        name = stack.pop()
        if name in needed_tensors:
            continue
        needed_tensors.add(name)
        node = producer.get(name)
        if node is not None:
            needed_nodes[node.name] = node
            stack.extend(node.input)
    # Keep the exported (topological) order.
    nodes = [n for n in graph.node if n.name in needed_nodes]
    sub = helper.make_graph(
        nodes, graph.name + '_' + part,
        inputs=[v for v in graph.input if v.name in inputs],
        outputs=[v for v in graph.output if v.name in outputs],
        initializer=[t for t in graph.initializer if t.name in needed_tensors])
    model = helper.make_model(sub, producer_name=onnx_model.producer_name,
                              opset_imports=list(onnx_model.opset_import))
    model.ir_version = onnx_model.ir_version
    return model


def save(onnx_model, path):
    """Write ``onnx_model`` to ``path`` atomically (temp name + rename)."""
    path = os.fspath(path)
    try:
        with fileio.atomic_path(path) as tmp:
            onnx.save_model(onnx_model, tmp)
    except OSError as e:
        raise DeepImpressionError('{}: cannot write ({})'.format(
            path, e.strerror or e)) from None
    return path


def export_file(weights, out):
    """Export a release-format weight file to an ONNX file at ``out``.

    Raises:
        WeightsError: ``weights`` is missing or does not fit the network.
    """
    from deep_impression.models.weights import load_model
    return save(export(load_model(weights)), out)
