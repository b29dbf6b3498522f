"""DAN+ and CAM-DAN+ (Ventura et al. 2017, §3; Zhang et al. 2016): the
VGG-16 backbone against Chainer's own, the heads against NumPy, loading a
pretrained backbone from a Caffe model, and the class activation maps of
eq. (1)-(2) against the model's own output. Tiny inputs: about 15 s."""

import numpy
import pytest

from deep_impression import _compat  # noqa: F401  (before chainer)

import chainer

from deep_impression.errors import WeightsError
from deep_impression.models import backbones, dan, get_architecture, vgg

RNG = numpy.random.RandomState(0)


def frames_nchw(n=2, size=32):
    return RNG.uniform(0, 255, (n, 3, size, size)).astype(numpy.float32)


@pytest.fixture(scope='module')
def vgg16layers():
    """Chainer's own VGG-16 (``pretrained_model=None``), its convolutions
    random (He scale). Built once, with zeros instead of its normal
    initialiser: drawing fc6's 103 million weights takes seconds."""
    from unittest import mock
    from chainer.links.model.vision import vgg as chainer_vgg
    with mock.patch.object(chainer_vgg.normal, 'Normal',
                           lambda scale: chainer.initializers.Zero()):
        model = chainer.links.VGG16Layers(pretrained_model=None)
    rng = numpy.random.default_rng(4)
    for name in vgg.CONVOLUTIONS:
        W = getattr(model, name).W
        W.array[...] = rng.standard_normal(W.shape) * numpy.sqrt(
            2.0 / (9 * W.shape[1]))
    return model


def test_backbone_names_and_shapes_are_those_of_vgg16layers(vgg16layers):
    ours = vgg.VGG16Backbone()
    theirs = vgg16layers
    ours_params = dict(ours.namedparams())
    theirs_params = {k: v for k, v in theirs.namedparams()
                     if not k.startswith('/fc')}
    assert sorted(ours_params) == sorted(theirs_params)
    for key, p in ours_params.items():
        assert p.shape == theirs_params[key].shape, key


def test_backbone_computes_what_vgg16layers_computes(vgg16layers):
    theirs = vgg16layers
    ours = vgg.copy_backbone(theirs, vgg.VGG16Backbone())
    x = frames_nchw(1, 48)
    with chainer.using_config('train', False):
        # forward, not extract: extract first resizes to 224x224.
        want = theirs.forward(x, layers=['conv5_2', 'pool5'])
        got = ours.extract(x, ['conv5_2', 'pool5'])
    for name in ('conv5_2', 'pool5'):
        w = want[name].array
        assert got[name].shape == w.shape
        numpy.testing.assert_allclose(got[name].array, w, rtol=1e-4,
                                      atol=1e-4 * abs(w).max())


def test_width_divides_channels():
    b = vgg.VGG16Backbone(width=8)
    assert b.conv1_1.W.shape == (8, 3, 3, 3)
    assert b.conv5_3.W.shape == (64, 64, 3, 3)
    assert b(frames_nchw(1, 32)).shape == (1, 64, 1, 1)
    with pytest.raises(ValueError):
        vgg.VGG16Backbone(width=3)


def _numpy_features(model, x, layers):
    with chainer.using_config('train', False):
        picked = model.vgg.extract(model.prepare(x), layers)
    return {k: v.array.astype(numpy.float64) for k, v in picked.items()}


def test_dan_plus_head_against_numpy():
    model = dan.DANPlus(width=8, input_size=0)
    x = frames_nchw(3, 64)                       # relu5_2 4x4, pool5 2x2
    f = _numpy_features(model, x, ['conv5_2', 'pool5'])
    r52, p5 = f['conv5_2'], f['pool5']

    def norm(v):
        return v / numpy.sqrt((v * v).sum(axis=1, keepdims=True))
    parts = [p5.max(axis=(2, 3)), p5.mean(axis=(2, 3)),
             r52.mean(axis=(2, 3)), r52.max(axis=(2, 3))]
    h = numpy.concatenate([norm(p) for p in parts], axis=1)
    assert h.shape == (3, 4 * 64)
    W, b = model.fc.W.array, model.fc.b.array
    want = 1 / (1 + numpy.exp(-(h @ W.T + b)))
    with chainer.using_config('train', False):
        got = model(None, x).array
    numpy.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    assert ((got > 0) & (got < 1)).all()


def test_cam_dan_plus_head_is_gap_and_fc():
    model = dan.CAMDANPlus(width=8, input_size=0)
    x = frames_nchw(2, 64)
    maps = _numpy_features(model, x, ['conv5_3'])['conv5_3']
    assert maps.shape == (2, 64, 4, 4)           # 64 px / 16 = 4x4
    W, b = model.fc.W.array, model.fc.b.array
    want = 1 / (1 + numpy.exp(-(maps.mean(axis=(2, 3)) @ W.T + b)))
    with chainer.using_config('train', False):
        got = model(None, x).array
    numpy.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_full_size_cam_layer_is_14x14_on_224_faces():
    # Ventura et al. §4.4: conv5_3 of VGG-Face on 224x224 faces is 14x14.
    model = dan.CAMDANPlus(width=16)
    with chainer.using_config('train', False):
        maps = model.maps(frames_nchw(1, 224))
    assert maps.shape == (1, 32, 14, 14)


