"""Two runs into one folder: the second ends in one line naming the first
and changes nothing; a lock dies with its process (issue 23, item 11)."""

import os
import shutil
import signal
import socket
import subprocess
import sys

import pytest

from deep_impression import cli, fileio
from deep_impression.errors import DeepImpressionError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: A process that takes a folder's lock, forks a child that outlives it
#: (as preprocess workers and data loaders do), says so and waits.
HOLDER = '''
import os, sys, time
from deep_impression import fileio
with fileio.folder_lock(sys.argv[1], sys.argv[2]):
    if os.fork() == 0:
        time.sleep(120)
        os._exit(0)
    print('held', flush=True)
    time.sleep(120)
'''


@pytest.fixture
def holder():
    """``hold(folder, what)`` starts a process holding ``folder``'s lock
    and returns it; all are killed (with their children) at the end."""
    started = []

    def hold(folder, what):
        proc = subprocess.Popen(
            [sys.executable, '-c', HOLDER, str(folder), what],
            stdout=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=ROOT),
            start_new_session=True)
        started.append(proc)
        assert proc.stdout.readline() == b'held\n'
        return proc
    yield hold
    for proc in started:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)


def _contents(folder):
    """``{path: (size, mtime ns)}`` of every file under ``folder``."""
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            st = os.stat(path)
            found[path] = (st.st_size, st.st_mtime_ns)
    return found


def _held_line(folder, proc, what):
    return ('deep-impression: error: {}: another {} is writing here (pid {} '
            'on {}, started '.format(folder, what, proc.pid,
                                     socket.gethostname()))


def test_second_preprocess_into_a_store_changes_nothing(
        synthetic_raw, synthetic_store, tmp_path, holder, capsys):
    # Before: a later run's start-up cleanup deleted the first run's
    # temporary copies of zipped clips, and both wrote the manifest.
    out = str(tmp_path / 'store')
    shutil.copytree(synthetic_store, out)
    os.makedirs(os.path.join(out, 'tmp'), exist_ok=True)
    with open(os.path.join(out, 'tmp', '123-Clip.000.mp4'), 'wb') as f:
        f.write(b'the first run is copying this clip')
    first = holder(out, 'preprocess')
    before = _contents(out)
    assert cli.main(['preprocess', synthetic_raw, out, '--jobs', '1']) == 1
    err = capsys.readouterr().err
    assert err.startswith(_held_line(out, first, 'preprocess'))
    assert err.endswith(' UTC); wait for it to end or choose another '
                        'folder\n') and err.count('\n') == 1
    assert _contents(out) == before
    # Killed (its forked child still running): the lock goes with it.
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=60)
    summary_code = cli.main(['preprocess', synthetic_raw, out, '--jobs', '1'])
    assert summary_code == 0
    assert os.listdir(os.path.join(out, 'tmp')) == []


def test_second_training_into_a_run_folder_changes_nothing(
        synthetic_store, tmp_path, holder, capsys):
    from deep_impression import training
    run = tmp_path / 'run'
    run.mkdir()
    (run / 'config.json').write_text('{"a run": "in progress"}\n')
    first = holder(run, 'training')
    before = _contents(str(run))
    assert cli.main(['train', synthetic_store, '--out', str(run), '--resume',
                     '--epochs', '1', '--batchsize', '2', '--loaders', '0',
                     '--no-validation']) == 1
    err = capsys.readouterr().err
    assert err.startswith(_held_line(run, first, 'training'))
    assert err.count('\n') == 1
    # The post-challenge trainings take the same lock, before any reading.
    for call in (lambda: training.train_per_trait(
                     synthetic_store, str(run), str(tmp_path / 'no-init')),
                 lambda: training.train_recurrent(
                     synthetic_store, str(run), str(tmp_path / 'no-base'))):
        with pytest.raises(DeepImpressionError) as e:
            call()
        assert 'another training is writing here (pid {} '.format(
            first.pid) in str(e.value)
    assert _contents(str(run)) == before
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=60)
    with fileio.folder_lock(str(run), 'training') as path:
        assert path == str(run / fileio.LOCK_FILE)
