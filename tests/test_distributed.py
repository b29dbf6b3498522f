"""Training on several ranks (ChainerMN, ``naive`` communicator, 2 CPU
ranks under the environment's ``mpiexec``) gives the result of one
process, survives SIGKILL with ``--resume``, and fails fast and clearly.

Skipped when mpi4py or ``mpiexec`` is missing (``make install MPI=``).
Each rank runs with one BLAS thread: two ranks share this machine's cores.
"""

import json
import os
import sys
import time

import chainer
import numpy
import pytest

pytest.importorskip('mpi4py')
MPIEXEC = os.path.join(os.path.dirname(sys.executable), 'mpiexec')
if not os.path.exists(MPIEXEC):
    pytest.skip('no mpiexec beside {} (the mpi extra)'.format(
        sys.executable), allow_module_level=True)

from deep_impression import training  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, 'mpi_worker.py')
sys.path.insert(0, HERE)
import mpi_worker  # noqa: E402
from devices import every_device  # noqa: E402
from processes import kill_when, run_bounded, snapshot_path  # noqa: E402

#: Bounds every run: a hung rank fails the test instead of the CI.
TIMEOUT = 240

# As test_resume: tiny crops, snapshots after epochs 2, 4 and 6, crops
# drawn in the training process; a global batch of 2 (one example per rank
# and update, 3 updates per epoch on the 6 training clips).
SETTINGS = dict(epochs=6, batch_size=2, audio_crop=1024, frame_crop=32,
                snapshot_every=2, loaders=0, seed=3)


def _env():
    env = dict(os.environ, OMP_NUM_THREADS='1', OPENBLAS_NUM_THREADS='1',
               MKL_NUM_THREADS='1', PYTHONWARNINGS='ignore')
    root = os.path.dirname(HERE)
    env['PYTHONPATH'] = os.pathsep.join(
        [root] + [p for p in [env.get('PYTHONPATH')] if p])
    return env


def _mpiexec(ranks, args):
    return [MPIEXEC, '-n', str(ranks), sys.executable] + list(args)


def _run(ranks, args, timeout=TIMEOUT):
    """Run ``args`` on ``ranks`` ranks; ``(returncode, output)``, the
    output of the ranks and of ``mpiexec`` (standard output and error)."""
    code, out, _ = run_bounded(
        _mpiexec(ranks, args), timeout,
        '{} ranks: {}'.format(ranks, ' '.join(args)), env=_env())
    return code, out.decode('utf-8', 'replace')


def _train_args(store, run, *extra, **settings):
    s = dict(SETTINGS, **settings)
    return (['-m', 'deep_impression', 'train', store, '--out', run,
             '--epochs', str(s['epochs']), '--batchsize', str(s['batch_size']),
             '--audio-crop', str(s['audio_crop']),
             '--frame-crop', str(s['frame_crop']),
             '--snapshot-every', str(s['snapshot_every']),
             '--loaders', str(s['loaders']), '--seed', str(s['seed']),
             '--no-validation', '--communicator', 'naive'] + list(extra))


def _weights(path):
    with numpy.load(path) as npz:
        return {k: npz[k] for k in npz.files}


def _error_lines(err):
    return [line for line in err.splitlines()
            if line.startswith('deep-impression: error:')]


@every_device
def test_two_ranks_make_the_update_of_one_process(tmp_path, device):
    # Two ranks with 16 examples each against one process with all 32:
    # batch normalisation over the global batch, gradients averaged.
    path = str(tmp_path / 'two_ranks.npz')
    code, err = _run(2, [WORKER, 'update', path, device])
    assert code == 0, err
    two = _weights(path)
    one = mpi_worker.one_update(str(tmp_path / 'one'), device=device)
    with chainer.using_config('dtype', numpy.float64):
        initial = mpi_worker.network(
            mpi_worker.trainer(str(tmp_path / 'init')))
    # The keys of the release's weight file (multi-node batch
    # normalisation keeps them) ...
    assert sorted(two) == sorted(one)
    for key in one:
        numpy.testing.assert_allclose(two[key], one[key], rtol=0,
                                      atol=1e-5, err_msg=key)
    # ... after an update that moved the weights far more than that (not
    # the broadcast that ChainerMN's own optimizer makes of the first
    # update).
    before = {k.lstrip('/'): p.array for k, p in initial.namedparams()}
    moved = max(float(numpy.abs(one[k] - before[k]).max()) for k in before)
    differ = max(float(numpy.abs(two[k] - one[k]).max()) for k in before)
    assert moved > 1e-4 and moved > 10 * differ