def test_registered_by_name():
    assert get_architecture('dan-plus') is dan.DANPlus
    assert get_architecture('cam-dan-plus') is dan.CAMDANPlus


def test_whole_clip_prediction_is_sigmoid_of_mean_logit():
    model = dan.CAMDANPlus(width=16, input_size=0)
    frames = RNG.randint(0, 256, (5, 48, 48, 3)).astype(numpy.uint8)
    got = model.predict(numpy.zeros(16000, numpy.float32), frames)
    x = frames.transpose(0, 3, 1, 2).astype(numpy.float32)
    with chainer.using_config('train', False):
        logits = model.logits(x).array.astype(numpy.float64)
    want = 1 / (1 + numpy.exp(-logits.mean(axis=0)))
    numpy.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_set_mean_is_the_frames_mean_colour():
    model = dan.DANPlus(width=16)
    frames = RNG.randint(0, 256, (4, 8, 8, 3)).astype(numpy.uint8)
    dan.set_mean(model, [frames[:2], frames[2:]])
    numpy.testing.assert_allclose(
        model.mean, frames.reshape(-1, 3).mean(axis=0), rtol=1e-6)


# -- pretrained backbones -------------------------------------------------

# Written in a child process: Chainer's caffe_pb2 needs protobuf's
# pure-Python implementation, chosen before protobuf's first import.
_WRITE_CAFFEMODEL = """
import sys, numpy
from deep_impression import _compat  # before chainer
from chainer.links.caffe.protobuf3 import caffe_pb2
arrays = numpy.load(sys.argv[1])
net = caffe_pb2.NetParameter()
net.name = 'random VGG-16'
for name in sys.argv[3:]:
    layer = net.layer.add()
    layer.name = name
    W = arrays[name + '/W']
    if name.startswith('conv'):
        layer.type = 'Convolution'
        p = layer.convolution_param
        p.num_output = W.shape[0]
        p.kernel_size.append(3)
        p.pad.append(1)
        p.stride.append(1)
    else:
        layer.type = 'InnerProduct'
        layer.inner_product_param.num_output = W.shape[0]
    for array in (W, arrays[name + '/b']):
        blob = layer.blobs.add()
        blob.shape.dim.extend(array.shape)
        blob.data.extend(array.ravel().tolist())
with open(sys.argv[2], 'wb') as f:
    f.write(net.SerializeToString())
"""


def random_weights(width, rng):
    """``{name: (W, b)}``: VGG-16's convolutions (channels / width, He
    scale) and an fc6, random."""
    weights, channels = {}, 3
    for group, out, n in vgg.GROUPS:
        for k in range(1, n + 1):
            out_c = out // width
            W = rng.standard_normal((out_c, channels, 3, 3)).astype('f4')
            W *= numpy.float32(numpy.sqrt(2.0 / (9 * channels)))
            b = (rng.standard_normal(out_c) * 0.1).astype('f4')
            weights['conv{}_{}'.format(group, k)] = (W, b)
            channels = out_c
    weights['fc6'] = (numpy.zeros((4, channels), 'f4'),
                      numpy.zeros(4, 'f4'))
    return weights


def write_caffemodel(path, width, rng):
    """A caffemodel of :func:`random_weights`, written with the protobuf
    definitions Chainer ships; returns the weights."""
    import os
    import sys
    from tests.processes import run_bounded
    weights = random_weights(width, rng)
    arrays = path + '.arrays.npz'
    numpy.savez(arrays, **{'{}/{}'.format(n, p): a
                           for n, (W, b) in weights.items()
                           for p, a in (('W', W), ('b', b))})
    env = dict(os.environ, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION='python')
    rc, out, _ = run_bounded([sys.executable, '-c', _WRITE_CAFFEMODEL,
                              arrays, path] + list(weights), 60,
                             'writing a caffemodel', env=env)
    assert rc == 0, out.decode()
    return weights


def conv3x3_relu(x, W, b):
    """Direct NumPy 3x3 convolution (pad 1, stride 1) and ReLU:
    ``(N, C, H, W)`` by ``(O, C, 3, 3)``."""
    n, c, h, w = x.shape
    padded = numpy.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    y = numpy.zeros((n, W.shape[0], h, w))
    for dy in range(3):
        for dx in range(3):
            patch = padded[:, :, dy:dy + h, dx:dx + w]
            y += numpy.einsum('nchw,oc->nohw', patch, W[:, :, dy, dx])
    return numpy.maximum(y + b[None, :, None, None], 0)


