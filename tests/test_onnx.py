"""The ONNX export and the ONNX Runtime backend against the Chainer network.

Chainer is the reference: the same random weights (with randomised batch
normalisation statistics, so that folding BN into the convolutions is really
exercised) and the same inputs must give the same five values within 1e-4.
"""

import hashlib
import json
import subprocess
import sys

from deep_impression import _compat  # noqa: F401  (before chainer)

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper

from deep_impression.inference import backends, onnx_export
from deep_impression import cli, media
from deep_impression.constants import TRAITS
from deep_impression.errors import InputError, WeightsError
from deep_impression.models.audiovisual import AudiovisualNetwork
from deep_impression.models.streams import AUDITORY, VISUAL
from deep_impression.inputs import even_indices as frame_indices
from deep_impression.inference.predict import predict_video, select_frames
from deep_impression.models.weights import save_weights

import clips


def _randomise_batch_normalization(model, rng):
    for _, link in model.namedlinks():
        if isinstance(link, L.BatchNormalization):
            c = link.avg_mean.shape[0]
            link.avg_mean[...] = rng.normal(0, 0.5, c)
            link.avg_var[...] = rng.uniform(0.3, 3.0, c)
            link.gamma.array[...] = rng.uniform(0.5, 1.5, c)
            link.beta.array[...] = rng.normal(0, 0.3, c)


@pytest.fixture(scope='module')
def rng():
    return numpy.random.RandomState(7)


@pytest.fixture(scope='module')
def inputs(rng):
    audio = rng.uniform(-1, 1, 3001).astype(numpy.float32)  # odd length
    frames = rng.randint(0, 256, (5, 65, 97, 3)).astype(numpy.uint8)
    return audio, frames


@pytest.fixture(scope='module')
def net(rng, inputs):
    """Random weights; FC scaled so that the five values are not saturated."""
    model = AudiovisualNetwork()
    _randomise_batch_normalization(model, rng)
    a, v = model.clip_features(*inputs)
    model.fc.W.array[:, :256] = rng.normal(0, 0.5, (5, 256)) / (
        numpy.linalg.norm(a) + 1e-6)
    model.fc.W.array[:, 256:] = rng.normal(0, 0.5, (5, 256)) / (
        numpy.linalg.norm(v) + 1e-6)
    model.fc.b.array[...] = rng.normal(0, 0.2, 5)
    return model


@pytest.fixture(scope='module')
def ort_model(net):
    return backends.OnnxRuntimeModel.from_chainer(net, batch_size=2)


def _run_single_node(node_builder, x):
    """Run one node built by ``_GraphBuilder`` on ``x`` in ONNX Runtime."""
    b = onnx_export._GraphBuilder()
    out = node_builder(b, 'x')
    graph = helper.make_graph(
        b.nodes, 't', [helper.make_tensor_value_info(
            'x', TensorProto.FLOAT, [None] * 4)],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)],
        initializer=b.initializers)
    model = helper.make_model(graph, opset_imports=[
        helper.make_opsetid('', onnx_export.OPSET)])
    model.ir_version = 9
    sess = onnxruntime.InferenceSession(model.SerializeToString(),
                                        providers=['CPUExecutionProvider'])
    return sess.run(None, {'x': x})[0]


@pytest.mark.parametrize('geometry,shape', [
    (VISUAL.pool1, (1, 2, 128, 228)),   # conv1 output of a 256x456 frame
    (VISUAL.pool1, (2, 3, 7, 10)),
    (AUDITORY.pool1, (1, 2, 1, 751)),
    (AUDITORY.pool1, (1, 2, 1, 60000)),  # conv1 output of 15 s of audio
])
def test_max_pooling_reproduces_chainer_cover_all(geometry, shape):
    # All-negative inputs: a pad value of 0 instead of -inf would show.
    x = -numpy.random.RandomState(0).uniform(1, 2, shape).astype(
        numpy.float32)
    ksize, stride, pad = geometry
    expected = F.max_pooling_2d(x, ksize, stride, pad, cover_all=True).array
    got = _run_single_node(
        lambda b, name: b.max_pool_cover_all(name, 'y', geometry), x)
    assert got.shape == expected.shape
    numpy.testing.assert_array_equal(got, expected)


