"""`predict` over a collection: folders, provenance, resume, interruption,
exit statuses, and progress within a clip.

Most tests replace the network's work (``predict_video``) by a stand-in
that returns known numbers, so the collection logic is tested in seconds;
one test runs the real network on a tiny clip.
"""

import csv
import hashlib
import json
import os

import numpy
import pytest

import deep_impression
from deep_impression.cli import main
from deep_impression.constants import TRAITS
from deep_impression.inference import predict as predict_module
from deep_impression.media import find_videos

import clips
import reference


@pytest.fixture(scope='module')
def weights(tmp_path_factory):
    d = tmp_path_factory.mktemp('weights')
    return reference.write_release_file(
        str(d / 'model'), reference.random_release_weights(seed=3))


def _touch(path, data=b'x'):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)
    return path


@pytest.fixture
def folder(tmp_path):
    """A tree of stand-in videos (the network is replaced in these tests)."""
    root = tmp_path / 'videos'
    for name in ('b.mp4', 'a.MKV', 'sub/c.webm', 'sub/deeper/d.mov',
                 'notes.txt', '.hidden.mp4', 'sub/.x.mp4.tmp-1234'):
        _touch(str(root / name))
    return str(root)


class FakeNetwork(object):
    """Stands in for predict_video: traits from the file name, counted."""

    def __init__(self, fail=(), interrupt_at=None):
        self.calls = []
        self.fail, self.interrupt_at = fail, interrupt_at

    def traits(self, path):
        seed = int(hashlib.sha256(os.path.basename(path).encode())
                   .hexdigest()[:8], 16)
        return numpy.random.RandomState(seed).uniform(size=5).astype(
            numpy.float32)

    def __call__(self, path, model, backend=None, fps=25, max_frames=None,
                 decode='package', on_frames=None, fit='stretch',
                 strict=False):
        if len(self.calls) == self.interrupt_at:
            raise KeyboardInterrupt
        self.calls.append(path)
        if os.path.basename(path) in self.fail:
            raise deep_impression.errors.MediaError(
                '{}: no audio track'.format(path))
        return self.traits(path)


@pytest.fixture
def fake(monkeypatch):
    def install(**kwargs):
        network = FakeNetwork(**kwargs)
        monkeypatch.setattr(predict_module, 'predict_video', network)
        return network
    return install


