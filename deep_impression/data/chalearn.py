"""The ChaLearn LAP 2016 First Impressions release: clips and annotations.

The challenge (paper §3) published 10,000 15-second YouTube clips: 6,000 for
training, 2,000 for validation and 2,000 for test. Clips are mp4 files named
``<11-character YouTube id>.<3 digits>.mp4`` (several clips per YouTube
video) in folders of 80 (``training80_01`` ... ``training80_75``,
``validation80_01`` ..., ``test80_01`` ...), each folder shipped as a zip
archive that was itself packed into larger archives (``train-1.zip`` ...).
People extract them in many ways, so clips are found at any depth, and inside
``.zip`` archives (nested ones too) when those are given as downloaded.

The labels come as three Python 2 pickles, ``annotation_training.pkl``,
``annotation_validation.pkl`` and ``annotation_test.pkl``: a dict from trait
name (the five of :data:`~deep_impression.constants.TRAITS` plus
``'interview'``) to a dict from clip file name (``'J4GQm9j0JZ0.003.mp4'``) to
a value in [0, 1]. The values are NumPy ``float64`` scalars, which Python 2
pickled as ``numpy.core.multiarray.scalar(dtype, <8 raw bytes as a str>)``;
Python 3 decodes such a str as ASCII unless told otherwise and fails on those
raw bytes (``UnicodeDecodeError``), hence the well-known
``pickle.load(f, encoding='latin1')``: latin-1 maps each byte to one
character, and NumPy turns the characters back into the same 8 bytes.
:func:`write_annotations` writes pickles exactly that way (for the synthetic
stand-in and for tests); :func:`read_annotations` reads them with an
unpickler that only accepts what such a file may hold.

Archive entries are read with bounds (:class:`ArchiveLimits`): an entry
that would expand far beyond what the release holds, or far beyond its
compressed size (a "zip bomb"), is refused in one line before anything of
it is read.
"""

import collections
import contextlib
import io
import os
import pickle
import re
import struct
import zipfile

import numpy

from deep_impression import fileio
from deep_impression.constants import TRAITS
from deep_impression.errors import DeepImpressionError

#: The annotation dicts' keys: the Big Five plus the challenge's
#: "invite for interview" variable.
ANNOTATION_KEYS = TRAITS + ('interview',)

#: Splits of the challenge and their annotation files.
SPLITS = ('train', 'validation', 'test')
ANNOTATION_FILES = {
    'train': 'annotation_training.pkl',
    'validation': 'annotation_validation.pkl',
    'test': 'annotation_test.pkl',
}

#: Clip file names: an 11-character YouTube id, a dot, 3 digits, '.mp4'.
CLIP_NAME = re.compile(r'^[A-Za-z0-9_-]{11}\.\d{3}\.mp4$')

#: Separates an archive from a path inside it in a clip's source string,
#: e.g. ``train-1.zip!training80_01.zip!training80_01/abc.001.mp4``.
ARCHIVE_SEP = '!'

#: Bounds on one archive entry: ``max_bytes``, what it may expand to, and
#: ``max_ratio``, how many times its compressed size it may expand to.
ArchiveLimits = collections.namedtuple('ArchiveLimits', 'max_bytes max_ratio')

#: The default bounds. A challenge clip is 15 s of H.264, a few MB; the
#: largest entries of the release are the folders of 80 clips zipped
#: inside ``train-1.zip`` ..., some hundreds of MB, read into memory to be
#: walked: 1 GiB leaves room for longer clips without letting one entry
#: fill the memory. Video, and zips of videos, hardly compress (about 1:1);
#: an annotation pickle deflates about 5:1; 20:1 is four times that, while
#: a run of zeros deflates about 1000:1 (experiments/archive_ratios.py).
ARCHIVE_LIMITS = ArchiveLimits(max_bytes=1 << 30, max_ratio=20.0)

#: Entries up to this size (bytes) are not judged by their ratio: a small
#: file can compress well and cannot do harm.
RATIO_FREE_BYTES = 1 << 20


def clip_id(name):
    """A clip's id: its file name without the ``.mp4`` suffix."""
    name = os.path.basename(name)
    return name[:-4] if name.lower().endswith('.mp4') else name


def clip_name(clip_id):
    """The clip file name (annotation key) of a clip id."""
    return clip_id + '.mp4'


# ---------------------------------------------------------------------------
# Annotation pickles, as Python 2 wrote them

