"""Damaged files, dead workers, full disks and typos: nothing hangs, nothing
is lost, and bad input gets one line (issue 17). One test per class of
problem.

Operations that hung before run in a child process with a time limit, so a
regression fails instead of hanging the suite.
"""

import errno
import json
import os
import signal
import subprocess
import sys

import numpy
import pytest

from deep_impression import cli, media
from deep_impression.data import chalearn, store
from deep_impression.data import preprocess as preprocess_module
from deep_impression.data.preprocess import preprocess
from deep_impression.errors import DeepImpressionError, MediaError
from deep_impression.inputs import even_indices

from clips import make_clip
from processes import run_bounded

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code, timeout=180):
    """Run ``code`` in a fresh interpreter (this checkout's package), killing
    it and its ffmpeg children after ``timeout`` seconds."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [ROOT, os.path.join(ROOT, 'tests')]))
    code, out, err = run_bounded([sys.executable, '-c', code], timeout,
                                 'it hangs', env=env, stderr=subprocess.PIPE)
    return code, out.decode(), err.decode()


def damaged_clip(path, seconds=12, overwrites=8000):
    """A clip whose picture is damaged throughout: ``overwrites`` random
    16-byte overwrites between 10% and 90% of the file. Its decoder writes
    about 87 KB of errors, more than a pipe holds (64 KB)."""
    clean = make_clip(str(path) + '.clean.mp4', seconds=seconds,
                      size=(160, 90), fps=25)
    data = bytearray(open(clean, 'rb').read())
    rng = numpy.random.RandomState(0)
    for p in rng.randint(len(data) // 10, len(data) * 9 // 10, overwrites):
        data[p:p + 16] = rng.bytes(16)
    with open(str(path), 'wb') as f:
        f.write(bytes(data))
    return str(path)


def write_labels(raw, names, value=0.5, split='train'):
    table = {k: {n: value for n in names} for k in chalearn.ANNOTATION_KEYS}
    chalearn.write_annotations(
        os.path.join(str(raw), chalearn.ANNOTATION_FILES[split]), table)


def small_release(root, names, seconds=1.5):
    """A raw release of tiny clips named ``<name>.000.mp4`` with labels."""
    folder = root / 'training80_01'
    folder.mkdir(parents=True)
    for name in names:
        make_clip(folder / (name + '.000.mp4'), seconds=seconds,
                  size=(64, 36))
    write_labels(root, [n + '.000.mp4' for n in names])
    return str(root)


class Capture(object):
    """A stand-in model that keeps the frames ``predict_video`` gives it."""

    def predict(self, audio, frames, on_frames=None):
        self.frames = numpy.concatenate(list(frames))
        return numpy.zeros(5, numpy.float32)


# -- 1. hangs: a damaged picture ---------------------------------------------

def test_damaged_video_neither_hangs_nor_passes_silently(tmp_path):
    # Before the fix ffmpeg blocked on its full error pipe while we waited
    # for frames: this ran for ever.
    bad = damaged_clip(tmp_path / 'bad.mp4')
    code, out, err = run_python(
        'from deep_impression import media\n'
        'print(sum(len(c) for c in media.iter_frames({!r})))\n'.format(bad))
    assert code == 0, err
    assert int(out) == 300                      # 12 s at 25 frames/s
    assert err.count('\n') == 1
    assert err.startswith('deep-impression: warning: {}: damaged or '
                          'truncated file ('.format(bad))
    assert 'decoder error lines in the video' in err
    # --strict: the same file is an error.
    with pytest.raises(MediaError, match='damaged or truncated'):
        for _ in media.iter_frames(bad, strict=True):
            pass


# -- 7. one policy for damaged files, predict and preprocess -----------------

def test_short_track_policy_warns_or_raises():
    lines = []
    media.check_decoded('x.mp4', 'audio', 1.96, 3.0, warn=lines.append)
    assert lines == ['x.mp4: damaged or truncated file (the audio decodes '
                     'to 1.96 s of the 3.00 s the container declares)']
    with pytest.raises(MediaError, match='x.mp4: damaged'):
        media.check_decoded('x.mp4', 'audio', 1.96, 3.0, strict=True)
    # Within 2% less 0.25 s is a good file; no duration, nothing to check.
    media.check_decoded('x.mp4', 'audio', 3.0 * 0.98 - 0.2, 3.0,
                        strict=True)
    media.check_decoded('x.mp4', 'audio', 0.5, None, strict=True)


def test_preprocess_follows_the_same_policy(tmp_path):
    raw = tmp_path / 'raw' / 'training80_01'
    raw.mkdir(parents=True)
    damaged_clip(raw / 'Damaged____.000.mp4')
    os.remove(str(raw / 'Damaged____.000.mp4.clean.mp4'))
    write_labels(tmp_path / 'raw', ['Damaged____.000.mp4'])
    summary = preprocess(str(tmp_path / 'raw'), str(tmp_path / 'lenient'))
    assert summary['ok'] == 1 and not summary['failed']
    assert summary['warnings'] and all(
        clip_id == 'Damaged____.000' and line.startswith(
            '{}: damaged or truncated file ('.format(
                raw / 'Damaged____.000.mp4'))
        for clip_id, line in summary['warnings'])
    summary = preprocess(str(tmp_path / 'raw'), str(tmp_path / 'strict'),
                         strict=True)
    (clip_id, reason), = summary['failed']
    assert 'Damaged____.000.mp4: damaged or truncated file' in reason


# -- 2. hangs: a worker killed during preprocess -----------------------------

class KillOnce(object):
    """Frame transform whose process SIGKILLs itself while ``marker``
    exists (removing it first, so the retry gets through)."""

    def __init__(self, marker):
        self.marker = marker

    def __call__(self, frames):
        if self.marker is None or os.path.exists(self.marker):
            if self.marker is not None:
                os.remove(self.marker)
            os.kill(os.getpid(), signal.SIGKILL)
        return frames, 0


def test_killed_worker_costs_one_clip_at_most(tmp_path):
    raw = small_release(tmp_path / 'raw', ['ClipAAAAAAA', 'ClipBBBBBBB'])
    marker = tmp_path / 'kill-once'
    marker.write_text('')
    code, out, err = run_python(
        'import json\n'
        'from deep_impression.data.preprocess import preprocess\n'
        'from test_faults import KillOnce\n'
        'for name, marker in (("once", {!r}), ("always", None)):\n'
        '    s = preprocess({!r}, {!r} + name, jobs=2,\n'
        '                   frame_transform=KillOnce(marker))\n'
        '    print(json.dumps([s["ok"], s["failed"]]))\n'.format(
            str(marker), raw, str(tmp_path / 'store_')))
    assert code == 0, err
    once, always = (json.loads(line) for line in out.splitlines())
    assert once == [2, []]               # the killed clip was tried again
    assert always[0] == 0 and len(always[1]) == 2
    for clip_id, reason in always[1]:
        assert reason.endswith('.000.mp4: its worker process died 2 times '
                               '(exit status -9; killed, e.g. out of '
                               'memory?)')


# -- 5. labels re-read on every run ------------------------------------------

def test_corrected_labels_reach_the_store(tmp_path):
    raw = small_release(tmp_path / 'raw', ['ClipAAAAAAA'])
    out = str(tmp_path / 'store')
    assert preprocess(raw, out)['warnings'] == []     # a good clip
    write_labels(raw, ['ClipAAAAAAA.000.mp4'], value=0.25)
    summary = preprocess(raw, out)
    assert (summary['processed'], summary['skipped'],
            summary['relabelled']) == (0, 1, 1)
    labels = store.ClipStore(out).labels('ClipAAAAAAA.000')
    numpy.testing.assert_array_equal(labels, numpy.full(5, 0.25))
    assert preprocess(raw, out)['relabelled'] == 0


# -- smaller: preprocess refuses what predict refuses ------------------------

def test_preprocess_refuses_short_clips_and_bad_quality(tmp_path, capsys):
    raw = small_release(tmp_path / 'raw', ['ShortClip__'], seconds=0.3)
    summary = preprocess(raw, str(tmp_path / 'store'))
    (_, reason), = summary['failed']
    assert reason.endswith('ShortClip__.000.mp4: only 0.30 s of audio, need '
                           'at least 1 s')
    with pytest.raises(DeepImpressionError, match='from 1 to 100, got 101'):
        preprocess(raw, str(tmp_path / 'store'), quality=101)
    for quality in ('-5', '101'):
        with pytest.raises(SystemExit):
            cli.main(['preprocess', raw, str(tmp_path / 'q'),
                      '--quality', quality])
        assert 'a JPEG quality from 1 to 100' in capsys.readouterr().err


# -- 11. a full disk during preprocess ---------------------------------------

def test_full_disk_is_one_line_and_a_rerun_continues(tmp_path, monkeypatch):
    raw = small_release(tmp_path / 'raw', ['ClipAAAAAAA'])
    out = str(tmp_path / 'store')
    write_audio = store.write_audio

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(store, 'write_audio', full)
    with pytest.raises(DeepImpressionError) as e:
        preprocess(raw, out)
    assert str(e.value) == ('{}: disk full (No space left on device) after 0 '
                            'clips; free some space and run the same command '
                            'again to continue'.format(out))
    monkeypatch.setattr(store, 'write_audio', write_audio)
    # The disk fills while the manifest is written: the same line.
    monkeypatch.setattr(preprocess_module, '_commit', full)
    with pytest.raises(DeepImpressionError) as e:
        preprocess(raw, out)
    assert 'disk full (No space left on device) after 0 clips' in \
        str(e.value)
    assert e.value.__suppress_context__    # no chained traceback
    monkeypatch.undo()
    assert preprocess(raw, out)['ok'] == 1


# -- 11. output folders that cannot be written -------------------------------

def test_output_folder_that_is_a_file(tmp_path, capsys):
    a_file = tmp_path / 'not-a-folder'
    a_file.write_text('')
    raw = small_release(tmp_path / 'raw', ['ClipAAAAAAA'])
    assert cli.main(['preprocess', raw, str(a_file / 'store')]) == 1
    assert capsys.readouterr().err == (
        'deep-impression: error: {}: cannot write in this folder (Not a '
        'directory)\n'.format(a_file / 'store'))
    for argv in (['preprocess', raw, str(a_file)],
                 ['train', raw, '--out', str(a_file)],
                 ['explain', 'v.mp4', '--out', str(a_file)]):
        assert cli.main(argv) == 1
        assert capsys.readouterr().err == (
            'deep-impression: error: {}: is a file, not a folder\n'.format(
                a_file))


@pytest.mark.skipif(not os.path.isdir('/proc/self'), reason='Linux only')
def test_read_only_output_folder(tmp_path):
    # /proc/self exists and is a folder in which no one, root included, can
    # create a file (CI runs as root, which writes through permissions).
    from deep_impression import fileio
    with pytest.raises(DeepImpressionError, match='^/proc/self: cannot '
                                                  'write in this folder'):
        fileio.ensure_dir('/proc/self')
    # A folder without write permission, for a user other than root.
    folder = tmp_path / 'read-only'
    folder.mkdir()
    folder.chmod(0o500)
    if os.geteuid() != 0:
        with pytest.raises(DeepImpressionError, match='cannot write in this '
                                                      'folder'):
            fileio.ensure_dir(str(folder))
    folder.chmod(0o700)


# -- 11. --device @cupy:0 without CuPy ---------------------------------------

def test_unusable_device_fails_before_anything_is_written(tmp_path, capsys):
    pytest.importorskip('chainer')
    try:
        import cupy  # noqa: F401
        pytest.skip('CuPy is installed')
    except ImportError:
        pass
    raw = small_release(tmp_path / 'raw', ['ClipAAAAAAA'])
    run = tmp_path / 'run'
    assert cli.main(['train', raw, '--out', str(run), '--device',
                     '@cupy:0']) == 1
    err = capsys.readouterr().err
    assert err.startswith('deep-impression: error: --device @cupy:0: not '
                          'usable here (') and err.count('\n') == 1
    assert not run.exists()
    assert cli.main(['predict', 'v.mp4', '--device', '@cupy:0']) == 1
    assert capsys.readouterr().err == err


# -- 11. training with loader processes when every clip fails ----------------

def test_training_with_loaders_when_every_clip_fails(tmp_path):
    from deep_impression import training
    raw = small_release(tmp_path / 'raw', ['ClipAAAAAAA', 'ClipBBBBBBB'])
    data = str(tmp_path / 'store')
    preprocess(raw, data)
    for clip_id in ('ClipAAAAAAA.000', 'ClipBBBBBBB.000'):
        with open(store.frames_path(data, clip_id), 'wb') as f:
            f.write(b'damaged')
    with pytest.raises(DeepImpressionError,
                       match='10 examples in a row failed to load'):
        training.train(data, str(tmp_path / 'run'), epochs=3, batch_size=2,
                       loaders=2, validate=False, progress_bar=False)


# -- 4. synth over a real release, 11. synth of nothing ----------------------

def test_synth_refuses_a_release_that_is_not_synthetic(tmp_path, capsys):
    from deep_impression.data.synth import make_dataset
    release = tmp_path / 'chalearn'
    release.mkdir()
    write_labels(release, ['RealClip___.000.mp4'], value=0.7)
    before = (release / chalearn.ANNOTATION_FILES['train']).read_bytes()
    assert cli.main(['synth', str(release), '--train', '1', '--val', '1',
                     '--test', '1']) == 1
    assert capsys.readouterr().err == (
        'deep-impression: error: {}: not empty and not a synthetic dataset; '
        'writing there would replace its annotation files (choose an empty '
        'folder, or add --force)\n'.format(release))
    assert (release / chalearn.ANNOTATION_FILES['train']).read_bytes() == \
        before
    assert cli.main(['synth', str(tmp_path / 'none'), '--train', '0',
                     '--val', '0', '--test', '0']) == 1
    assert capsys.readouterr().err == (
        'deep-impression: error: --train 0 --val 0 --test 0: need at least '
        'one clip and no negative count\n')
    # A synthetic release can be made again in place; --force overrides.
    small = dict(train=1, val=0, test=0, seconds=1.0, size=(32, 32), fps=10)
    make_dataset(str(tmp_path / 'synth'), **small)
    make_dataset(str(tmp_path / 'synth'), **small)
    make_dataset(str(release), force=True, **small)
    assert (release / chalearn.ANNOTATION_FILES['train']).read_bytes() != \
        before


# -- 6. explain output names -------------------------------------------------

def test_explain_output_names_are_unique_per_input():
    from deep_impression.commands.explain import output_stems
    stems = output_stems(['a/clip.mp4', 'b/clip.mp4', 'c/other.mp4',
                          'x/a/clip.mkv', 'solo.mp4'])
    assert len(set(stems.values())) == 5
    assert stems['c/other.mp4'] == 'other' and stems['solo.mp4'] == 'solo'
    assert stems['b/clip.mp4'] == 'b_clip'
    assert stems['a/clip.mp4'].startswith('a_clip_')      # a/ twice
    assert stems['x/a/clip.mkv'].startswith('a_clip_')
    assert output_stems(['one/clip.mp4']) == {'one/clip.mp4': 'clip'}


# -- 8. weights with NaN or infinite values ----------------------------------

def test_weights_with_nan_or_inf_are_refused(tmp_path):
    from deep_impression.errors import WeightsError
    from deep_impression.models.audiovisual import AudiovisualNetwork
    from deep_impression.models.weights import load_model, saved_arrays
    arrays = saved_arrays(AudiovisualNetwork())
    arrays = {k: numpy.asarray(v) for k, v in arrays.items()}
    arrays['vis/conv1_relu/conv/W'] = arrays['vis/conv1_relu/conv/W'].copy()
    arrays['vis/conv1_relu/conv/W'][0, 0, 0, 0] = numpy.nan
    arrays['fc/b'] = numpy.full_like(arrays['fc/b'], numpy.inf)
    path = str(tmp_path / 'model')
    with open(path, 'wb') as f:
        numpy.savez(f, **arrays)
    with pytest.raises(WeightsError) as e:
        load_model(path)
    assert str(e.value) == ('{}: key fc/b holds NaN or infinite values (2 '
                            'keys do)'.format(path))
    del arrays['fc/b']
    with open(path, 'wb') as f:
        numpy.savez(f, **arrays)
    with pytest.raises(WeightsError, match='key fc/b .* is missing'):
        load_model(path)       # the shape check comes first
    arrays['fc/b'] = numpy.zeros(5, numpy.float32)
    with open(path, 'wb') as f:
        numpy.savez(f, **arrays)
    with pytest.raises(WeightsError) as e:
        load_model(path)
    assert str(e.value) == ('{}: key vis/conv1_relu/conv/W holds NaN or '
                            'infinite values'.format(path))


# -- 9. aspect ratios ---------------------------------------------------------

def test_portrait_video_warns_and_pad_crop_keep_its_shape(tmp_path):
    portrait = make_clip(tmp_path / 'portrait.mp4', seconds=0.2,
                         size=(90, 160), fps=25)
    lines = []
    stretched = media.read_frames(portrait, warn=lines.append)
    assert lines == ['{}: 90x160 frames are stretched to 456x256 as the '
                     'release did (--fit pad or --fit crop keeps faces '
                     'undistorted)'.format(portrait)]
    padded = media.read_frames(portrait, fit='pad', warn=lines.append)
    cropped = media.read_frames(portrait, fit='crop', warn=lines.append)
    assert len(lines) == 1 and stretched.shape == padded.shape == \
        cropped.shape
    # Pad: the picture is 144 = 256 * 90 / 160 wide, centred, black around.
    assert padded[:, :, :150].max() <= 16 and padded[:, :, -150:].max() <= 16
    assert padded[:, :, 160:296].mean() > 40
    assert cropped[:, :, :150].mean() > 40
    # A 16:9 clip says nothing.
    wide = make_clip(tmp_path / 'wide.mp4', seconds=0.2, size=(160, 90))
    media.read_frames(wide, warn=lines.append)
    assert len(lines) == 1
    with pytest.raises(MediaError, match="fit: expected one of stretch, "
                                         "pad, crop, got 'zoom'"):
        media.read_frames(wide, fit='zoom')


# -- 10. --max-frames on a stream without a duration --------------------------

def test_max_frames_spread_over_a_stream_without_duration(tmp_path):
    from deep_impression.inference.predict import predict_video
    source = make_clip(tmp_path / 'source.mp4', seconds=3, size=(64, 36),
                       fps=25)
    piped = str(tmp_path / 'piped.mkv')
    with open(piped, 'wb') as f:   # an mkv written to a pipe: no duration
        subprocess.run([media.ffmpeg_exe(), '-v', 'error', '-i', source,
                        '-c', 'copy', '-f', 'matroska', 'pipe:1'],
                       stdout=f, check=True)
    assert media.probe(piped).duration is None
    everything = media.read_frames(piped)
    assert len(everything) == 75
    model = Capture()
    predict_video(piped, model, max_frames=3)
    numpy.testing.assert_array_equal(model.frames,
                                     everything[even_indices(75, 3)])


# -- smaller: face-overlap goes on past a bad video ---------------------------

def test_face_overlap_goes_on_past_a_bad_video(tmp_path):
    from deep_impression.interpret import overlap
    from deep_impression.interpret.sources import VideoSource
    from deep_impression.models.audiovisual import AudiovisualNetwork

    class NoFaces(object):
        def face(self, frame):
            return None

    good = make_clip(tmp_path / 'good.mp4', seconds=1.2, size=(64, 36))
    bad = tmp_path / 'bad.mp4'
    bad.write_text('not a video\n')
    errors = []
    scores = overlap.score_frames(AudiovisualNetwork(),
                                  VideoSource([str(bad), good]), 2, NoFaces(),
                                  on_error=errors.append)
    assert len(errors) == 1 and str(errors[0]).startswith(
        '{}: not a media file ffmpeg can read ('.format(bad))
    assert list(scores.clip_ids) == [good, good]
    with pytest.raises(DeepImpressionError, match='no clip could be read'):
        overlap.score_frames(AudiovisualNetwork(), VideoSource([str(bad)]), 2,
                             NoFaces(), on_error=errors.append)


# -- smaller: units --regions help --------------------------------------------

def test_units_regions_help_asks_for_a_file(capsys):
    with pytest.raises(SystemExit):
        cli.main(['units', '--help'])
    help_text = ' '.join(capsys.readouterr().out.split())
    assert '--regions FILE a JSON file (not inline JSON)' in help_text


# -- issue 23, 6 and 7: FIFOs, devices and broken links named like clips ----

def test_preprocess_reads_only_regular_files(tmp_path):
    # A FIFO named like a clip hung preprocess for ever (its checksum was
    # read first); a link to /dev/zero read for ever; a dangling link or a
    # link loop ended in a traceback. Each is one line now, in a child
    # process with a time limit so that a regression fails.
    raw = small_release(tmp_path / 'raw', ['GoodClip___'])
    folder = tmp_path / 'raw' / 'training80_01'
    os.mkfifo(str(folder / 'FifoClip___.000.mp4'))
    os.symlink('/dev/zero', str(folder / 'DevZero____.000.mp4'))
    os.symlink('Missing.mp4', str(folder / 'Dangling___.000.mp4'))
    os.symlink('LoopClip___.000.mp4', str(folder / 'LoopClip___.000.mp4'))
    os.mkfifo(str(tmp_path / 'raw' / 'train-2.zip'))
    names = ['GoodClip___', 'FifoClip___', 'DevZero____', 'Dangling___',
             'LoopClip___']
    write_labels(raw, [n + '.000.mp4' for n in names])
    code, out, err = run_python(
        'import sys\n'
        'from deep_impression import cli\n'
        'sys.exit(cli.main(["preprocess", {!r}, {!r}, "--jobs", "1"]))\n'
        .format(raw, str(tmp_path / 'store')), timeout=120)
    assert code == 1, err               # failed clips: exit status 1
    assert 'Traceback' not in err
    lines = [line.strip() for line in err.splitlines()]
    assert lines[0].startswith('1 clips in the store (5 processed now')
    for name, reason in (
            ('FifoClip___', 'not a regular file (a FIFO)'),
            ('DevZero____', 'not a regular file (a character device)'),
            ('Dangling___', 'a symbolic link to a missing file '
                            '(Missing.mp4)'),
            ('LoopClip___', 'a symbolic link loop')):
        assert '{0}.000: {1}/{0}.000.mp4: {2}'.format(
            name, folder, reason) in lines
    assert '{}: not a regular file (a FIFO)'.format(
        tmp_path / 'raw' / 'train-2.zip') in lines
    assert store.ClipStore(str(tmp_path / 'store')).clip_ids() == [
        'GoodClip___.000']
