"""Class activation maps (Ventura et al. 2017, §3.1) of the network."""

import json
import os
import sys

import chainer
import numpy
import pytest

from deep_impression import _compat  # noqa: F401
from deep_impression.cli import main
from deep_impression.constants import TRAITS
from deep_impression.inputs import even_indices
from deep_impression.interpret import cam as cam_module
from deep_impression.interpret.fields import receptive_fields
from deep_impression.models.audiovisual import AudiovisualNetwork, VISUAL
from deep_impression.models.weights import save_weights

sys.path.insert(0, os.path.dirname(__file__))
from clips import make_clip  # noqa: E402
from devices import every_device, on_device  # noqa: E402


@pytest.fixture(scope='module')
def net():
    numpy.random.seed(7)
    model = AudiovisualNetwork()
    # Non-zero biases and BN statistics so the identities are not trivial.
    rng = numpy.random.RandomState(1)
    for link in model.links():
        if isinstance(link, chainer.links.BatchNormalization):
            link.avg_mean[...] = rng.uniform(-0.1, 0.1, link.avg_mean.shape)
            link.avg_var[...] = rng.uniform(0.5, 2, link.avg_var.shape)
    model.fc.b.array[...] = rng.uniform(-0.5, 0.5, 5)
    # Small FC weights keep the traits away from tanh's flat ends.
    model.fc.W.array *= 0.01
    return model


@pytest.fixture(scope='module')
def weights(net, tmp_path_factory):
    path = str(tmp_path_factory.mktemp('cam') / 'model')
    save_weights(net, path)
    return path


@pytest.fixture(scope='module')
def frames():
    rng = numpy.random.RandomState(0)
    return rng.randint(0, 256, (3, 64, 96, 3)).astype(numpy.uint8)


@every_device
def test_visual_map_mean_is_visual_part_of_pre_tanh_value(net, frames,
                                                          device):
    cams, features = cam_module.visual_maps(on_device(net, device), frames,
                                            batch=2)
    assert cams.shape == (3, 5, 3, 4)  # cover_all pool1: 64x96 -> 3x4
    # Independently: pooled features from the plain forward pass and the FC
    # weights read from the link, in float64 NumPy.
    with chainer.using_config('train', False):
        x = frames.transpose(0, 3, 1, 2).astype(numpy.float32)
        pool5 = net.vis(x).array.astype(numpy.float64)
    W = net.fc.W.array.astype(numpy.float64)
    expected = pool5 @ W[:, 256:].T
    # float32 results (batches of 2 against one batch of 3, so BLAS sums in
    # another order) against float64: errors scale with the largest
    # magnitude in the computation (features reach ~3000 here), so the
    # tolerance is a few float32 epsilons of that scale.
    numpy.testing.assert_allclose(cams.mean(axis=(2, 3)), expected,
                                  atol=1e-6 * abs(expected).max(), rtol=0)
    numpy.testing.assert_allclose(features, pool5,
                                  atol=1e-6 * abs(pool5).max(), rtol=0)


@every_device
def test_maps_add_up_to_the_prediction(net, frames, device):
    audio = numpy.sin(numpy.arange(20000) / 7.0).astype(numpy.float32) * 0.3
    moved = on_device(net, device)
    amap = cam_module.audio_map(moved, audio)
    cams, _ = cam_module.visual_maps(moved, frames)
    traits = moved.predict(audio, frames)
    b = net.fc.b.array.astype(numpy.float64)
    pre_tanh = (amap.cam.mean(axis=1) + cams.mean(axis=(2, 3)).mean(axis=0)
                + b)
    numpy.testing.assert_allclose((numpy.tanh(pre_tanh) + 1) / 2, traits,
                                  atol=1e-5)
    # Audio map positions are centred at multiples of the stream's jump.
    assert amap.cam.shape[0] == 5
    assert numpy.allclose(numpy.diff(amap.times), 1024 / 16000)


@every_device
def test_frame_predictions_fuse_one_frame_with_clip_audio(net, frames,
                                                          device):
    a = numpy.random.RandomState(2).rand(256).astype(numpy.float32)
    moved = on_device(net, device)
    _, v = cam_module.visual_maps(moved, frames)
    got = cam_module.frame_predictions(moved, a, v)
    W = net.fc.W.array.astype(numpy.float64)
    b = net.fc.b.array.astype(numpy.float64)
    expected = (numpy.tanh(a @ W[:, :256].T + v @ W[:, 256:].T + b) + 1) / 2
    numpy.testing.assert_allclose(got, expected, atol=1e-5)


def test_receptive_fields_hold_in_the_network():
    """A pixel outside a res2a position's receptive field leaves it alone;
    the field's edge pixel does not."""
    field = receptive_fields(VISUAL)['res2a_relu']
    assert field.size == (27, 27) and field.jump == (4, 4)
    model = AudiovisualNetwork()
    rng = numpy.random.RandomState(3)
    x = rng.uniform(0, 255, (1, 3, 80, 80)).astype(numpy.float32)
    y, xo = 8, 8                               # centre at pixel (32, 32)
    half = (field.size[0] - 1) // 2

    def response(img):
        with chainer.using_config('train', False):
            return model.vis.extract(img, ['res2a_relu'])['res2a_relu'] \
                .array[0, :, y, xo]
    base = response(x)
    outside, edge = x.copy(), x.copy()
    outside[0, :, 32, 32 + half + 1] += 100
    edge[0, :, 32, 32 + half] += 100
    assert numpy.array_equal(response(outside), base)
    assert not numpy.array_equal(response(edge), base)


def test_sample_indices_spread_over_clip():
    assert list(even_indices(100, 4)) == [12, 37, 62, 87]
    assert list(even_indices(3, 8)) == [0, 1, 2]


def test_explain_command_writes_contact_sheet_and_json(tmp_path, weights):
    video = make_clip(tmp_path / 'talk.mp4', seconds=1.2, size=(96, 54))
    out = tmp_path / 'out'
    assert main(['explain', video, '--weights', weights, '--out', str(out),
                 '--frames', '2']) == 0
    sheet = out / 'talk_contact_sheet.png'
    assert sheet.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    for t in TRAITS:
        assert (out / 'talk_{}.png'.format(t)).exists()
    assert main(['explain', video, '--weights', weights, '--out', str(out),
                 '--frames', '2', '--format', 'json']) == 0
    summary = json.loads((out / 'talk.json').read_text())
    assert summary['frame_size'] == [456, 256]
    assert len(summary['frame_indices']) == 2
    maps = numpy.array(summary['traits']['openness']['visual_maps'])
    assert maps.shape == (2, 9, 15)
    # The summary's means are the means of its maps.
    numpy.testing.assert_allclose(
        maps.mean(axis=(1, 2)),
        summary['traits']['openness']['visual_map_mean'], atol=1e-5)


def test_explain_missing_video_is_one_line_error(tmp_path, weights, capsys):
    assert main(['explain', str(tmp_path / 'none.mp4'), '--weights',
                 weights, '--out', str(tmp_path)]) == 1
    assert 'none.mp4: no such file' in capsys.readouterr().err