def test_batch_normalization_folding(rng):
    conv = L.Convolution2D(3, 4, 3, 2, 1)
    bn = L.BatchNormalization(4)
    _randomise_batch_normalization(bn, rng)
    x = rng.normal(0, 1, (2, 3, 9, 8)).astype(numpy.float32)
    with chainer.using_config('train', False):
        expected = bn(conv(x)).array
    W, b = onnx_export.fold_batch_normalization(conv, bn)
    got = F.convolution_2d(x, W, b, 2, 1).array
    numpy.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_export_is_a_valid_model_with_dynamic_sizes(net):
    model = onnx_export.export(net)
    onnx.checker.check_model(model)
    dims = {v.name: [d.dim_param or d.dim_value
                     for d in v.type.tensor_type.shape.dim]
            for v in list(model.graph.input) + list(model.graph.output)}
    assert dims['audio'] == ['audio_batch', 1, 1, 'samples']
    assert dims['frames'] == ['frames', 3, 'height', 'width']
    assert dims['frame_features'] == ['frames', 256]
    assert dims['traits'] == ['clips', 5]
    # BN is folded: no BatchNormalization node; per stream conv1, 2 per
    # block and 3 shortcuts: 2 x 20 convolutions.
    ops = [n.op_type for n in model.graph.node]
    assert 'BatchNormalization' not in ops
    assert ops.count('Conv') == 40 and ops.count('MaxPool') == 2


def test_stream_features_equal_chainer(net, ort_model, inputs):
    audio, frames = inputs
    a_ref, v_ref = net.clip_features(audio, frames)
    a, v = ort_model.clip_features(audio, frames)
    for got, ref in ((a, a_ref), (v, v_ref)):
        numpy.testing.assert_allclose(got, ref, rtol=1e-4,
                                      atol=1e-5 * numpy.abs(ref).max())


def test_predict_equals_chainer_within_1e4(net, ort_model, inputs):
    audio, frames = inputs
    expected = net.predict(audio, frames)
    assert 0.02 < expected.min() and expected.max() < 0.98  # not saturated
    got = ort_model.predict(audio, frames)
    assert got.shape == (5,) and got.dtype == numpy.float32
    assert numpy.abs(got - expected).max() < 1e-4


def test_full_size_frame_equals_chainer(net, ort_model, inputs, rng):
    # 256x456: the size where cover_all pooling changes the geometry.
    frame = rng.randint(0, 256, (1, 256, 456, 3)).astype(numpy.uint8)
    audio = inputs[0]
    _, v_ref = net.clip_features(audio, frame)
    _, v = ort_model.clip_features(audio, frame)
    numpy.testing.assert_allclose(v, v_ref, rtol=1e-4,
                                  atol=1e-5 * numpy.abs(v_ref).max())
    assert numpy.abs(ort_model.predict(audio, frame) -
                     net.predict(audio, frame)).max() < 1e-4


def test_batches_and_chunks_do_not_change_the_mean(ort_model, inputs):
    audio, frames = inputs
    one = ort_model.predict(audio, frames)
    chunked = ort_model.predict(audio, [frames[:2], frames[2:3], frames[3:]])
    numpy.testing.assert_allclose(chunked, one, atol=1e-6)
    # The mean over frames, written out: features per frame, averaged.
    per_frame = numpy.concatenate([ort_model.frame_features(frames[i:i + 1])
                                   for i in range(len(frames))])
    _, v = ort_model.clip_features(audio, frames)
    numpy.testing.assert_allclose(v, per_frame.mean(axis=0), rtol=1e-5)


def test_as_backend_caches_and_follows_weight_changes(net):
    first = backends.as_backend(net, 'onnxruntime')
    assert backends.as_backend(net, 'onnxruntime') is first
    assert backends.as_backend(net, 'chainer') is net
    assert backends.as_backend(first, None) is first
    with pytest.raises(InputError, match='backend'):
        backends.as_backend(net, 'tensorflow')
    with pytest.raises(InputError, match='AudiovisualNetwork'):
        backends.as_backend(first, 'chainer')
    net.fc.b.array[0] += 0.25
    try:
        assert backends.as_backend(net, 'onnxruntime') is not first
    finally:
        net.fc.b.array[0] -= 0.25


