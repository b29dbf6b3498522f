"""Atomic file writing: a crash never leaves a half-written file.

Everything the package writes for later use (weights, snapshots, the clip
store, reports, figures) is written under a temporary name in the target's
folder, flushed to disk and renamed over the target with ``os.replace``, so
a reader sees either the old file or the whole new one.
"""

import contextlib
import json
import os
import tempfile


@contextlib.contextmanager
def atomic_path(path, suffix='.tmp'):
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    The body writes the temporary file by name (for writers that take a path,
    such as ``numpy.save`` or ``onnx.save_model``; give ``suffix='.npy'``
    where the writer appends one otherwise). On an exception the temporary
    file is removed and ``path`` is untouched.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.',
                               suffix=suffix, dir=directory)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, 'rb+') as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


@contextlib.contextmanager
def atomic_open(path, mode='w', **kwargs):
    """``open(path, mode)`` that only replaces ``path`` once closed whole."""
    if 'w' not in mode:
        raise ValueError('atomic_open writes: mode must contain "w"')
    if 'b' not in mode:
        kwargs.setdefault('encoding', 'utf-8')
    with atomic_path(path) as tmp:
        with open(tmp, mode, **kwargs) as f:
            yield f


def write_text(path, text):
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path``."""
    with atomic_open(path, 'w') as f:
        f.write(text)
    return path


def write_bytes(path, data):
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    with atomic_open(path, 'wb') as f:
        f.write(data)
    return path


def write_json(path, obj, **kwargs):
    """Write ``obj`` as JSON to ``path`` atomically; returns ``path``."""
    kwargs.setdefault('indent', 1)
    with atomic_open(path, 'w') as f:
        json.dump(obj, f, **kwargs)
        f.write('\n')
    return path
