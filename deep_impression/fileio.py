"""Atomic file writing (a crash never leaves a half-written file), and
reading ``.npz`` files without running code.

Everything the package writes for later use (weights, snapshots, the clip
store, annotations, synthetic clips, reports, figures) is written under a
temporary name in the target's folder, flushed to disk and renamed over the
target with ``os.replace``, so a reader sees either the old file or the
whole new one. Temporary names contain :data:`TEMPORARY_MARK`, so a run
that was killed can find and remove its leftovers.

Files get the permissions a plain ``open()`` would give them (``0o666``
less the user's umask), not the ``0o600`` of :func:`tempfile.mkstemp`: a
trained model or a report is readable by whoever could read a file the
user saved by hand.
"""

import contextlib
import hashlib
import json
import os
import tempfile

import numpy

#: Part of every temporary file name (``.NAME.tmp-XXXXXXXX``).
TEMPORARY_MARK = '.tmp-'


def current_umask():
    """The process's umask, read without changing it where the system says
    (Linux's ``/proc/self/status``), else by setting and restoring it."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def is_temporary(name):
    """Whether a file name is one of :func:`atomic_path`'s temporaries."""
    return TEMPORARY_MARK in os.path.basename(name)


@contextlib.contextmanager
def atomic_path(path, suffix=''):
    """Yield a temporary path beside ``path``; rename it to ``path`` after.

    The body writes the temporary file by name (for writers that take a path,
    such as ``numpy.save``, ``onnx.save_model`` or ffmpeg; give
    ``suffix='.npy'`` where the writer appends one otherwise, or the
    extension a writer needs to choose its format). On an exception the
    temporary file is removed and ``path`` is untouched.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix='.' + os.path.basename(path) + TEMPORARY_MARK,
        suffix=suffix, dir=directory)
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~current_umask())
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


def ensure_dir(path):
    """Create the folder ``path`` if needed and check that files can be
    written in it, before any work whose results would be lost otherwise.

    Returns:
        ``path``.

    Raises:
        DeepImpressionError: ``path`` is a file, or cannot be created or
            written (read-only, no permission), in one line naming it.
    """
    from deep_impression.errors import DeepImpressionError
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise DeepImpressionError('{}: is a file, not a folder'.format(path))
    try:
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix='.write-test' + TEMPORARY_MARK,
                                     dir=path)
        os.close(fd)
        os.remove(probe)
    except OSError as e:
        raise DeepImpressionError('{}: cannot write in this folder ({})'
                                  .format(path, e.strerror or e)) from None
    return path


def file_key(path):
    """What identifies a file's current content for a memo: ``(absolute
    path, device, inode, size, modification time in ns)``; replacing or
    rewriting the file changes it."""
    st = os.stat(path)
    return (os.path.abspath(path), st.st_dev, st.st_ino, st.st_size,
            st.st_mtime_ns)


def file_digest(path, *algorithms, block=1 << 20):
    """Hex digests of a file's bytes, read once in blocks of ``block``.

    Args:
        algorithms: :mod:`hashlib` names (default ``'sha256'``), or hash
            objects already fed a prefix (e.g. git's ``blob <size>\0``).

    Returns:
        one hex string, or a tuple of them for several algorithms.
    """
    hashes = [hashlib.new(a) if isinstance(a, str) else a
              for a in (algorithms or ('sha256',))]
    with open(path, 'rb') as f:
        for data in iter(lambda: f.read(block), b''):
            for h in hashes:
                h.update(data)
    digests = tuple(h.hexdigest() for h in hashes)
    return digests[0] if len(digests) == 1 else digests


def _unsafe(path, key):
    from deep_impression.errors import DeepImpressionError
    return DeepImpressionError(
        '{}: {} is an object array (a pickle, which could run code when '
        'loaded); refused'.format(path, key))


def _is_pickle_refusal(error):
    # NumPy's words when allow_pickle=False meets an object array.
    return isinstance(error, ValueError) and 'allow_pickle' in str(error)


def _object_arrays(npz):
    """Keys of an open npz whose arrays hold Python objects, from each
    member's header (the arrays themselves are not read)."""
    from numpy.lib import format as npy
    readers = {(1, 0): npy.read_array_header_1_0,
               (2, 0): npy.read_array_header_2_0}
    members = set(npz.zip.namelist())
    for key in npz.files:
        with npz.zip.open(key if key in members else key + '.npy') as f:
            try:
                reader = readers.get(npy.read_magic(f))
                dtype = reader(f)[2] if reader else None
            except ValueError:  # not an array: NumPy says so when read
                continue
        if dtype is None:  # another header version: NumPy's own check
            try:
                npz[key]
            except ValueError as e:
                if _is_pickle_refusal(e):
                    yield key
        elif dtype.hasobject:
            yield key


@contextlib.contextmanager
def open_npz(path):
    """An open ``.npz`` file (``numpy.lib.npyio.NpzFile``) whose arrays are
    read with pickles refused, once none is found to hold objects.

    Raises:
        DeepImpressionError: a key holds an object array (a pickle; the
            first is named), before anything is unpickled.
        OSError, ValueError, zipfile.BadZipFile: not a readable npz.
    """
    path = os.fspath(path)
    npz = numpy.load(path, allow_pickle=False)
    if not hasattr(npz, 'files'):
        raise ValueError('a single array, not an npz archive')
    try:
        for key in _object_arrays(npz):
            raise _unsafe(path, key)
        yield npz
    finally:
        npz.close()


def load_npz(path, target, strict=True):
    """Load an ``.npz`` into a Chainer link, optimizer or trainer in place,
    as ``chainer.serializers.load_npz`` does but with pickles refused.

    Raises:
        DeepImpressionError: a key holds an object array (nothing of it is
            unpickled).
        KeyError, ValueError, OSError: a missing key or an unreadable file
            (the caller words these).
    """
    import chainer
    with open_npz(path) as npz:
        chainer.serializers.NpzDeserializer(npz, strict=strict).load(target)
    return target


def load_npy(path, mmap=False):
    """The array of an ``.npy`` file, pickles refused; ``mmap`` gives a
    read-only memory map.

    Raises:
        DeepImpressionError: the file holds an object array.
        OSError, ValueError: not a readable ``.npy`` (the caller words it).
    """
    path = os.fspath(path)
    try:
        array = numpy.load(path, mmap_mode='r' if mmap else None,
                           allow_pickle=False)
    except ValueError as e:
        if _is_pickle_refusal(e):
            raise _unsafe(path, 'the array') from None
        raise
    if not isinstance(array, numpy.ndarray):
        raise ValueError('an npz archive, not a single array')
    return array