@pytest.fixture(scope='module')
def weights_file(net, tmp_path_factory):
    path = tmp_path_factory.mktemp('weights') / 'model'
    save_weights(net, str(path))
    return str(path)


def test_export_command_writes_a_loadable_model(weights_file, net, inputs,
                                                tmp_path, capsys):
    out = tmp_path / 'sub' / 'model.onnx'
    assert cli.main(['export', '--weights', weights_file, '--out',
                     str(out)]) == 0
    onnx.checker.check_model(str(out))
    model = backends.OnnxRuntimeModel.from_file(str(out))
    assert numpy.abs(model.predict(*inputs) - net.predict(*inputs)).max() \
        < 1e-4


def test_bad_onnx_files_are_one_clear_error(tmp_path, capsys):
    with pytest.raises(WeightsError, match='no such ONNX file'):
        backends.OnnxRuntimeModel.from_file(str(tmp_path / 'missing.onnx'))
    junk = tmp_path / 'junk.onnx'
    junk.write_bytes(b'\x00\x01 this is not protobuf' * 10)
    with pytest.raises(WeightsError, match='junk.onnx'):
        backends.OnnxRuntimeModel.from_file(str(junk))
    other = tmp_path / 'other.onnx'
    graph = helper.make_graph(
        [helper.make_node('Relu', ['x'], ['y'])], 'g',
        [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1])])
    onnx.save_model(helper.make_model(graph), str(other))
    with pytest.raises(WeightsError, match='not a deep-impression export'):
        backends.OnnxRuntimeModel.from_file(str(other))
    assert cli.main(['export', '--weights', str(tmp_path / 'nope'),
                     '--out', str(tmp_path / 'x.onnx')]) == 1
    assert 'nope' in capsys.readouterr().err
    assert not (tmp_path / 'x.onnx').exists()


# -- videos: backend switch and frame subsampling ----------------------------

@pytest.fixture(scope='module')
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp('clips') / 'clip.mp4'
    return clips.make_clip(path, seconds=1.2, size=(160, 90), fps=30)


def test_frame_indices_are_evenly_spaced():
    numpy.testing.assert_array_equal(frame_indices(375, 10),
                                     [18, 56, 93, 131, 168, 206, 243, 281,
                                      318, 356])
    numpy.testing.assert_array_equal(frame_indices(4, 10), [0, 1, 2, 3])


def test_select_frames_across_chunk_boundaries():
    frames = numpy.arange(12, dtype=numpy.uint8)[:, None, None, None]
    chunks = [frames[:4], frames[4:7], frames[7:]]
    kept = numpy.concatenate(list(select_frames(iter(chunks), 12, 5)))
    # Middles of 5 equal parts of 12 frames: 1.2, 3.6, 6, 8.4, 10.8.
    numpy.testing.assert_array_equal(kept.ravel(), [1, 3, 6, 8, 10])
    # A stream far shorter than its duration said: its last frame, not none.
    kept = list(select_frames(iter(chunks), 300, 3))
    numpy.testing.assert_array_equal(numpy.concatenate(kept).ravel(), [11])


def test_predict_video_backends_agree(clip, net):
    y_chainer = predict_video(clip, net, backend='chainer', max_frames=2)
    y_ort = predict_video(clip, net, backend='onnxruntime', max_frames=2)
    assert numpy.abs(y_chainer - y_ort).max() < 1e-4


def test_max_frames_and_fps_pick_the_documented_frames(clip, net):
    model = backends.as_backend(net, 'onnxruntime')
    audio = media.load_clip_audio(clip)
    frames = media.read_frames(clip)
    assert len(frames) == 30  # 1.2 s at 25 frames/s
    # max_frames: the middle frame of each of K equal parts of the clip.
    picked = frames[[5, 15, 25]]
    numpy.testing.assert_allclose(
        predict_video(clip, model, max_frames=3),
        model.predict(audio, picked), atol=1e-6)
    # fps: ffmpeg's frame-rate conversion, then every frame.
    numpy.testing.assert_allclose(
        predict_video(clip, model, fps=5),
        model.predict(audio, media.read_frames(clip, fps=5)), atol=1e-6)
    everything = predict_video(clip, model)
    numpy.testing.assert_allclose(everything, model.predict(audio, frames),
                                  atol=1e-6)
    with pytest.raises(InputError, match='max_frames'):
        predict_video(clip, model, max_frames=0)
    with pytest.raises(InputError, match='fps'):
        predict_video(clip, model, fps=-1)


