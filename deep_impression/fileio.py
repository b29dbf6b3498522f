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

A folder that a run writes to for a long time (a clip store, a training
run) has one writer at a time: :func:`folder_lock`.
"""

import contextlib
import datetime
import errno
import hashlib
import json
import os
import socket
import stat
import sys
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


# ---------------------------------------------------------------------------
# One writer per folder

#: The lock file inside a folder that :func:`folder_lock` guards.
LOCK_FILE = '.lock'

#: Lock files this process holds (descriptor numbers); a forked child
#: (preprocess workers, data loaders) closes its copies, so a lock lives
#: exactly as long as the process that took it.
_held = set()


def _close_held_in_child():
    for fd in _held:
        try:
            os.close(fd)
        except OSError:
            pass
    _held.clear()


if hasattr(os, 'register_at_fork'):
    os.register_at_fork(after_in_child=_close_held_in_child)


def _holder(fd):
    """``(what, who)`` of a lock's holder, from what it wrote into the lock
    file."""
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode('utf-8'))
        return info['what'], 'pid {pid} on {host}, started {started}'.format(
            **info)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return 'run', 'a process that is just starting'


@contextlib.contextmanager
def folder_lock(folder, what):
    """Hold the one-writer lock of ``folder`` (created if needed).

    The lock is an advisory ``flock`` on ``folder/.lock``: the kernel
    releases it when the holder ends, however it ends (a kill, a power
    cut), so a lock never outlives its process and nothing needs cleaning
    up. The holder writes its pid, host and start time into the file for
    the message a second writer gets.

    Args:
        folder: the folder (a clip store, a run directory).
        what: what takes it, for the message (``'preprocess'``).

    Raises:
        DeepImpressionError: another process holds the lock: one line
            naming the folder and the holder; or ``folder`` cannot be
            written (:func:`ensure_dir`).
    """
    import fcntl
    from deep_impression.errors import DeepImpressionError
    folder = ensure_dir(folder)
    path = os.path.join(folder, LOCK_FILE)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise DeepImpressionError(
                '{}: another {} is writing here ({}); wait for it to end or '
                'choose another folder'.format(folder, *_holder(fd))) \
                from None
        started = datetime.datetime.now(datetime.timezone.utc)
        info = json.dumps(dict(
            pid=os.getpid(), host=socket.gethostname(),
            started=started.strftime('%Y-%m-%d %H:%M:%S UTC'), what=what,
            command=' '.join(sys.argv))).encode('utf-8')
        os.ftruncate(fd, 0)
        os.pwrite(fd, info, 0)
        _held.add(fd)
        yield path
    finally:
        _held.discard(fd)
        os.close(fd)   # releases the lock


# ---------------------------------------------------------------------------
# Files that are safe to read

def _kind(mode):
    for test, name in ((stat.S_ISFIFO, 'a FIFO'),
                       (stat.S_ISCHR, 'a character device'),
                       (stat.S_ISBLK, 'a block device'),
                       (stat.S_ISSOCK, 'a socket'),
                       (stat.S_ISDIR, 'a folder')):
        if test(mode):
            return name
    return 'not a plain file'


def not_regular(path):
    """Why ``path`` is not a regular file or a link to one (a phrase), or
    None when it is: missing, a dangling symbolic link, a symbolic link
    loop, unreadable metadata, or a FIFO, device, socket or folder."""
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except OSError as e:
        if os.path.islink(path) and e.errno == errno.ENOENT:
            return 'a symbolic link to a missing file ({})'.format(
                os.readlink(path))
        if e.errno == errno.ELOOP:
            return 'a symbolic link loop'
        return e.strerror or str(e)
    if not stat.S_ISREG(st.st_mode):
        return 'not a regular file ({})'.format(_kind(st.st_mode))
    return None


def check_regular_file(path):
    """Refuse anything but a regular file (or a link to one) before a
    read that would block on a FIFO or never end on ``/dev/zero``.

    Raises:
        DeepImpressionError: one line naming ``path`` and
            :func:`not_regular`'s reason.
    """
    from deep_impression.errors import DeepImpressionError
    reason = not_regular(path)
    if reason:
        raise DeepImpressionError('{}: {}'.format(os.fspath(path), reason))


# ---------------------------------------------------------------------------
# Arrays read with pickles refused

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
