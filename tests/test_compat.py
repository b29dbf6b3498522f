"""The compatibility layer lets Chainer 7.8.1 import on today's stacks."""

import subprocess
import sys

import numpy
import pytest

from deep_impression import _compat


def test_sctypes_available_and_typed():
    # Chainer's as_strided reads numpy.sctypes at import time.
    assert numpy.float32 in numpy.sctypes['float']
    assert numpy.int64 in numpy.sctypes['int']
    assert numpy.uint8 in numpy.sctypes['uint']


def test_distutils_system_info_importable():
    # Chainer's environment check imports it; the stub (or the real module
    # where NumPy still has one) must provide get_info.
    import numpy.distutils.system_info as si
    assert callable(si.get_info)


def test_stub_answers_empty_when_distutils_is_missing(monkeypatch):
    import sys
    for name in ('numpy.distutils', 'numpy.distutils.system_info'):
        monkeypatch.delitem(sys.modules, name, raising=False)
    real_import = __builtins__['__import__'] if isinstance(
        __builtins__, dict) else __builtins__.__import__

    def no_distutils(name, *args, **kwargs):
        if name.startswith('numpy.distutils'):
            raise ModuleNotFoundError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr('builtins.__import__', no_distutils)
    _compat._install_distutils_stub()
    monkeypatch.undo()
    stub = sys.modules['numpy.distutils.system_info']
    assert stub.get_info('blas_opt') == {}
    for name in ('numpy.distutils', 'numpy.distutils.system_info'):
        sys.modules.pop(name, None)


def test_install_is_idempotent():
    before = numpy.sctypes
    _compat.install()
    _compat.install()
    assert numpy.sctypes is before


def test_chainer_imports_after_package_in_fresh_interpreter():
    # A fresh process: importing the package first must make chainer import
    # and run a convolution, whatever NumPy is installed.
    code = ('import deep_impression, chainer, numpy;'
            'import chainer.functions as F;'
            'y = F.convolution_2d(numpy.ones((1, 1, 3, 3), "f"),'
            ' numpy.ones((1, 1, 3, 3), "f"));'
            'print(float(y.array.ravel()[0]))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == '9.0'


def test_plain_chainer_import_fails_without_shims_on_numpy2():
    # The shims are really needed: without them, chainer does not import on
    # NumPy 2 (on NumPy 1.26 it does, and then there is nothing to show).
    if numpy.lib.NumpyVersion(numpy.__version__) < '2.0.0':
        pytest.skip('NumPy {} < 2: chainer imports without the shims'.format(
            numpy.__version__))
    out = subprocess.run([sys.executable, '-c', 'import chainer'],
                         capture_output=True, text=True)
    assert out.returncode != 0
    assert 'sctypes' in out.stderr or 'distutils' in out.stderr


def test_chainer_imports_without_pkg_resources(tmp_path):
    # setuptools >= 82 has no pkg_resources; a later `pip install` may bring
    # one (torch requires setuptools >= 77). Hide it and import chainer.
    blocker = tmp_path / 'pkg_resources.py'
    blocker.write_text('raise ImportError("pkg_resources hidden by test")\n')
    code = ('import deep_impression, chainer, pkg_resources;'
            'print(getattr(pkg_resources, "__deep_impression_stub__", False));'
            'print(pkg_resources.require("numpy")[0].project_name)')
    env = dict(__import__('os').environ, PYTHONPATH=str(tmp_path))
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ['True', 'numpy']


def test_pkg_resources_stub_reports_missing_distribution(tmp_path):
    blocker = tmp_path / 'pkg_resources.py'
    blocker.write_text('raise ImportError("hidden")\n')
    code = ('import deep_impression, pkg_resources\n'
            'try:\n'
            '    pkg_resources.require("no-such-dist-xyz>=1")\n'
            'except pkg_resources.DistributionNotFound:\n'
            '    print("not found")\n')
    env = dict(__import__('os').environ, PYTHONPATH=str(tmp_path))
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, env=env)
    assert out.stdout.strip() == 'not found', out.stderr
