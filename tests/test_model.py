"""The network against the release's specification (ORIGINAL_RELEASE.md)."""

import chainer
import chainer.functions as F
import numpy
import pytest

import deep_impression
from deep_impression.models import audiovisual as model_module
from deep_impression.errors import InputError
from deep_impression.models.audiovisual import (AudiovisualNetwork,
                                                count_parameters)

import reference
from devices import every_device, on_device, to_cpu


@pytest.fixture(scope='module')
def release_file(tmp_path_factory):
    path = tmp_path_factory.mktemp('weights') / 'model'
    params = reference.random_release_weights(seed=3)
    reference.write_release_file(str(path), params)
    return str(path), params


@pytest.fixture(scope='module')
def net(release_file):
    return deep_impression.load_model(release_file[0])


def test_parameter_count_matches_release():
    assert count_parameters(AudiovisualNetwork()) == 5601989


def test_traits_order_is_release_fc_row_order():
    assert deep_impression.TRAITS == (
        'extraversion', 'agreeableness', 'conscientiousness', 'neuroticism',
        'openness')


@pytest.mark.parametrize('size,expected', [
    # conv1 /2, then cover_all pooling: 112 -> 57 (56 without cover_all),
    # then /2 at res3a, res4a, res5a.
    ((224, 224), {'conv1_relu': (112, 112), 'pool1': (57, 57),
                  'res3a_relu': (29, 29), 'res4a_relu': (15, 15),
                  'res5b_relu': (8, 8)}),
    # 256x456: cover_all turns 128x228 into 65x115 (64x114 without it).
    ((256, 456), {'conv1_relu': (128, 228), 'pool1': (65, 115),
                  'res3a_relu': (33, 58), 'res4a_relu': (17, 29),
                  'res5b_relu': (9, 15)}),
])
def test_visual_stream_sizes(size, expected):
    vis = AudiovisualNetwork().vis
    x = numpy.zeros((1, 3) + size, numpy.float32)
    with chainer.using_config('train', False):
        out = vis.extract(x, list(expected) + ['pool5'])
    for name, hw in expected.items():
        assert out[name].shape[2:] == hw, name
    assert out['pool5'].shape == (1, 256)


def test_auditory_stream_sizes_for_training_crop():
    aud = AudiovisualNetwork().aud
    x = numpy.zeros((2, 1, 1, 50176), numpy.float32)
    with chainer.using_config('train', False):
        out = aud.extract(x, ['conv1_relu', 'pool1', 'res3a_relu',
                              'res5b_relu', 'pool5'])
    # 50176 / 4 = 12544; cover_all pool -> 3137; /4 -> 785 -> 197 -> 50.
    assert out['conv1_relu'].shape == (2, 32, 1, 12544)
    assert out['pool1'].shape == (2, 32, 1, 3137)
    assert out['res3a_relu'].shape == (2, 64, 1, 785)
    assert out['res5b_relu'].shape == (2, 256, 1, 50)
    assert out['pool5'].shape == (2, 256)


def test_layers_pickable_by_name_and_unknown_rejected():
    vis = AudiovisualNetwork().vis
    assert vis.layer_names[0] == 'conv1_relu'
    assert vis.layer_names[-1] == 'pool5'
    with pytest.raises(ValueError, match='res9z'):
        vis.extract(numpy.zeros((1, 3, 32, 32), 'f'), ['res9z'])


def test_batch_norm_uses_chainer_defaults():
    bn = AudiovisualNetwork().vis.res2a_relu.bn_branch2a
    assert bn.eps == 2e-5 and bn.decay == 0.9


def test_every_convolution_and_fc_has_bias():
    net = AudiovisualNetwork()
    for name, link in net.namedlinks():
        if isinstance(link, (chainer.links.Convolution2D,
                             chainer.links.Linear)):
            assert link.b is not None, name


def test_he_normal_initialisation():
    # He normal: std = sqrt(2 / fan_in); checked on the largest kernel.
    W = AudiovisualNetwork().vis.res5b_relu.res_branch2b.W.array
    fan_in = 256 * 3 * 3
    assert abs(W.std() / numpy.sqrt(2.0 / fan_in) - 1) < 0.02
    assert abs(W.mean()) < 1e-3


@every_device
def test_predict_equals_independent_numpy_reference(release_file, net,
                                                    device):
    _, params = release_file
    rng = numpy.random.RandomState(0)
    audio = rng.uniform(-0.8, 0.8, 5000).astype(numpy.float32)
    frames = rng.randint(0, 256, (3, 64, 96, 3)).astype(numpy.uint8)
    got = on_device(net, device).predict(audio, frames)
    want = reference.predict(params, audio, frames)
    assert got.shape == (5,) and got.dtype == numpy.float32
    numpy.testing.assert_allclose(got, want, atol=1e-5)
    assert numpy.ptp(want) > 0.05  # not saturated: the check has teeth


