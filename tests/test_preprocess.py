"""Preprocessing gives 16 kHz audio and 456x256 25 fps frames, survives
interruption and bad clips, and reads the release as downloaded."""

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import numpy
import pytest

from deep_impression.data import chalearn, store, synth
from deep_impression import cli, media
from deep_impression.constants import TRAITS
from deep_impression.errors import DeepImpressionError
from deep_impression.data.preprocess import preprocess
from deep_impression.data.store import ClipStore

from clips import make_clip
from conftest import SYNTHETIC

HERE = os.path.dirname(os.path.abspath(__file__))


def _sources(raw):
    return {os.path.basename(p)[:-4]: p for p in glob.glob(
        os.path.join(raw, '**', '*.mp4'), recursive=True)}


def _check_consistent(root, expect_ids=None):
    """Every clip the store lists is whole: frames decode at the recorded
    count and size, audio has the recorded length; no temporary files."""
    s = ClipStore(root)
    ids = s.clip_ids()
    if expect_ids is not None:
        assert sorted(ids) == sorted(expect_ids)
    for clip_id in ids:
        chunks = list(s.iter_frames(clip_id, chunk=64))
        frames = numpy.concatenate(chunks)
        assert frames.shape == (s.num_frames(clip_id), 256, 456, 3)
        assert s.audio(clip_id).shape == (s.num_samples(clip_id),)
    leftovers = [n for n in os.listdir(os.path.join(root, 'clips'))
                 if '.tmp-' in n]
    assert leftovers == []
    return s


def test_store_has_exact_counts_sizes_and_labels(synthetic_raw,
                                                 synthetic_store):
    s = ClipStore(synthetic_store)
    assert s.frame_size == (456, 256)
    assert len(s.clip_ids('train')) == SYNTHETIC['train']
    assert len(s.clip_ids('validation')) == SYNTHETIC['val']
    assert len(s.clip_ids('test')) == SYNTHETIC['test']
    seconds = SYNTHETIC['seconds']
    sources = _sources(synthetic_raw)
    table = chalearn.read_annotations(os.path.join(
        synthetic_raw, 'annotation_training.pkl'))
    for clip_id in s.clip_ids():
        assert s.num_samples(clip_id) == int(seconds * 16000)   # 32000
        assert s.num_frames(clip_id) == int(seconds * 25)       # 50
    clip_id = s.clip_ids('train')[0]
    numpy.testing.assert_allclose(
        s.labels(clip_id),
        [table[t][clip_id + '.mp4'] for t in TRAITS], rtol=1e-6)
    # Audio is stored exactly as decoded; frames within JPEG error.
    numpy.testing.assert_array_equal(
        s.audio(clip_id), media.decode_audio(sources[clip_id]))
    frames = media.read_frames(sources[clip_id])
    stored = s.frames(clip_id, [0, 17, 49])
    assert stored.dtype == numpy.uint8
    error = numpy.abs(stored.astype(float) - frames[[0, 17, 49]]).mean()
    assert error < 2.0
    record = s.record(clip_id)
    assert record['source_sha1'] == chalearn.sha1_of(sources[clip_id])
    assert record['split'] == 'train' and record['status'] == 'ok'


def _write_labels(raw, names, split='train'):
    rng = numpy.random.default_rng(0)
    table = {k: {n: float(rng.uniform()) for n in names}
             for k in chalearn.ANNOTATION_KEYS}
    chalearn.write_annotations(
        os.path.join(raw, chalearn.ANNOTATION_FILES[split]), table)