def test_cli_predict_with_onnxruntime_backend(clip, net, weights_file,
                                              tmp_path, capsys):
    onnx_file = tmp_path / 'model.onnx'
    assert cli.main(['export', '--weights', weights_file, '--out',
                     str(onnx_file)]) == 0
    out = tmp_path / 'traits.json'
    status = cli.main(['predict', clip, str(tmp_path / 'missing.mp4'),
                       '--onnx', str(onnx_file),  # implies onnxruntime
                       '--max-frames', '2', '--format', 'json',
                       '--output', str(out)])
    assert status == 1  # one video failed, the other went on
    assert 'missing.mp4' in capsys.readouterr().err
    rows = json.loads(out.read_text())
    assert [r['video'] for r in rows] == [clip]
    expected = predict_video(clip, net, backend='chainer', max_frames=2)
    got = numpy.array([rows[0][t] for t in TRAITS])
    assert numpy.abs(got - expected).max() < 2e-4  # JSON rounds to 1e-6
    # Exported on the fly from --weights: the same values (--overwrite: the
    # file's rows name the ONNX file's digest, not the weight file's).
    assert cli.main(['predict', clip, '--backend', 'onnxruntime',
                     '--weights', weights_file, '--max-frames', '2',
                     '--format', 'json', '--output', str(out),
                     '--overwrite']) == 0
    again = json.loads(out.read_text())[0]
    assert all(abs(again[t] - rows[0][t]) < 1e-5 for t in TRAITS)
    capsys.readouterr()
    assert cli.main(['predict', clip, '--backend', 'chainer', '--onnx',
                     str(onnx_file), '--weights', weights_file]) == 1
    assert '--onnx' in capsys.readouterr().err
    assert cli.main(['predict', clip, '--backend', 'onnxruntime',
                     '--device', '@cupy:0', '--weights', weights_file]) == 1
    assert 'CPU only' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(['predict', clip, '--max-frames', '0'])


# -- the on-disk cache of exports ---------------------------------------------

def _count_exports(monkeypatch):
    calls = []
    real = onnx_export.export

    def counting(model):
        calls.append(1)
        return real(model)

    monkeypatch.setattr(onnx_export, 'export', counting)
    return calls


