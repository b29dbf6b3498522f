"""One check, every device (as ChainerCV's model tests run one
``check_call`` on the CPU and again on a GPU).

A test that compares the package against an independent computation takes
a ``device`` argument through :data:`every_device` and runs once per
device: ``'@numpy'`` always, ``'@cupy:0'`` when CuPy imports and sees a GPU
(otherwise that instance is skipped, and the skip names the reason). Both
instances carry the ``device`` marker, so ``pytest -m device`` selects
them all.

``DEEP_IMPRESSION_TEST_DEVICE=@cupy:0`` (what ``make test-gpu`` sets)
leaves only that device: the CPU instances already ran in ``make test``.
The end-to-end tests of ``tests/test_gpu.py`` carry the ``gpu`` marker and
run only then (:data:`gpu_run`).
"""

import copy
import os

import pytest

#: Environment variable naming the one device to test (``make test-gpu``).
TEST_DEVICE_VARIABLE = 'DEEP_IMPRESSION_TEST_DEVICE'
CPU, GPU = '@numpy', '@cupy:0'


def gpu_missing():
    """Why ``@cupy:0`` cannot be tested here (one line), or None when CuPy
    imports and sees at least one GPU."""
    try:
        import cupy
    except Exception as e:  # ImportError, or a broken CUDA library
        return 'CuPy does not import ({}: {})'.format(type(e).__name__, e)
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # no driver: CUDARuntimeError
        return 'CuPy sees no GPU ({}: {})'.format(type(e).__name__, e)
    if count < 1:
        return 'CuPy sees no GPU'
    return None


def device_params(chosen=None, missing=None):
    """The ``pytest.param``s of ``device``: ``@numpy`` and ``@cupy:0``, or
    only ``chosen`` (default: the environment's
    ``DEEP_IMPRESSION_TEST_DEVICE``). ``missing``: the reason a GPU
    cannot be used (default :func:`gpu_missing`), None when one can."""
    if chosen is None:
        chosen = os.environ.get(TEST_DEVICE_VARIABLE) or None
    devices = [chosen] if chosen else [CPU, GPU]
    params = []
    for device in devices:
        marks = [pytest.mark.device]
        if device.startswith('@cupy'):
            reason = gpu_missing() if missing is None else missing
            marks.append(pytest.mark.skipif(reason is not None,
                                            reason=str(reason)))
        params.append(pytest.param(device, marks=marks,
                                   id=device.lstrip('@').replace(':', '')))
    return params


#: ``@every_device``: parametrise a test's ``device`` argument.
every_device = pytest.mark.parametrize('device', device_params())


def _gpu_run_skip():
    chosen = os.environ.get(TEST_DEVICE_VARIABLE) or ''
    if not chosen.startswith('@cupy'):
        return 'end-to-end GPU test: run by `make test-gpu`'
    return gpu_missing()


#: ``pytestmark = gpu_run`` in a module of end-to-end GPU tests: marked
#: ``gpu``, skipped unless ``make test-gpu`` runs them on a GPU.
gpu_run = [pytest.mark.gpu,
           pytest.mark.skipif(_gpu_run_skip() is not None,
                              reason=str(_gpu_run_skip()))]


def on_device(link, device):
    """``link`` itself on ``@numpy``; elsewhere a copy moved to ``device``
    (the original stays on the CPU, where the test's reference reads its
    parameters)."""
    if device == CPU:
        return link
    from deep_impression.models.weights import to_device
    return to_device(copy.deepcopy(link), device)


def to_cpu(x):
    """A NumPy array of ``x`` (a CuPy or NumPy array, or a Variable)."""
    import chainer
    import numpy
    if isinstance(x, chainer.Variable):
        x = x.array
    return numpy.asarray(chainer.backend.CpuDevice().send(x))