@pytest.fixture(scope='module')
def caffemodel(tmp_path_factory):
    """``(path, weights)`` of a random width-8 VGG-16 caffemodel."""
    path = str(tmp_path_factory.mktemp('caffe') / 'random_vgg16.caffemodel')
    return path, write_caffemodel(path, 8, numpy.random.default_rng(1))


def test_caffemodel_backbone_loads_and_takes_rgb(caffemodel):
    path, weights = caffemodel
    model = backbones.load_backbone(dan.CAMDANPlus(width=8), path)
    # Every layer as written, conv1_1's input channels reversed (BGR).
    for name, (W, b) in weights.items():
        if name == 'fc6':
            continue
        want = W[:, ::-1] if name == 'conv1_1' else W
        numpy.testing.assert_array_equal(getattr(model.vgg, name).W.array,
                                         want)
        numpy.testing.assert_array_equal(getattr(model.vgg, name).b.array, b)
    # The first layers on an RGB image equal Caffe's on the BGR image.
    rgb = frames_nchw(1, 12).astype(numpy.float64)
    bgr = rgb[:, ::-1]
    h = conv3x3_relu(bgr, *weights['conv1_1'])
    h = conv3x3_relu(h, *weights['conv1_2'])
    with chainer.using_config('train', False):
        got = model.vgg.extract(rgb.astype(numpy.float32), ['conv1_2'])
    numpy.testing.assert_allclose(got['conv1_2'].array, h, rtol=1e-4,
                                  atol=1e-3)


def test_vgg16layers_npz_backbone_loads(tmp_path):
    # The keys VGG16Layers.convert_caffemodel_to_npz writes ('conv1_1/W',
    # ..., and fc6-fc8, dropped), at a small width.
    weights = random_weights(8, numpy.random.default_rng(3))
    arrays = {'{}/{}'.format(n, p): a for n, (W, b) in weights.items()
              for p, a in (('W', W), ('b', b))}
    path = str(tmp_path / 'vgg16.npz')
    numpy.savez(path, **arrays)
    ours = backbones.load_backbone(vgg.VGG16Backbone(width=8), path)
    numpy.testing.assert_array_equal(ours.conv1_1.W.array,
                                     weights['conv1_1'][0][:, ::-1])
    numpy.testing.assert_array_equal(ours.conv5_3.W.array,
                                     weights['conv5_3'][0])


def test_backbone_errors_name_the_file(tmp_path):
    weights = random_weights(8, numpy.random.default_rng(2))
    path = str(tmp_path / 'width8.npz')
    numpy.savez(path, **{'{}/{}'.format(n, p): a
                         for n, (W, b) in weights.items()
                         for p, a in (('W', W), ('b', b))})
    with pytest.raises(WeightsError, match='width8.npz.*conv1_1/W.*'
                       'width 16'):
        backbones.load_backbone(vgg.VGG16Backbone(width=16), path)
    junk = tmp_path / 'junk.caffemodel'
    junk.write_bytes(b'\xff\x00 not a model')
    with pytest.raises(WeightsError, match='junk.caffemodel'):
        backbones.load_backbone(vgg.VGG16Backbone(width=8), str(junk))
    with pytest.raises(WeightsError, match='no such'):
        backbones.load_backbone(vgg.VGG16Backbone(width=8),
                                str(tmp_path / 'absent.caffemodel'))


def test_frames_are_resized_to_input_size_and_mean_subtracted():
    model = dan.CAMDANPlus(width=16, input_size=32)
    import cv2
    x = frames_nchw(1, 20)[:, :, :, :15]
    got = model.prepare(x)
    resized = cv2.resize(x[0].transpose(1, 2, 0), (32, 32),
                         interpolation=cv2.INTER_LINEAR)
    want = resized.transpose(2, 0, 1)[None] - \
        numpy.asarray(dan.VGG_FACE_MEAN, numpy.float32).reshape(1, 3, 1, 1)
    assert got.shape == (1, 3, 32, 32)
    numpy.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)


def test_weight_file_round_trip_keeps_width_mean_and_input_size(tmp_path):
    from deep_impression.models import weights
    model = dan.CAMDANPlus(width=16, input_size=48)
    model.mean[...] = (1.0, 2.0, 3.0)
    path = str(tmp_path / 'model')
    weights.save_weights(model, path)
    loaded = weights.load('cam-dan-plus', path)
    assert loaded.width == 16 and int(loaded.input_size) == 48
    numpy.testing.assert_array_equal(loaded.mean, [1, 2, 3])
    numpy.testing.assert_array_equal(loaded.fc.W.array, model.fc.W.array)
    with pytest.raises(WeightsError, match='not a DAN'):
        other = str(tmp_path / 'other.npz')
        numpy.savez(other, x=numpy.zeros(1))
        weights.load('dan-plus', other)