def _csv(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def test_find_videos_recursive_media_only_sorted(folder, tmp_path):
    empty = str(tmp_path / 'empty')
    os.makedirs(empty)
    single = _touch(str(tmp_path / 'clip.data'))
    videos, empties = find_videos([folder, single, empty, folder])
    rel = [os.path.relpath(v, folder) for v in videos[:4]]
    assert rel == ['a.MKV', 'b.mp4', 'sub/c.webm', 'sub/deeper/d.mov']
    assert videos[4:] == [single]  # a named file is kept whatever its name
    assert empties == [empty]


def test_folder_to_csv_with_provenance(folder, weights, fake, tmp_path):
    network = fake()
    out = str(tmp_path / 'traits.csv')
    assert main(['predict', folder, '--weights', weights, '--output', out,
                 '--max-frames', '7']) == 0
    rows = _csv(out)
    assert [os.path.basename(r['video']) for r in rows] == [
        'a.MKV', 'b.mp4', 'c.webm', 'd.mov']
    with open(weights, 'rb') as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    for row, path in zip(rows, network.calls):
        assert row['video'] == path
        numpy.testing.assert_allclose([float(row[t]) for t in TRAITS],
                                      network.traits(path), atol=1e-6)
        assert row['version'] == deep_impression.__version__
        assert row['weights_sha256'] == sha[:12]
        assert row['release_weights'] == 'false'
        assert (row['backend'], row['fps'], row['max_frames']) == (
            'chainer', '25', '7')


def test_resume_skips_finished_videos_and_drops_a_torn_row(
        folder, weights, fake, tmp_path, capsys):
    out = str(tmp_path / 'traits.csv')
    network = fake()
    assert main(['predict', os.path.join(folder, 'b.mp4'), os.path.join(
        folder, 'a.MKV'), '--weights', weights, '--output', out]) == 0
    with open(out, 'a') as f:
        f.write(os.path.join(folder, 'sub', 'c.webm') + ',0.5,0.')  # torn
    network = fake()
    assert main(['predict', folder, '--weights', weights, '--output',
                 out]) == 0
    assert sorted(os.path.basename(p) for p in network.calls) == [
        'c.webm', 'd.mov']
    assert '2 of 4 videos already in' in capsys.readouterr().err
    assert len(_csv(out)) == 4
    network = fake()
    assert main(['predict', folder, '--weights', weights, '--output', out,
                 '--overwrite']) == 0
    assert len(network.calls) == 4 and len(_csv(out)) == 4


def test_resume_refuses_other_settings(folder, weights, fake, tmp_path,
                                       capsys):
    out = str(tmp_path / 'traits.json')
    fake()
    assert main(['predict', folder, '--weights', weights, '--output',
                 out]) == 0
    before = open(out).read()
    network = fake()
    assert main(['predict', folder, '--weights', weights, '--output', out,
                 '--fps', '5']) == 1
    err = capsys.readouterr().err
    assert 'fps 25, this run has 5' in err and '--overwrite' in err
    assert network.calls == [] and open(out).read() == before


@pytest.mark.parametrize('fmt', ['csv', 'json'])
def test_interrupted_run_keeps_finished_rows(folder, weights, fake, tmp_path,
                                             fmt):
    out = str(tmp_path / ('traits.' + fmt))
    fake(interrupt_at=2)
    assert main(['predict', folder, '--weights', weights, '--output',
                 out]) == 130
    if fmt == 'csv':
        videos = [r['video'] for r in _csv(out)]
    else:
        videos = [r['video'] for r in json.load(open(out))]
    assert [os.path.basename(v) for v in videos] == ['a.MKV', 'b.mp4']
    assert not [n for n in os.listdir(tmp_path) if '.tmp-' in n]


def test_output_checked_before_any_work(folder, weights, fake, tmp_path,
                                        capsys):
    network = fake()
    missing = str(tmp_path / 'typo' / 'traits.csv')
    assert main(['predict', folder, '--weights', weights, '--output',
                 missing]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'no such folder' in err[0]
    assert main(['predict', folder, '--weights', weights, '--output',
                 str(tmp_path)]) == 1
    assert 'is a folder' in capsys.readouterr().err
    broken = _touch(str(tmp_path / 'old.json'), b'{"half":')
    assert main(['predict', folder, '--weights', weights, '--output',
                 broken]) == 1
    assert 'not valid JSON' in capsys.readouterr().err
    assert network.calls == []


def test_exit_statuses(folder, weights, fake, tmp_path, capsys):
    fake(fail=('b.mp4',))
    out = str(tmp_path / 't.csv')
    empty = str(tmp_path / 'empty')
    os.makedirs(empty)
    assert main(['predict', folder, empty, '--weights', weights,
                 '--output', out]) == 1
    err = capsys.readouterr().err
    assert 'b.mp4: no audio track' in err
    assert 'no media files in this folder' in err
    assert '2 of 5 inputs failed' in err
    assert len(_csv(out)) == 3
    assert main(['predict', folder, '--weights', str(tmp_path / 'none')]) == 1
    with pytest.raises(SystemExit) as e:
        main(['predict', folder, '--max-frames', '0'])
    assert e.value.code == 2


def test_predict_videos_one_record_per_video(tmp_path, weights):
    clip = clips.make_clip(tmp_path / 'person.mp4', seconds=1.1,
                           size=(160, 90))
    broken = _touch(str(tmp_path / 'broken.mp4'), b'\x00' * 100)
    model = deep_impression.load_model(weights)
    counts = []
    expected = predict_module.predict_video(clip, model, max_frames=3,
                                            on_frames=counts.append)
    assert sum(counts) == 3
    records = deep_impression.predict_videos([clip, broken], model,
                                             max_frames=3,
                                             show_progress=False)
    assert [r['video'] for r in records] == [clip, broken]
    good, bad = records
    numpy.testing.assert_allclose([good[t] for t in TRAITS], expected,
                                  atol=1e-6)
    assert good['error'] is None and good['max_frames'] == 3
    assert bad['error'].startswith(broken) and bad[TRAITS[0]] is None
    assert good['weights_sha256'] == bad['weights_sha256'] is not None
    assert predict_module.frames_to_run(clip, fps=25) == 28
    assert predict_module.frames_to_run(clip, max_frames=3) == 3


def test_predict_videos_takes_folders(folder, fake):
    network = fake(fail=('c.webm',))
    records = deep_impression.predict_videos([folder], object(),
                                             show_progress=False)
    assert [os.path.basename(r['video']) for r in records] == [
        'a.MKV', 'b.mp4', 'c.webm', 'd.mov']
    assert [r['video'] for r in records] == network.calls
    assert [r['error'] is None for r in records] == [True, True, False, True]
    # Weights only in memory: no digest to give.
    assert records[0]['weights_sha256'] is None
    assert records[0]['backend'] == 'chainer'
