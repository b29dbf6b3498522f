"""``deep-impression info`` and the device line of ``train``."""

import json
import sys
import types

import chainer
import pytest

from deep_impression import runtime
from deep_impression.cli import main
from deep_impression.commands.info import format_info
from deep_impression.training import default_device


@pytest.fixture
def fake_gpu(monkeypatch):
    """A stand-in ``cupy`` with one GPU named 'Fake GPU 80GB'."""
    props = {'name': b'Fake GPU 80GB'}
    fake = types.ModuleType('cupy')
    fake.__version__ = '0.test'
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(
        getDeviceCount=lambda: 1, getDeviceProperties=lambda i: props))
    monkeypatch.setitem(sys.modules, 'cupy', fake)
    return fake


def test_info_prints_chainer_runtime_and_each_component(capsys):
    import imageio_ffmpeg
    import onnxruntime
    assert main(['info']) == 0
    out = capsys.readouterr().out
    # Chainer's own report, then ours.
    assert 'Chainer: {}'.format(chainer.__version__) in out
    assert 'ONNX Runtime: {} ({})'.format(
        onnxruntime.__version__,
        ', '.join(onnxruntime.get_available_providers())) in out
    assert 'ffmpeg: {} (ffmpeg version'.format(
        imageio_ffmpeg.get_ffmpeg_exe()) in out
    assert 'default device: train {}, predict @numpy'.format(
        default_device()) in out
    for label in ('CuPy: ', 'GPUs CuPy sees: ', 'cuDNN: ', 'NCCL: ',
                  'MPI: mpi4py '):
        assert label in out


def test_info_json_is_one_object(capsys):
    assert main(['info', '--json']) == 0
    info = json.loads(capsys.readouterr().out)
    assert info['devices'] == {'train': default_device(),
                               'predict': '@numpy'}
    assert info['python'] == '{}.{}.{}'.format(*sys.version_info[:3])
    assert info['chainer']['chainer'] == chainer.__version__


def test_without_cupy_info_says_why(monkeypatch):
    monkeypatch.setitem(sys.modules, 'cupy', None)
    gpu = runtime.gpu_info()
    assert gpu['gpus'] == [] and 'Error' in gpu['error']
    text = format_info(runtime.runtime_info())
    assert 'GPUs CuPy sees: none (' in text and 'cupy' in text
    assert 'default device: train @numpy' in text


def test_a_gpu_is_named_and_picked_for_training(fake_gpu):
    info = runtime.runtime_info()
    assert info['gpu'] == {'cupy': '0.test', 'error': None,
                           'gpus': ['Fake GPU 80GB']}
    assert info['devices']['train'] == '@cupy:0'
    assert 'GPUs CuPy sees: 0: Fake GPU 80GB' in format_info(info)
    assert runtime.describe_device('@cupy:0') == '@cupy:0 (Fake GPU 80GB)'
    assert runtime.describe_device('@cupy:3') == '@cupy:3 (no such GPU here)'
    assert runtime.device_line(None, 'train') == \
        'train: device @cupy:0 (Fake GPU 80GB)'


def test_train_names_its_device_before_any_work(tmp_path, capsys):
    # The store does not exist: training fails at once, after the line.
    status = main(['train', str(tmp_path / 'no-store'), '--out',
                   str(tmp_path / 'run'), '--device', '@numpy'])
    captured = capsys.readouterr()
    assert status == 1 and 'no-store' in captured.err
    assert captured.out.splitlines()[0] == 'train: device @numpy (CPU)'
