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


def kill_when(cmd, ready, timeout, env=None):
    """Run ``cmd`` in its own process group and SIGKILL the whole group
    (mpiexec and its ranks, a trainer and its loader processes) as soon as
    ``ready()`` is true.

    Fails if the run ends before that or ``ready()`` never comes within
    ``timeout`` seconds. Returns the finished ``Popen``.
    """
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    try:
        deadline = time.time() + timeout
        while time.time() < deadline and proc.poll() is None and not ready():
            time.sleep(0.02)
        assert proc.poll() is None, 'the run ended before it could be killed'
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    return proc


def snapshot_written(run, epoch):
    """A ``ready`` for :func:`kill_when`: the run's newest snapshot is the
    one of ``epoch``."""
    from deep_impression import training

    def ready():
        snapshots = training.list_snapshots(run)
        return bool(snapshots) and snapshots[-1].endswith(
            '{:04d}'.format(epoch))
    return ready
