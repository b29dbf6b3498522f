"""The challenge's annotation pickles and file layout are read as released."""

import io
import os
import pickle
import pickletools
import struct
import zipfile

import numpy
import pytest

from deep_impression.data import chalearn
from deep_impression.constants import TRAITS
from deep_impression.errors import DeepImpressionError

KEYS = ('extraversion', 'neuroticism', 'agreeableness', 'conscientiousness',
        'interview', 'openness')


def _py2_cpickle(table):
    """What Python 2.7's ``cPickle.dumps(table, 2)`` writes for a dict of
    dicts of ``numpy.float64`` (memo opcodes included: BINPUT after every
    string, tuple, global and object; BINGET for the scalar function and the
    shared dtype), written out opcode by opcode."""
    count = [0]

    def put():
        count[0] += 1
        assert count[0] < 256
        return b'q' + bytes([count[0]])

    def string(data):
        if isinstance(data, str):
            data = data.encode('ascii')
        return b'U' + bytes([len(data)]) + data + put()

    out = b'\x80\x02}q\x00('
    refs = {}
    for key, values in table.items():
        out += string(key) + b'}' + put() + b'('
        for name, value in values.items():
            out += string(name)
            if not refs:
                out += b'cnumpy.core.multiarray\nscalar\n' + put()
                refs['scalar'] = count[0]
                out += b'cnumpy\ndtype\n' + put()
                out += string('f8') + b'K\x00K\x01\x87' + put() + b'R' + put()
                refs['dtype'] = count[0]
                out += (b'(K\x03' + string('<') + b'NNN'
                        + b'J\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t' + put()
                        + b'b')
            else:
                out += (b'h' + bytes([refs['scalar']])
                        + b'h' + bytes([refs['dtype']]))
            out += (string(struct.pack('<d', value)) + b'\x86' + put()
                    + b'R' + put())
        out += b'u'
    return out + b'u.'


def _labels(n=3, seed=0):
    rng = numpy.random.default_rng(seed)
    names = ['{}.{:03d}.mp4'.format(''.join(rng.choice(list('abcXYZ019_-'),
                                                       11)), i)
             for i in range(n)]
    return {k: {name: float(rng.uniform(0.05, 0.95)) for name in names}
            for k in KEYS}


def test_python2_pickle_needs_latin1_and_reads_right():
    table = _labels()
    data = _py2_cpickle(table)
    # What the challenge's users met: the default ASCII decoding fails on
    # the raw float64 bytes, latin-1 gives the numbers back.
    with pytest.raises(UnicodeDecodeError):
        pickle.loads(data)
    assert pickle.loads(data, encoding='latin1') == table
    loaded = chalearn.loads_annotations(data)
    assert set(loaded) == set(KEYS)
    for key in KEYS:
        assert loaded[key] == table[key]
        assert all(type(v) is float for v in loaded[key].values())


def test_written_pickles_are_python2_style(tmp_path):
    table = _labels(n=1200)   # more than one SETITEMS batch
    path = str(tmp_path / 'annotation_training.pkl')
    chalearn.write_annotations(path, table)
    data = open(path, 'rb').read()
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops(data)]
    assert ops[0] == ('PROTO', 2)
    names = {name for name, _ in ops}
    # Python 2 str keys: byte strings, never unicode opcodes.
    assert 'SHORT_BINSTRING' in names
    assert not names & {'BINUNICODE', 'SHORT_BINUNICODE', 'UNICODE'}
    assert ('GLOBAL', 'numpy.core.multiarray scalar') in ops
    with pytest.raises(UnicodeDecodeError):
        pickle.loads(data)
    by_bytes = pickle.loads(data, encoding='bytes')
    assert set(by_bytes) == {k.encode() for k in KEYS}
    assert pickle.loads(data, encoding='latin1') == table
    assert chalearn.read_annotations(path) == table
    labels = chalearn.labels_by_clip(chalearn.read_annotations(path))
    name = next(iter(table['openness']))
    numpy.testing.assert_array_equal(
        labels[name[:-4]], numpy.array([table[t][name] for t in TRAITS],
                                       dtype=numpy.float32))


def test_refuses_other_pickles(tmp_path):
    class Evil(object):
        def __reduce__(self):
            return (os.system, ('true',))
    with pytest.raises(DeepImpressionError, match='not a readable'):
        chalearn.loads_annotations(pickle.dumps({'extraversion': Evil()}))
    with pytest.raises(DeepImpressionError, match='outside'):
        bad = _labels()
        bad['openness'][next(iter(bad['openness']))] = 1.5
        chalearn.loads_annotations(chalearn.dumps_py2_annotations(bad))
    with pytest.raises(DeepImpressionError, match='no neuroticism'):
        chalearn.loads_annotations(chalearn.dumps_py2_annotations(
            {k: v for k, v in _labels().items() if k != 'neuroticism'}))
    path = tmp_path / 'annotation_test.pkl'
    path.write_bytes(b'not a pickle')
    with pytest.raises(DeepImpressionError, match='annotation_test.pkl'):
        chalearn.read_annotations(str(path))