@every_device
def test_predict_equals_reference_on_release_frame_size(release_file, net,
                                                        device):
    # 256x456 is where cover_all pooling changes the geometry.
    _, params = release_file
    rng = numpy.random.RandomState(1)
    audio = rng.uniform(-0.8, 0.8, 16000).astype(numpy.float32)
    frames = rng.randint(0, 256, (1, 256, 456, 3)).astype(numpy.uint8)
    net = on_device(net, device)
    numpy.testing.assert_allclose(net.predict(audio, frames),
                                  reference.predict(params, audio, frames),
                                  atol=1e-5)


@every_device
def test_streamed_chunks_equal_one_pass(net, device):
    net = on_device(net, device)
    rng = numpy.random.RandomState(2)
    audio = rng.uniform(-1, 1, 4000).astype(numpy.float32)
    frames = rng.randint(0, 256, (7, 48, 64, 3)).astype(numpy.uint8)
    whole = net.predict(audio, frames)
    chunks = net.predict(audio, (frames[i:i + 3] for i in range(0, 7, 3)))
    numpy.testing.assert_allclose(chunks, whole, atol=1e-6)


def test_frames_mean_over_release_chunks_of_256(net, monkeypatch):
    # More frames than one chunk: the mean is over all frames, not chunks.
    monkeypatch.setattr(model_module, 'FRAME_CHUNK', 2)
    rng = numpy.random.RandomState(4)
    audio = rng.uniform(-1, 1, 3000).astype(numpy.float32)
    frames = rng.randint(0, 256, (5, 40, 40, 3)).astype(numpy.uint8)
    _, v = net.clip_features(audio, frames)
    with chainer.using_config('train', False):
        per_frame = net.vis(frames.transpose(0, 3, 1, 2).astype('f')).array
    numpy.testing.assert_allclose(v, per_frame.mean(axis=0), rtol=1e-5,
                                  atol=1e-6)


@pytest.mark.parametrize('audio,frames,message', [
    (numpy.zeros(100, numpy.float64), numpy.zeros((1, 64, 64, 3), 'u1'),
     'float32'),
    (numpy.zeros((2, 100), 'f'), numpy.zeros((1, 64, 64, 3), 'u1'), '1-D'),
    (numpy.zeros(0, 'f'), numpy.zeros((1, 64, 64, 3), 'u1'), 'no samples'),
    (numpy.full(100, numpy.nan, 'f'), numpy.zeros((1, 64, 64, 3), 'u1'),
     'NaN'),
    (numpy.zeros(100, 'f'), numpy.zeros((1, 64, 64, 3), 'f'), 'uint8'),
    (numpy.zeros(100, 'f'), numpy.zeros((64, 64, 3), 'u1'), 'shape'),
    (numpy.zeros(100, 'f'), numpy.zeros((1, 64, 64, 4), 'u1'), 'shape'),
    (numpy.zeros(100, 'f'), numpy.zeros((0, 64, 64, 3), 'u1'), 'no frame'),
])
def test_predict_rejects_bad_arrays(net, audio, frames, message):
    with pytest.raises(InputError, match=message):
        net.predict(audio, frames)


@every_device
def test_one_training_step_lowers_error_and_moves_both_streams(device):
    numpy.random.seed(0)
    net = on_device(AudiovisualNetwork(), device)
    rng = numpy.random.RandomState(0)
    audio, frames, target = (net.device.send(a) for a in (
        rng.uniform(-0.5, 0.5, (4, 1, 1, 4096)).astype('f'),
        rng.uniform(0, 255, (4, 3, 64, 64)).astype('f'),
        rng.uniform(0.2, 0.8, (4, 5)).astype('f')))
    # Adam's first step moves every one of the 5.6M parameters by about
    # alpha at once; a small alpha keeps the step inside the region where
    # the gradient's first-order promise (lower loss) holds.
    optimizer = chainer.optimizers.Adam(alpha=5e-6, beta1=0.5)
    optimizer.setup(net)
    before = {k: to_cpu(p.array).copy() for k, p in net.namedparams()}

    def loss():
        return F.mean_absolute_error(net(audio, frames), target)

    first = loss()
    net.cleargrads()
    first.backward()
    optimizer.update()
    second = loss()
    assert float(second.array) < float(first.array)
    for stream in ('/aud/conv1_relu/conv/W', '/vis/conv1_relu/conv/W',
                   '/aud/res5b_relu/res_branch2b/W',
                   '/vis/res5b_relu/res_branch2b/W', '/fc/W'):
        assert not numpy.array_equal(
            before[stream], to_cpu(dict(net.namedparams())[stream].array))


def test_frame_batch_changes_memory_not_results(net):
    rng = numpy.random.RandomState(6)
    audio = rng.uniform(-1, 1, 3000).astype(numpy.float32)
    frames = rng.randint(0, 256, (5, 40, 48, 3)).astype(numpy.uint8)
    _, one = net.clip_features(audio, frames, frame_batch=1)
    _, all_ = net.clip_features(audio, frames, frame_batch=5)
    numpy.testing.assert_allclose(one, all_, rtol=1e-6, atol=1e-6)