def test_export_is_cached_once_by_the_weights_sha256(
        weights_file, net, inputs, tmp_path, monkeypatch):
    calls = _count_exports(monkeypatch)
    cache = tmp_path / 'cache'
    with open(weights_file, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    key = '{}-v{}'.format(digest, backends.EXPORT_VERSION)
    folder = cache / 'onnx' / key
    expected = net.predict(*inputs)
    for _ in range(2):
        model = backends.load_backend('onnxruntime', weights=weights_file,
                                      cache=str(cache))
        assert numpy.abs(model.predict(*inputs) - expected).max() < 1e-4
    assert len(calls) == 1  # the second load read the files
    assert sorted(p.name for p in folder.iterdir()) == [
        'auditory_stream.onnx', 'fusion.onnx', 'visual_stream.onnx']


def test_onnx_predictions_name_their_weight_file_hashed_once(
        weights_file, tmp_path, monkeypatch):
    # Exported or read from the cache, the ONNX model records the weight
    # file it came from, so predictions carry its digest; the cache's key
    # and that digest come from one read of the file.
    import shutil
    from deep_impression import fileio
    from deep_impression.inference.predict import provenance
    weights = str(tmp_path / 'model')
    shutil.copyfile(weights_file, weights)  # a file no memo has seen
    with open(weights, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    reads = []
    real = fileio.file_digest

    def counting(path, *args, **kwargs):
        if path == weights:
            reads.append(path)
        return real(path, *args, **kwargs)
    monkeypatch.setattr(fileio, 'file_digest', counting)
    for _ in range(2):  # exported, then from the cache
        model = backends.load_backend('onnxruntime', weights=weights,
                                      cache=str(tmp_path / 'cache'))
        assert model.weights_file == weights
        assert provenance(model)['weights_sha256'] == digest[:12]
    assert len(reads) == 1


def test_stale_cache_is_rebuilt_and_new_weights_get_their_own(
        weights_file, net, inputs, tmp_path, monkeypatch):
    cache = str(tmp_path / 'cache')
    paths = backends.cached_export_paths(weights_file, cache)
    backends.load_backend('onnxruntime', weights=weights_file, cache=cache)
    with open(paths['visual_stream'], 'wb') as f:
        f.write(b'not an onnx model')  # e.g. written by another version
    calls = _count_exports(monkeypatch)
    model = backends.load_backend('onnxruntime', weights=weights_file,
                                  cache=cache)
    assert len(calls) == 1
    assert numpy.abs(model.predict(*inputs) - net.predict(*inputs)).max() \
        < 1e-4
    onnx.checker.check_model(paths['visual_stream'])  # rewritten whole
    other = tmp_path / 'other_model'
    changed = net.copy(mode='copy')
    changed.fc.b.array[...] += 0.25
    save_weights(changed, str(other))
    assert backends.cached_export_paths(str(other), cache) != paths
    model = backends.load_backend('onnxruntime', weights=str(other),
                                  cache=cache)
    assert numpy.abs(model.predict(*inputs) -
                     changed.predict(*inputs)).max() < 1e-4


def test_unwritable_cache_warns_and_still_predicts(weights_file, net,
                                                   inputs, tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    with pytest.warns(UserWarning, match='not cached'):
        model = backends.load_backend('onnxruntime', weights=weights_file,
                                      cache=str(blocker / 'cache'))
    assert numpy.abs(model.predict(*inputs) - net.predict(*inputs)).max() \
        < 1e-4


def test_cache_folder_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv('DEEP_IMPRESSION_CACHE', str(tmp_path / 'mine'))
    assert backends.cache_dir() == str(tmp_path / 'mine')
    monkeypatch.delenv('DEEP_IMPRESSION_CACHE')
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    assert backends.cache_dir() == str(tmp_path / 'xdg' / 'deep-impression')
    monkeypatch.delenv('XDG_CACHE_HOME')
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    assert backends.cache_dir() == str(
        tmp_path / 'home' / '.cache' / 'deep-impression')


def test_missing_weights_is_the_clear_error_not_a_cache_one(tmp_path):
    with pytest.raises(WeightsError, match='no such weight file'):
        backends.load_backend('onnxruntime',
                              weights=str(tmp_path / 'missing'),
                              cache=str(tmp_path / 'cache'))


def test_cached_command_line_needs_no_chainer(clip, weights_file, tmp_path):
    # The second call of `predict --backend onnxruntime` reads the cached
    # export: nothing imports Chainer (start-up time), the values agree.
    cache = tmp_path / 'cache'
    code = ('import json, sys\n'
            'from deep_impression import cli\n'
            'assert cli.main(sys.argv[1:]) == 0\n'
            'print(json.dumps(sorted(m for m in ("chainer", "scipy") '
            'if m in sys.modules)))\n')
    argv = ['predict', clip, '--backend', 'onnxruntime', '--weights',
            weights_file, '--onnx-cache', str(cache), '--max-frames', '2',
            '--format', 'csv']
    outputs = []
    for _ in range(2):
        out = subprocess.run([sys.executable, '-c', code] + argv,
                             capture_output=True, text=True, check=True)
        outputs.append(out.stdout.splitlines())
    assert outputs[0][-1] == '["chainer", "scipy"]'  # exported: Chainer ran
    assert outputs[1][-1] == '[]'
    assert outputs[1][:-1] == outputs[0][:-1]  # the same CSV
    assert list((cache / 'onnx').iterdir())


def test_command_line_start_up_imports_no_framework():
    code = ('import sys\n'
            'from deep_impression import cli\n'
            'cli.build_parser()\n'
            'print(sorted(m for m in ("chainer", "onnx", "onnxruntime", '
            '"scipy", "cv2", "matplotlib") if m in sys.modules))\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == '[]'
