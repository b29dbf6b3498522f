"""What this machine offers the package: the facts ``deep-impression info``
prints, and the one line ``train`` and ``experiments/reproduce.py`` print
before any work.

Every probe is guarded: a missing or broken optional library (CuPy, mpi4py,
ONNX Runtime) is reported as such, never raised, so the report also works
on the bare machine it is meant to diagnose.
"""

import os
import shutil
import subprocess
import sys

from deep_impression import _compat  # noqa: F401  (before chainer)

#: Seconds ``ffmpeg -version`` may take before it is given up on.
FFMPEG_TIMEOUT = 20


def _error(e):
    return '{}: {}'.format(type(e).__name__, ' '.join(str(e).split()))


def gpu_info():
    """CuPy and the GPUs it sees.

    Returns:
        dict: ``cupy`` (version, or None), ``error`` (why CuPy is unusable,
        or None), ``gpus`` (list of device names, ``[]`` without CuPy).
    """
    info = {'cupy': None, 'error': None, 'gpus': []}
    try:
        import cupy
        info['cupy'] = cupy.__version__
        for i in range(cupy.cuda.runtime.getDeviceCount()):
            name = cupy.cuda.runtime.getDeviceProperties(i)['name']
            info['gpus'].append(name.decode() if isinstance(name, bytes)
                                else str(name))
    except Exception as e:  # ImportError, CUDARuntimeError (no driver)
        info['error'] = _error(e)
    return info


def describe_device(spec):
    """``'@cupy:0 (NVIDIA H200)'`` or ``'@numpy (CPU)'``: a device
    specifier and what it is, for one line of output."""
    if str(spec).startswith('@cupy'):
        gpus = gpu_info()['gpus']
        try:
            index = int(str(spec).split(':')[1])
            return '{} ({})'.format(spec, gpus[index])
        except (IndexError, ValueError):
            return '{} (no such GPU here)'.format(spec)
    return '{} (CPU)'.format(spec)


def device_line(spec, what):
    """The line ``train`` and ``reproduce`` print first, e.g.
    ``'train: device @numpy (CPU)'``; ``spec`` None means the default
    device (:func:`deep_impression.training.default_device`)."""
    if spec is None:
        from deep_impression.training import default_device
        spec = default_device()
    return '{}: device {}'.format(what, describe_device(spec))


def chainer_gpu_info():
    """Whether Chainer can use CuPy, cuDNN and NCCL (dict of bool/str)."""
    import chainer
    cuda = chainer.backends.cuda
    info = {'chainer': chainer.__version__, 'cuda_available': cuda.available,
            'cudnn_enabled': bool(getattr(cuda, 'cudnn_enabled', False)),
            'nccl': None}
    try:
        from cupy.cuda import nccl
        version = nccl.get_version()    # e.g. 22703 for 2.27.3
        info['nccl'] = '{}.{}.{}'.format(version // 10000,
                                         version // 100 % 100, version % 100)
    except Exception as e:
        info['nccl_error'] = _error(e)
    return info


def mpi_info():
    """mpi4py's version and the ``mpiexec`` that would start ranks."""
    info = {'mpi4py': None, 'mpiexec': None}
    try:
        import mpi4py
        info['mpi4py'] = mpi4py.__version__
    except Exception as e:
        info['mpi4py_error'] = _error(e)
    beside = os.path.join(os.path.dirname(sys.executable), 'mpiexec')
    info['mpiexec'] = beside if os.path.exists(beside) else shutil.which(
        'mpiexec')
    return info


def onnxruntime_info():
    """ONNX Runtime's version and execution providers."""
    try:
        import onnxruntime
        return {'onnxruntime': onnxruntime.__version__,
                'providers': list(onnxruntime.get_available_providers())}
    except Exception as e:
        return {'onnxruntime': None, 'error': _error(e)}


def ffmpeg_info():
    """The ffmpeg the package decodes with: path and first version line."""
    try:
        from deep_impression.media import ffmpeg_exe
        path = ffmpeg_exe()
        out = subprocess.run([path, '-version'], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=FFMPEG_TIMEOUT)
        first = out.stdout.decode('utf-8', 'replace').splitlines()
        return {'path': path, 'version': first[0] if first else None}
    except Exception as e:
        return {'path': None, 'error': _error(e)}


def runtime_info():
    """Everything ``deep-impression info`` reports, as a JSON-able dict."""
    from deep_impression.training import default_device
    return {
        'python': sys.version.split()[0],
        'gpu': gpu_info(),
        'chainer': chainer_gpu_info(),
        'mpi': mpi_info(),
        'onnxruntime': onnxruntime_info(),
        'ffmpeg': ffmpeg_info(),
        # predict and the other inference commands stay on the CPU unless
        # --device says otherwise; train takes the GPU when there is one.
        'devices': {'train': default_device(), 'predict': '@numpy'},
    }