def _short_binstring(data):
    # A Python 2 ``str`` in pickle protocol 2: SHORT_BINSTRING or BINSTRING.
    if len(data) < 256:
        return b'U' + bytes([len(data)]) + data
    return b'T' + struct.pack('<i', len(data)) + data


def _py2_float64(value):
    # numpy.core.multiarray.scalar(dtype('float64'), '<8 raw bytes>') as
    # NumPy 1.x on Python 2 pickled a numpy.float64 (reduce + dtype state).
    dtype = (b'cnumpy\ndtype\n' + _short_binstring(b'f8') + b'K\x00K\x01\x87R'
             + b'(K\x03' + _short_binstring(b'<') + b'NNN'
             + b'J\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb')
    raw = struct.pack('<d', float(value))
    return (b'cnumpy.core.multiarray\nscalar\n' + dtype
            + _short_binstring(raw) + b'\x86R')


def dumps_py2_annotations(annotations):
    """Pickle bytes of an annotation dict as Python 2's cPickle wrote them.

    Protocol 2; keys are Python 2 ``str`` (byte strings); values are
    ``numpy.float64`` scalars whose payload is a raw byte string, so Python 3
    needs ``encoding='latin1'`` to load them.

    Args:
        annotations: dict ``{key: {clip file name: value}}``.
    """
    out = [b'\x80\x02}']
    for key in annotations:
        out.append(b'(')
        out.append(_short_binstring(key.encode('ascii')))
        out.append(b'}')
        items = list(annotations[key].items())
        # SETITEMS in batches of 1000, as cPickle does.
        for start in range(0, len(items), 1000):
            out.append(b'(')
            for name, value in items[start:start + 1000]:
                out.append(_short_binstring(name.encode('ascii')))
                out.append(_py2_float64(value))
            out.append(b'u')
        out.append(b'u')
    out.append(b'.')
    return b''.join(out)


def write_annotations(path, annotations):
    """Write an annotation pickle as the challenge did (atomically)."""
    fileio.write_bytes(path, dumps_py2_annotations(annotations))


class _AnnotationUnpickler(pickle.Unpickler):
    # Annotation files hold dicts, strings and NumPy scalars only: refuse
    # anything else a pickle could run.
    _allowed = {
        ('numpy.core.multiarray', 'scalar'),
        ('numpy._core.multiarray', 'scalar'),
        ('numpy', 'dtype'),
    }

    def find_class(self, module, name):
        if (module, name) not in self._allowed:
            raise pickle.UnpicklingError(
                'unexpected object {}.{} in an annotation file'.format(
                    module, name))
        if name == 'dtype':
            return numpy.dtype
        try:
            from numpy._core.multiarray import scalar
        except ImportError:  # NumPy 1.x
            from numpy.core.multiarray import scalar
        return scalar


def loads_annotations(data, name='annotations'):
    """Decode annotation pickle bytes to ``{key: {clip name: float}}``.

    Raises:
        DeepImpressionError: not an annotation pickle (``name`` is used in the
            message).
    """
    try:
        obj = _AnnotationUnpickler(io.BytesIO(data),
                                   encoding='latin1').load()
    except Exception as e:
        raise DeepImpressionError('{}: not a readable annotation pickle ({})'
                                  .format(name, e)) from None
    if not isinstance(obj, dict):
        raise DeepImpressionError('{}: expected a dict, found {}'.format(
            name, type(obj).__name__))
    result = {}
    for key, values in obj.items():
        if isinstance(key, bytes):
            key = key.decode('latin1')
        if not isinstance(values, dict):
            raise DeepImpressionError('{}: entry {!r} is not a dict'.format(
                name, key))
        table = {}
        for clip, value in values.items():
            if isinstance(clip, bytes):
                clip = clip.decode('latin1')
            value = float(value)
            if not 0.0 <= value <= 1.0:
                raise DeepImpressionError(
                    '{}: {} of {} is {}, outside [0, 1]'.format(
                        name, key, clip, value))
            table[clip] = value
        result[key] = table
    missing = [t for t in TRAITS if t not in result]
    if missing:
        raise DeepImpressionError('{}: no {} labels (keys found: {})'.format(
            name, ', '.join(missing), ', '.join(sorted(result)) or 'none'))
    return result


def read_annotations(path, limits=ARCHIVE_LIMITS):
    """Read an annotation pickle (a path, or a path inside archives, read
    within ``limits``).

    Returns:
        dict ``{key: {clip file name: float}}`` with the keys of
        :data:`ANNOTATION_KEYS` found in the file.
    """
    return loads_annotations(read_source(path, limits), name=path)


