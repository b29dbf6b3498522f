"""Runs in their own process group: bounded in time, or killed the way
an out-of-memory kill or a power cut would."""

import os
import signal
import subprocess
import time

import pytest


def run_bounded(cmd, timeout, what, env=None, stderr=subprocess.STDOUT):
    """Run ``cmd`` in its own process group; ``(returncode, stdout,
    stderr)`` as bytes (stderr None when merged into stdout). Past
    ``timeout`` seconds the whole group (ffmpeg children, loader processes,
    MPI ranks) is killed and the test fails naming ``what``."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr,
                            env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail('{}: still running after {} s'.format(what, timeout))
    return proc.returncode, out, err


def kill_when(cmd, snapshot, timeout, env=None):
    """Run ``cmd`` in its own process group and SIGKILL the whole group
    (mpiexec and its ranks, a trainer and its loader processes) right after
    it has written the snapshot file ``snapshot``.

    The run is asked (``training.extensions.HOLD_ENV``) to write
    ``<snapshot>.held`` after that snapshot and to wait there, so it cannot
    finish before it is killed, however fast it is. Fails if the run ends,
    or the signal does not come, within ``timeout`` seconds. Returns the
    finished ``Popen``.
    """
    from deep_impression.training import extensions
    env = dict(os.environ if env is None else env)
    env[extensions.HOLD_ENV] = os.path.abspath(snapshot)
    signal_file = os.path.abspath(snapshot) + '.held'
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    try:
        deadline = time.time() + timeout
        while (time.time() < deadline and proc.poll() is None
               and not os.path.exists(signal_file)):
            time.sleep(0.02)
        assert os.path.exists(signal_file), (
            'the run ended or timed out before writing {}'.format(snapshot))
        assert proc.poll() is None, 'the run ended before it could be killed'
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    return proc


def snapshot_path(run, epoch):
    """The snapshot file of ``epoch`` in the run directory ``run``."""
    from deep_impression import training
    return os.path.join(run, training.SNAPSHOT_FORMAT.format(epoch))
