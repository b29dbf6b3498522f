"""Make Chainer 7.8.1 importable on today's Python and NumPy.

Chainer 7.8.1 (2020) is the last Chainer release. Two of its imports break on
current stacks (seen when this package was built; docs/paper-notes.rst,
"The software stack"):

* ``numpy.sctypes`` was removed in NumPy 2.0, and
  ``chainer/functions/array/as_strided.py`` reads it at import time;
* ``numpy.distutils`` is gone on Python >= 3.12 (and with NumPy >= 2 there),
  and ``chainer/_environment_check.py`` imports ``numpy.distutils.system_info``;
* the same file imports ``pkg_resources``, which setuptools 82 removed (and
  which any later ``pip install`` that upgrades setuptools takes away).

:func:`install` puts back the smallest stand-ins that satisfy those two
imports. It must run before the first ``import chainer``; importing
:mod:`deep_impression` does that, so every module of the package may import
Chainer freely after ``from deep_impression import _compat``.
"""

import os
import sys
import types

import numpy

_SCTYPES = {
    'int': [numpy.int8, numpy.int16, numpy.int32, numpy.int64],
    'uint': [numpy.uint8, numpy.uint16, numpy.uint32, numpy.uint64],
    'float': [numpy.float16, numpy.float32, numpy.float64],
    'complex': [numpy.complex64, numpy.complex128],
    'others': [bool, object, bytes, str, numpy.void],
}


def _needs_sctypes():
    try:
        numpy.sctypes
    except AttributeError:
        return True
    return False


def _install_sctypes():
    # NumPy 2 raises AttributeError from its module __getattr__; setting the
    # attribute on the module object takes precedence over that hook.
    if _needs_sctypes():
        numpy.sctypes = {k: list(v) for k, v in _SCTYPES.items()}


def _install_distutils_stub():
    try:
        import numpy.distutils.system_info  # noqa: F401
        return
    except Exception:
        pass
    # Chainer only calls get_info('blas_opt') on macOS to warn about
    # Accelerate; an empty answer means "nothing to warn about".
    distutils = types.ModuleType('numpy.distutils')
    system_info = types.ModuleType('numpy.distutils.system_info')
    system_info.get_info = lambda name, notfound_action=0: {}
    distutils.system_info = system_info
    distutils.__deep_impression_stub__ = True
    sys.modules['numpy.distutils'] = distutils
    sys.modules['numpy.distutils.system_info'] = system_info


def _install_pkg_resources_stub():
    try:
        import pkg_resources  # noqa: F401
        return
    except Exception:
        pass
    # Chainer's environment check calls require() on its optional
    # dependencies (cupy, ideep) only to warn about version mismatches;
    # answer "installed or not" from importlib.metadata.
    import importlib.metadata as metadata
    import re

    stub = types.ModuleType('pkg_resources')

    class DistributionNotFound(Exception):
        pass

    class VersionConflict(Exception):
        pass

    def get_distribution(requirement):
        name = re.split(r'[<>=!~;\[ ]', requirement, maxsplit=1)[0]
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            raise DistributionNotFound(requirement) from None
        return types.SimpleNamespace(project_name=name, version=version)

    def require(requirement):
        return [get_distribution(requirement)]

    stub.DistributionNotFound = DistributionNotFound
    stub.VersionConflict = VersionConflict
    stub.get_distribution = get_distribution
    stub.require = require
    stub.__deep_impression_stub__ = True
    sys.modules['pkg_resources'] = stub


def install():
    """Apply the shims (idempotent). Call before ``import chainer``."""
    # Chainer compares CuPy's version with the range it was released with and
    # warns on every import for CuPy >= 8; CuPy 13/14 do work (STACK.md).
    os.environ.setdefault('CHAINER_WARN_VERSION_MISMATCH', '0')
    _install_sctypes()
    _install_distutils_stub()
    _install_pkg_resources_stub()


install()
