"""Atomic writes: the old file survives a failed write, no temp file stays."""

import json
import os

import pytest

from deep_impression import fileio


def test_write_then_replace(tmp_path):
    path = tmp_path / 'sub' / 'a.json'
    fileio.write_json(str(path), {'x': 1})
    fileio.write_json(str(path), {'x': 2})
    assert json.loads(path.read_text()) == {'x': 2}
    assert os.listdir(tmp_path / 'sub') == ['a.json']


def test_failure_keeps_old_file_and_removes_temporary(tmp_path):
    path = tmp_path / 'report.md'
    fileio.write_text(str(path), 'old')
    with pytest.raises(RuntimeError):
        with fileio.atomic_open(str(path)) as f:
            f.write('half of the new')
            raise RuntimeError('crash while writing')
    assert path.read_text() == 'old'
    assert os.listdir(tmp_path) == ['report.md']


def test_atomic_path_for_writers_that_take_a_name(tmp_path):
    import numpy
    path = tmp_path / 'audio.npy'
    with fileio.atomic_path(str(path), suffix='.npy') as tmp:
        assert not os.path.exists(path)
        numpy.save(tmp, numpy.arange(3, dtype='f'))
    assert numpy.load(path).tolist() == [0, 1, 2]
    assert os.listdir(tmp_path) == ['audio.npy']


def test_read_mode_refused(tmp_path):
    with pytest.raises(ValueError):
        with fileio.atomic_open(str(tmp_path / 'x'), 'r'):
            pass
