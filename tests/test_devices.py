"""tests/devices.py: which devices a device test runs on, and why one is
skipped."""

import sys
import types

import chainer
import numpy
import pytest

import devices


def _fake_cupy(monkeypatch, count):
    """Put a stand-in ``cupy`` whose runtime reports ``count`` GPUs (or
    raises ``count`` when it is an exception)."""
    def get_count():
        if isinstance(count, Exception):
            raise count
        return count
    runtime = types.SimpleNamespace(getDeviceCount=get_count)
    fake = types.ModuleType('cupy')
    fake.cuda = types.SimpleNamespace(runtime=runtime)
    monkeypatch.setitem(sys.modules, 'cupy', fake)


def test_without_cupy_the_reason_says_it_does_not_import(monkeypatch):
    monkeypatch.setitem(sys.modules, 'cupy', None)    # import raises
    assert devices.gpu_missing().startswith('CuPy does not import')


@pytest.mark.parametrize('count,reason', [
    (0, 'CuPy sees no GPU'),
    (RuntimeError('no CUDA driver'), 'CuPy sees no GPU (RuntimeError: no '
                                     'CUDA driver)'),
    (1, None),
])
def test_a_gpu_is_usable_only_when_cupy_counts_one(monkeypatch, count,
                                                   reason):
    _fake_cupy(monkeypatch, count)
    assert devices.gpu_missing() == reason


def _marks(param):
    return {m.name: m for m in param.marks}


def test_cpu_always_gpu_skipped_with_the_reason(monkeypatch):
    monkeypatch.delenv(devices.TEST_DEVICE_VARIABLE, raising=False)
    cpu, gpu = devices.device_params(missing='CuPy sees no GPU')
    assert (cpu.values, gpu.values) == (('@numpy',), ('@cupy:0',))
    assert 'device' in _marks(cpu) and 'skipif' not in _marks(cpu)
    skip = _marks(gpu)['skipif']
    assert 'device' in _marks(gpu)
    assert skip.args == (True,) and skip.kwargs['reason'] == \
        'CuPy sees no GPU'


def test_with_a_gpu_both_run(monkeypatch):
    monkeypatch.delenv(devices.TEST_DEVICE_VARIABLE, raising=False)
    _fake_cupy(monkeypatch, 2)
    _, gpu = devices.device_params()
    assert _marks(gpu)['skipif'].args == (False,)


def test_the_environment_picks_one_device(monkeypatch):
    # What `make test-gpu` does: only the GPU instances run there.
    monkeypatch.setenv(devices.TEST_DEVICE_VARIABLE, '@cupy:0')
    (only,) = devices.device_params(missing='CuPy sees no GPU')
    assert only.values == ('@cupy:0',) and only.id == 'cupy0'


def test_on_device_leaves_the_cpu_link_itself():
    link = chainer.links.Linear(2, 3)
    assert devices.on_device(link, '@numpy') is link
    x = chainer.Variable(numpy.ones((1, 2), numpy.float32))
    assert isinstance(devices.to_cpu(link(x)), numpy.ndarray)
