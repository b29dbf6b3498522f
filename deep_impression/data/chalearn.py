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
"""

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


def read_annotations(path):
    """Read an annotation pickle (a path, or a path inside archives).

    Returns:
        dict ``{key: {clip file name: float}}`` with the keys of
        :data:`ANNOTATION_KEYS` found in the file.
    """
    return loads_annotations(read_source(path), name=path)


def labels_by_clip(annotations, dtype=numpy.float32):
    """``{clip id: (5,) labels in TRAITS order}`` of clips with all five
    (float32, as the store keeps them; scoring asks for float64)."""
    names = set.intersection(*(set(annotations[t]) for t in TRAITS))
    return {clip_id(name): numpy.array([annotations[t][name] for t in TRAITS],
                                       dtype=dtype)
            for name in names}


# ---------------------------------------------------------------------------
# Finding clips and annotation files at any depth and inside zip archives

def _walk_zip(zf, prefix, found):
    for info in zf.infolist():
        if info.is_dir():
            continue
        inner = prefix + ARCHIVE_SEP + info.filename
        base = os.path.basename(info.filename)
        lower = base.lower()
        if lower.endswith('.zip'):
            try:
                with zf.open(info) as member:
                    data = member.read()
                with zipfile.ZipFile(io.BytesIO(data)) as nested:
                    _walk_zip(nested, inner, found)
            except (zipfile.BadZipFile, RuntimeError, OSError) as e:
                found['bad_archives'].append((inner, str(e)))
        elif lower.endswith('.mp4'):
            found['clips'].append((inner, info.file_size))
        elif lower.endswith('.pkl') and lower.startswith('annotation_'):
            found['annotations'].append(inner)


def scan(raw_dir):
    """Find clips and annotation pickles under ``raw_dir``.

    Looks at any depth and inside ``.zip`` archives (also nested ones). Clip
    sources are paths, or ``archive.zip!inner.zip!folder/clip.mp4`` strings
    (see :func:`read_source`).

    Returns:
        dict with ``clips`` (list of ``(source, size in bytes)``, sorted),
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
                try:
                    with zipfile.ZipFile(path) as zf:
                        _walk_zip(zf, path, found)
                except (zipfile.BadZipFile, OSError) as e:
                    found['bad_archives'].append((path, str(e)))
            elif lower.endswith('.mp4'):
                found['clips'].append((path, os.path.getsize(path)))
            elif lower.endswith('.pkl') and lower.startswith('annotation_'):
                found['annotations'].append(path)
    found['clips'].sort()
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


def read_source(source):
    """The bytes of a file, or of a member inside (nested) zip archives."""
    parts = source.split(ARCHIVE_SEP)
    try:
        if len(parts) == 1:
            with open(source, 'rb') as f:
                return f.read()
        zf = zipfile.ZipFile(parts[0])
        try:
            for inner in parts[1:-1]:
                data = zf.read(inner)
                zf.close()
                zf = zipfile.ZipFile(io.BytesIO(data))
            return zf.read(parts[-1])
        finally:
            zf.close()
    except (OSError, KeyError, zipfile.BadZipFile, RuntimeError) as e:
        raise DeepImpressionError('{}: cannot read ({})'.format(source, e)) \
            from None


def materialize(source, tmp_dir):
    """A real file path for ``source``, and whether it is a temporary copy.

    Members of archives are copied to ``tmp_dir`` (ffmpeg needs to seek in an
    mp4); the caller removes the copy.
    """
    if ARCHIVE_SEP not in source:
        return source, False
    os.makedirs(tmp_dir, exist_ok=True)
    path = os.path.join(tmp_dir, '{}-{}'.format(
        os.getpid(), os.path.basename(source.split(ARCHIVE_SEP)[-1])))
    data = read_source(source)
    with open(path, 'wb') as f:
        f.write(data)
    return path, True


def sha1_of(path):
    """Hex SHA-1 of a file (the manifest's source checksum)."""
    return fileio.file_digest(path, 'sha1')