@pytest.fixture(scope='module')
def two_rank_run(synthetic_store, tmp_path_factory):
    """An uninterrupted 2-rank run of SETTINGS."""
    run = str(tmp_path_factory.mktemp('distributed') / 'reference')
    code, err = _run(2, _train_args(synthetic_store, run))
    assert code == 0, err
    return run


def test_sigkill_then_resume_on_two_ranks(two_rank_run, synthetic_store,
                                          tmp_path):
    run = str(tmp_path / 'run')
    # The whole group: mpiexec and both ranks.
    kill_when(_mpiexec(2, _train_args(synthetic_store, run)),
              snapshot_path(run, 2), TIMEOUT, env=_env())
    assert not os.path.exists(os.path.join(run, training.MODEL_FILE))
    assert training.list_snapshots(run)[-1] == snapshot_path(run, 2)

    code, err = _run(2, _train_args(synthetic_store, run, '--resume'))
    assert code == 0, err
    assert 'resuming from' in err
    with open(os.path.join(run, 'log')) as f:
        log = json.load(f)
    assert [e['epoch'] for e in log] == list(range(1, 7))
    a = _weights(os.path.join(two_rank_run, training.MODEL_FILE))
    b = _weights(os.path.join(run, training.MODEL_FILE))
    assert sorted(a) == sorted(b)
    for key in a:
        numpy.testing.assert_array_equal(b[key], a[key], err_msg=key)


def test_resume_with_another_world_size_is_refused(two_rank_run,
                                                   synthetic_store):
    with pytest.raises(training.DeepImpressionError,
                       match=r'cannot resume with 1 process \(no '
                             r'--communicator\); the stopped run used 2 '
                             r'rank\(s\)'):
        training.train(synthetic_store, two_rank_run, device='@numpy',
                       validate=False, progress_bar=False, resume_run=True,
                       **SETTINGS)


@pytest.mark.parametrize('mode', ['raise', 'kill'])
def test_a_dead_rank_ends_the_others(mode, tmp_path):
    start = time.time()
    code, err = _run(2, [WORKER, 'fail', mode, str(tmp_path)], timeout=120)
    assert code != 0
    assert time.time() - start < 120
    if mode == 'raise':
        assert ('deep-impression: rank 1 of 2 failed (RuntimeError: rank 1 '
                'cannot go on); stopping all ranks') in err
    else:   # the launcher's report of the killed rank
        assert 'BAD TERMINATION' in err and 'signal 9' in err


@pytest.mark.parametrize('extra, message', [
    (['--batchsize', '3'], '--batchsize 3 cannot be split evenly over 2 '
                           'ranks'),
    (['--communicator', 'pure_nccl'], '--communicator pure_nccl: needs one '
                                      'GPU per rank and this machine has '
                                      'none'),
])
def test_bad_setups_get_one_line(extra, message, synthetic_store, tmp_path):
    from deep_impression.training.distributed import gpu_count
    if 'pure_nccl' in extra and gpu_count():
        pytest.skip('this machine has a GPU')
    code, err = _run(2, _train_args(synthetic_store, str(tmp_path / 'run'),
                                    *extra))
    assert code == 1
    lines = _error_lines(err)
    assert len(lines) == 1 and message in lines[0], err
    assert 'Traceback' not in err


def test_resume_of_a_one_process_run_on_two_ranks_gets_one_line(
        two_rank_run, synthetic_store, tmp_path):
    # A one-process run's config.json: the 2-rank run's without "ranks".
    run = tmp_path / 'one_process'
    run.mkdir()
    with open(os.path.join(two_rank_run, training.CONFIG_FILE)) as f:
        config = json.load(f)
    del config['ranks']
    (run / training.CONFIG_FILE).write_text(json.dumps(config))
    code, err = _run(2, _train_args(synthetic_store, str(run), '--resume'))
    assert code == 1
    lines = _error_lines(err)
    assert len(lines) == 1, err
    assert ('cannot resume with 2 rank(s) (mpiexec -n 2 ... --communicator)'
            '; the stopped run used 1 process (no --communicator)'
            ) in lines[0]