def labels_by_clip(annotations, dtype=numpy.float32):
    """``{clip id: (5,) labels in TRAITS order}`` of clips with all five
    (float32, as the store keeps them; scoring asks for float64)."""
    names = set.intersection(*(set(annotations[t]) for t in TRAITS))
    return {clip_id(name): numpy.array([annotations[t][name] for t in TRAITS],
                                       dtype=dtype)
            for name in names}


# ---------------------------------------------------------------------------
# Finding clips and annotation files at any depth and inside zip archives

def entry_problem(info, limits=ARCHIVE_LIMITS):
    """Why an archive entry is refused (a phrase), or None.

    Judged on the sizes the archive declares; :mod:`zipfile` never
    expands an entry beyond its declared size (it stops there and the
    CRC check fails), so a lying header cannot get past this either.

    Args:
        info: the entry's :class:`zipfile.ZipInfo`.
        limits: an :class:`ArchiveLimits`.
    """
    size, packed = info.file_size, max(info.compress_size, 1)
    if size <= limits.max_bytes and (size <= RATIO_FREE_BYTES or
                                     size <= limits.max_ratio * packed):
        return None
    return ('refused: expands to {:.1f} MiB, {:.0f} times its compressed '
            '{:.1f} MiB, beyond the limits ({:.0f} MiB, {:g} times) that '
            'guard against zip bombs (preprocess --max-entry-mb and '
            '--max-entry-ratio raise them)'.format(
                size / 2 ** 20, size / packed, packed / 2 ** 20,
                limits.max_bytes / 2 ** 20, limits.max_ratio))


def _read_entry(zf, name, source, limits):
    """The bytes of entry ``name`` of ``zf``, if within ``limits``
    (``source``: the entry's source string, for the message)."""
    info = zf.getinfo(name)
    problem = entry_problem(info, limits)
    if problem:
        raise DeepImpressionError('{}: {}'.format(source, problem))
    return zf.read(info)


def _walk_zip(zf, prefix, found, limits):
    for info in zf.infolist():
        if info.is_dir():
            continue
        inner = prefix + ARCHIVE_SEP + info.filename
        base = os.path.basename(info.filename)
        lower = base.lower()
        if lower.endswith('.zip'):
            problem = entry_problem(info, limits)
            if problem:
                found['bad_archives'].append((inner, problem))
                continue
            try:
                with zipfile.ZipFile(io.BytesIO(zf.read(info))) as nested:
                    _walk_zip(nested, inner, found, limits)
            except (zipfile.BadZipFile, RuntimeError, OSError) as e:
                found['bad_archives'].append((inner, str(e)))
        elif lower.endswith('.mp4'):
            found['clips'].append((inner, info.file_size))
        elif lower.endswith('.pkl') and lower.startswith('annotation_'):
            found['annotations'].append(inner)


def scan(raw_dir, limits=ARCHIVE_LIMITS):
    """Find clips and annotation pickles under ``raw_dir``.

    Looks at any depth and inside ``.zip`` archives (also nested ones). Clip
    sources are paths, or ``archive.zip!inner.zip!folder/clip.mp4`` strings
    (see :func:`read_source`). Nothing but regular files is opened: a FIFO,
    a device or a dangling link named like a clip is listed with size None
    (reading it says why it is refused); one named like an archive is a
    bad archive. Nested archives are read within ``limits``.

    Returns:
        dict with ``clips`` (list of ``(source, size in bytes or None)``,
        sorted),
        ``annotations`` (list of sources of ``annotation_*.pkl`` files) and
        ``bad_archives`` (list of ``(source, reason)``).

    Raises:
        DeepImpressionError: ``raw_dir`` is not a directory.
    """
    raw_dir = os.fspath(raw_dir)
    if not os.path.isdir(raw_dir):
        raise DeepImpressionError('{}: not a directory'.format(raw_dir))
    found = {'clips': [], 'annotations': [], 'bad_archives': []}
    for root, dirs, files in os.walk(raw_dir):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            lower = name.lower()
            if lower.endswith('.zip'):
                refused = fileio.not_regular(path)
                if refused:
                    found['bad_archives'].append((path, refused))
                    continue
                try:
                    with zipfile.ZipFile(path) as zf:
                        _walk_zip(zf, path, found, limits)
                except (zipfile.BadZipFile, OSError) as e:
                    found['bad_archives'].append((path, str(e)))
            elif lower.endswith('.mp4'):
                found['clips'].append((path, None if fileio.not_regular(
                    path) else os.path.getsize(path)))
            elif lower.endswith('.pkl') and lower.startswith('annotation_'):
                found['annotations'].append(path)
    found['clips'].sort(key=lambda clip: clip[0])
    return found