def _zip_bytes(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w') as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def test_scan_finds_clips_at_any_depth_and_in_nested_zips(tmp_path):
    deep = tmp_path / 'a' / 'b' / 'training80_01'
    deep.mkdir(parents=True)
    (deep / 'AAAAAAAAAAA.001.mp4').write_bytes(b'clip one')
    (tmp_path / 'annotation_training.pkl').write_bytes(b'x')
    inner = _zip_bytes([('validation80_01/BBBBBBBBBBB.002.mp4', b'clip two'),
                        ('validation80_01/readme.txt', b'-')])
    (tmp_path / 'val-1.zip').write_bytes(_zip_bytes([
        ('validation80_01.zip', inner),
        ('annotation_validation.pkl', b'y')]))
    (tmp_path / 'broken.zip').write_bytes(b'PK\x03\x04 but nothing more')
    found = chalearn.scan(str(tmp_path))
    sources = [s for s, _ in found['clips']]
    assert len(sources) == 2
    nested = [s for s in sources if chalearn.ARCHIVE_SEP in s][0]
    assert nested.endswith('val-1.zip!validation80_01.zip!'
                           'validation80_01/BBBBBBBBBBB.002.mp4')
    assert chalearn.read_source(nested) == b'clip two'
    assert dict(found['clips'])[nested] == len(b'clip two')
    assert chalearn.clip_id(nested) == 'BBBBBBBBBBB.002'
    assert chalearn.path_split(nested) == 'validation'
    assert chalearn.path_split(str(deep / 'x.mp4')) == 'train'
    assert sorted(chalearn.annotation_split(a)
                  for a in found['annotations']) == ['train', 'validation']
    assert [os.path.basename(b) for b, _ in found['bad_archives']] == [
        'broken.zip']
    path, temporary = chalearn.materialize(nested, str(tmp_path / 'tmp'))
    assert temporary and open(path, 'rb').read() == b'clip two'
    with pytest.raises(DeepImpressionError, match='cannot read'):
        chalearn.read_source(str(tmp_path / 'val-1.zip') + '!missing.mp4')
    with pytest.raises(DeepImpressionError, match='not a directory'):
        chalearn.scan(str(tmp_path / 'nothing'))


def _zeros_entry(zf, name, mib):
    """Write ``mib`` MiB of zeros as entry ``name``, deflated in 1-MiB
    blocks (the archive holds about 1/200 of it)."""
    with zf.open(name, 'w') as f:
        block = bytes(1 << 20)
        for _ in range(mib):
            f.write(block)


def test_archive_entries_beyond_the_limits_are_refused_unread(tmp_path):
    # Issue 23: a 2.1-MB archive expanding to 2 GiB was read into memory
    # and copied to disk. Here 8 MiB of zeros (about 200:1) and a 3-MiB
    # nested archive with a limit patched down to 2 MiB.
    raw = tmp_path / 'raw'
    raw.mkdir()
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, 'w') as nested:   # stored: about 1:1
        nested.writestr('training80_02/Nested_____.000.mp4', os.urandom(
            3 << 20))
    with zipfile.ZipFile(str(raw / 'train-1.zip'), 'w',
                         zipfile.ZIP_DEFLATED) as zf:
        _zeros_entry(zf, 'training80_01/ZipBomb____.000.mp4', 8)
        zf.writestr('training80_01/SmallClip__.000.mp4', b'\0' * 1000)
        zf.writestr('training80_02.zip', inner.getvalue())
    bomb = str(raw / 'train-1.zip') + '!training80_01/ZipBomb____.000.mp4'
    # The default limits: the bomb is listed, but refused when read,
    # before its temporary copy exists; a small entry compresses freely.
    found = chalearn.scan(str(raw))
    nested = str(raw / 'train-1.zip') + ('!training80_02.zip!training80_02/'
                                         'Nested_____.000.mp4')
    assert [c for c, _ in found['clips']] == sorted([
        bomb, str(raw / 'train-1.zip') + '!training80_01/SmallClip__.000.mp4',
        nested])
    with pytest.raises(DeepImpressionError) as e:
        chalearn.materialize(bomb, str(tmp_path / 'tmp'))
    assert str(e.value).startswith(
        '{}: refused: expands to 8.0 MiB, '.format(bomb))
    assert 'beyond the limits (1024 MiB, 20 times)' in str(e.value)
    assert os.listdir(str(tmp_path / 'tmp')) == []
    # Raised limits let it through, streamed to a file.
    copy, temporary = chalearn.materialize(
        bomb, str(tmp_path / 'tmp'), chalearn.ArchiveLimits(16 << 20, 1e4))
    assert temporary and os.path.getsize(copy) == 8 << 20
    # A size limit below the nested archive: that archive is a bad one.
    small = chalearn.ArchiveLimits(max_bytes=2 << 20, max_ratio=1e4)
    found = chalearn.scan(str(raw), small)
    (source, reason), = found['bad_archives']
    assert source == str(raw / 'train-1.zip') + '!training80_02.zip'
    assert reason.startswith('refused: expands to 3.0 MiB, 1 times its '
                             'compressed 3.0 MiB, beyond the limits (2 MiB')
    with pytest.raises(DeepImpressionError, match=r'train-1\.zip!training80_'
                                                  r'02\.zip: refused: expands'):
        chalearn.read_source(nested, small)