def test_fifteen_seconds_and_each_kind_of_bad_clip(tmp_path):
    raw = tmp_path / 'raw' / 'training80_01'
    raw.mkdir(parents=True)
    good = make_clip(raw / 'GoodClip___.000.mp4', seconds=15, size=(64, 36))
    shutil.copy(good, str(raw / 'NoLabels___.000.mp4'))
    data = open(good, 'rb').read()
    (raw / 'Truncated__.000.mp4').write_bytes(data[:len(data) // 2])
    (raw / 'NotAVideo__.000.mp4').write_text('this is not a video\n' * 50)
    (raw / 'EmptyFile__.000.mp4').write_bytes(b'')
    make_clip(raw / 'NoAudio____.000.mp4', seconds=1, size=(64, 36),
              audio=False)
    make_clip(raw / 'NoVideo____.000.mp4', seconds=1, video=False)
    labelled = ['GoodClip___', 'Truncated__', 'NotAVideo__', 'EmptyFile__',
                'NoAudio____', 'NoVideo____', 'MissingClip']
    _write_labels(str(tmp_path / 'raw'), [n + '.000.mp4' for n in labelled])
    summary = preprocess(str(tmp_path / 'raw'), str(tmp_path / 'store'))
    reasons = dict(summary['failed'])
    assert set(reasons) == {'Truncated__.000', 'NotAVideo__.000',
                            'EmptyFile__.000', 'NoAudio____.000',
                            'NoVideo____.000'}
    assert 'truncated' in reasons['Truncated__.000']
    assert 'not a video' in reasons['NotAVideo__.000']
    assert 'empty' in reasons['EmptyFile__.000']
    assert 'no audio track' in reasons['NoAudio____.000']
    assert 'no video track' in reasons['NoVideo____.000']
    assert summary['unlabelled'] == ['NoLabels___.000']
    assert summary['labels_without_clips'] == ['MissingClip.000.mp4']
    s = _check_consistent(str(tmp_path / 'store'), ['GoodClip___.000'])
    assert s.num_samples('GoodClip___.000') == 240000   # 15 s at 16 kHz
    assert s.num_frames('GoodClip___.000') == 375        # 15 s at 25 fps
    with open(tmp_path / 'store' / 'report.json') as f:
        report = json.load(f)
    assert dict(report['failed']) == reasons
    records = store.read_manifest(str(tmp_path / 'store'))
    assert records['NoLabels___.000']['status'] == 'unlabelled'
    assert records['NoAudio____.000']['status'] == 'failed'


def test_killed_run_resumes_to_a_consistent_store(synthetic_raw, tmp_path):
    out = str(tmp_path / 'store')
    manifest = os.path.join(out, 'manifest.jsonl')
    code = ('import sys; sys.path.insert(0, {!r}); '
            'from deep_impression.data.preprocess import preprocess; '
            'preprocess({!r}, {!r}, jobs=1)').format(
                os.path.dirname(HERE), synthetic_raw, out)
    proc = subprocess.Popen([sys.executable, '-c', code],
                            start_new_session=True)
    deadline = time.time() + 60
    lines = 0
    while time.time() < deadline and proc.poll() is None:
        if os.path.exists(manifest):
            with open(manifest) as f:
                lines = sum(1 for _ in f)
            if lines >= 2:
                break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    total = len(_sources(synthetic_raw))
    assert 2 <= lines < total, 'the run was not stopped in the middle'
    done = _check_consistent(out).clip_ids()
    assert len(done) >= 2
    summary = preprocess(synthetic_raw, out, jobs=2)
    assert summary['skipped'] == len(done)
    assert summary['processed'] == total - len(done)
    _check_consistent(out, list(_sources(synthetic_raw)))
    with open(manifest) as f:
        assert sum(1 for _ in f) == total


def test_interrupted_run_with_leftovers(synthetic_raw, tmp_path, monkeypatch):
    from deep_impression.data import preprocess as module
    out = str(tmp_path / 'store')
    real = module.process_clip
    calls = []

    def failing(task, options=None):
        calls.append(task['clip_id'])
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(task, options)
    monkeypatch.setattr(module, 'process_clip', failing)
    with pytest.raises(KeyboardInterrupt):
        preprocess(synthetic_raw, out, jobs=1)
    monkeypatch.setattr(module, 'process_clip', real)
    assert len(ClipStore(out).clip_ids()) == 3
    # What a kill can leave: a half-written temporary, a clip file renamed
    # into place without its manifest line, a manifest line cut short.
    victim = calls[3]
    clips = os.path.join(out, 'clips')
    open(os.path.join(clips, victim + '.frames.tmp-999'), 'wb').write(b'x')
    open(store.frames_path(out, victim), 'wb').write(b'garbage')
    with open(os.path.join(out, 'manifest.jsonl'), 'a') as f:
        f.write('{"clip_id": "' + victim + '", "stat')
    assert victim not in ClipStore(out).clip_ids()
    summary = preprocess(synthetic_raw, out, jobs=1)
    assert summary['skipped'] == 3 and not summary['failed']
    _check_consistent(out, list(_sources(synthetic_raw)))


def test_release_as_downloaded_zips_cli_and_frame_transform(tmp_path):
    raw = str(tmp_path / 'download')
    assert cli.main(['synth', raw, '--train', '2', '--val', '1', '--test',
                     '1', '--seconds', '1', '--size', '64x36',
                     '--archives']) == 0
    names = sorted(os.listdir(raw))
    assert 'train-1.zip' in names and 'train-annotation.zip' in names
    assert not any(n.endswith('.mp4') or n.endswith('.pkl') for n in names)
    out = str(tmp_path / 'store')
    assert cli.main(['preprocess', raw, out, '--jobs', '2']) == 0
    s = _check_consistent(out)
    assert [len(s.clip_ids(k)) for k in ('train', 'validation', 'test')] \
        == [2, 1, 1]
    source = s.record(s.clip_ids('train')[0])['source']
    assert source.count(chalearn.ARCHIVE_SEP) == 2
    assert os.listdir(os.path.join(out, 'tmp')) == []
    summary = preprocess(raw, out)
    assert summary['skipped'] == 4 and summary['processed'] == 0
    # Another store's settings are refused, not mixed in.
    with pytest.raises(DeepImpressionError, match='other settings'):
        preprocess(raw, out, quality=50)

    def every_other_cropped(chunk):
        kept = chunk[::2, 10:106, 20:148]
        return kept, len(chunk) - len(kept)
    faces = str(tmp_path / 'faces')
    preprocess(raw, faces, jobs=1, frame_transform=every_other_cropped)
    f = ClipStore(faces)
    clip_id = f.clip_ids('train')[0]
    assert f.frame_size == (128, 96)
    assert f.num_frames(clip_id) == 13 and \
        f.record(clip_id)['frames_dropped'] == 12
    assert f.frame(clip_id, 0).shape == (96, 128, 3)
    full = ClipStore(out)
    error = numpy.abs(f.frame(clip_id, 3).astype(float)
                      - full.frame(clip_id, 6)[10:106, 20:148]).mean()
    assert error < 3.0


def test_errors_name_the_folder(tmp_path):
    with pytest.raises(DeepImpressionError, match='no .mp4 clips'):
        preprocess(str(tmp_path), str(tmp_path / 'out'))
    with pytest.raises(DeepImpressionError, match='not a clip store'):
        ClipStore(str(tmp_path))
    assert synth.CLIPS_PER_FOLDER == 80


def test_zip_bomb_is_refused_in_small_memory_and_disk(tmp_path):
    # Issue 23: train-1.zip with a 2-GiB entry of zeros took preprocess to
    # 4.25 GB of memory and 2 GB of temporary disk. Here 256 MiB of zeros
    # (an archive of about 1 MiB) beside a good clip, in a process that
    # may not write a file over 16 MiB.
    from processes import run_bounded
    raw = tmp_path / 'raw'
    raw.mkdir()
    good = make_clip(tmp_path / 'good.mp4', seconds=1.2, size=(64, 36))
    with zipfile.ZipFile(str(raw / 'train-1.zip'), 'w', zipfile.ZIP_DEFLATED,
                         compresslevel=1) as zf:
        zf.write(good, 'training80_01/GoodClip___.000.mp4')
        with zf.open('training80_01/ZipBomb____.000.mp4', 'w') as f:
            for _ in range(256):
                f.write(bytes(1 << 20))
    assert os.path.getsize(str(raw / 'train-1.zip')) < 2 << 20
    _write_labels(str(raw), ['GoodClip___.000.mp4', 'ZipBomb____.000.mp4'])
    code = (
        'import json, resource, signal, sys\n'
        'signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # EFBIG, no kill\n'
        'resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 20, 16 << 20))\n'
        'from deep_impression.data.preprocess import preprocess\n'
        'from deep_impression import media\n'
        'before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n'
        's = preprocess(sys.argv[1], sys.argv[2], jobs=1)\n'
        'after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n'
        'print(json.dumps([s["ok"], s["failed"], (after - before) >> 10]))\n')
    env = dict(os.environ, PYTHONPATH=os.path.dirname(HERE))
    rc, out, _ = run_bounded(
        [sys.executable, '-c', code, str(raw), str(tmp_path / 'store')], 120,
        'preprocess of a zip bomb', env=env, stderr=subprocess.DEVNULL)
    assert rc == 0
    ok, failed, grown_mib = json.loads(out.decode().splitlines()[-1])
    assert ok == 1
    (clip_id, reason), = failed
    assert clip_id == 'ZipBomb____.000' and reason.startswith(
        '{}!training80_01/ZipBomb____.000.mp4: refused: expands to 256.0 '
        'MiB, '.format(raw / 'train-1.zip'))
    # Reading the entry whole would have grown the process by 256 MiB.
    assert grown_mib < 100


def test_clip_labelled_in_two_splits_is_left_out_and_named(tmp_path, capsys):
    # Issue 23: a clip in the training and the test annotations with
    # different labels went silently to the test split.
    raw = tmp_path / 'raw' / 'training80_01'
    raw.mkdir(parents=True)
    for name in ('GoodClip___', 'TwoSplits__'):
        make_clip(raw / (name + '.000.mp4'), seconds=1.1, size=(64, 36))
    root = str(tmp_path / 'raw')
    _write_labels(root, ['GoodClip___.000.mp4', 'TwoSplits__.000.mp4'])
    _write_labels(root, ['TwoSplits__.000.mp4', 'TestOnly___.000.mp4'],
                  split='test')
    out = str(tmp_path / 'store')
    assert cli.main(['preprocess', root, out, '--jobs', '1']) == 1
    line = ('TwoSplits__.000.mp4: labelled in {} (train) and in {} (test) '
            'with different values; left out of the store, as a clip '
            'belongs to one split (correct the annotation files)'.format(
                os.path.join(root, 'annotation_training.pkl'),
                os.path.join(root, 'annotation_test.pkl')))
    assert '  TwoSplits__.000: {}\n'.format(line) in capsys.readouterr().err
    s = ClipStore(out)
    assert s.clip_ids() == ['GoodClip___.000']
    with open(os.path.join(out, 'report.json')) as f:
        assert json.load(f)['failed'] == [['TwoSplits__.000', line]]