def annotation_split(source):
    """The split an annotation file's name stands for, or None."""
    name = os.path.basename(source.split(ARCHIVE_SEP)[-1])
    for split, file_name in ANNOTATION_FILES.items():
        if name == file_name:
            return split
    return None


def path_split(source):
    """The split a clip's folder names suggest (``training80_01`` ...)."""
    lower = source.lower()
    for split, words in (('train', ('training', 'train')),
                         ('validation', ('validation', 'val')),
                         ('test', ('test',))):
        for word in words:
            if re.search(r'(^|[/\\!_.-]){}'.format(word), lower):
                return split
    return None


def _source_error(source, e):
    return DeepImpressionError('{}: cannot read ({})'.format(
        source, e.strerror if isinstance(e, OSError) and e.strerror else e))


@contextlib.contextmanager
def open_source(source, limits=ARCHIVE_LIMITS):
    """A binary file object of a regular file, or of a member inside
    (nested) zip archives within ``limits``; a nested archive is read into
    memory, the member itself is streamed.

    Raises:
        DeepImpressionError: in one line naming ``source``: not a regular
            file, a missing archive or entry, a damaged archive, or an
            entry beyond ``limits``.
    """
    parts = source.split(ARCHIVE_SEP)
    with contextlib.ExitStack() as stack:
        fileio.check_regular_file(parts[0])
        try:
            if len(parts) == 1:
                f = stack.enter_context(open(source, 'rb'))
            else:
                zf = stack.enter_context(zipfile.ZipFile(parts[0]))
                for k in range(1, len(parts) - 1):
                    data = _read_entry(zf, parts[k], ARCHIVE_SEP.join(
                        parts[:k + 1]), limits)
                    zf = stack.enter_context(zipfile.ZipFile(io.BytesIO(
                        data)))
                info = zf.getinfo(parts[-1])
                problem = entry_problem(info, limits)
                if problem:
                    raise DeepImpressionError('{}: {}'.format(source,
                                                              problem))
                f = stack.enter_context(zf.open(info))
        except (OSError, KeyError, zipfile.BadZipFile, RuntimeError) as e:
            raise _source_error(source, e) from None
        yield f


def read_source(source, limits=ARCHIVE_LIMITS):
    """The bytes of a regular file, or of a member inside (nested) zip
    archives within ``limits`` (see :func:`open_source`)."""
    with open_source(source, limits) as f:
        return _read_block(f, source, -1)


def materialize(source, tmp_dir, limits=ARCHIVE_LIMITS):
    """A regular file's path for ``source``, and whether it is a temporary
    copy.

    Members of archives are copied to ``tmp_dir`` (ffmpeg needs to seek in
    an mp4) block by block, so memory stays small; an entry beyond
    ``limits`` is refused before anything is written. The caller removes
    the copy.

    Raises:
        DeepImpressionError: see :func:`open_source`.
        OSError: writing the copy failed (a full disk).
    """
    if ARCHIVE_SEP not in source:
        fileio.check_regular_file(source)
        return source, False
    os.makedirs(tmp_dir, exist_ok=True)
    path = os.path.join(tmp_dir, '{}-{}'.format(
        os.getpid(), os.path.basename(source.split(ARCHIVE_SEP)[-1])))
    with open_source(source, limits) as member:
        try:
            with open(path, 'wb') as f:
                for block in iter(lambda: _read_block(member, source), b''):
                    f.write(block)
        except BaseException:   # a damaged entry, a full disk: no leftover
            if os.path.exists(path):
                os.remove(path)
            raise
    return path, True


def _read_block(member, source, size=1 << 20):
    """Up to ``size`` bytes of ``member`` (all with -1); a damaged entry
    is one line naming ``source``."""
    try:
        return member.read(size)
    except (OSError, zipfile.BadZipFile, RuntimeError) as e:
        raise _source_error(source, e) from None


def sha1_of(path):
    """Hex SHA-1 of a file (the manifest's source checksum)."""
    return fileio.file_digest(path, 'sha1')

