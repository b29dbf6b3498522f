"""What each rank runs in tests/test_distributed.py (under ``mpiexec``).

``python tests/mpi_worker.py update OUT.npz [DEVICE]``: one update of the
paper's trainer with the global batch of :func:`examples` (in float64, see
:func:`one_update`) on DEVICE (default ``@numpy``); rank 0 saves the
network's arrays.

``python tests/mpi_worker.py fail raise|kill RUN_DIR``: trains on
:func:`examples` until rank 1 fails at iteration 2 (an exception, or
SIGKILL), with the command line's handling of a failing rank.
"""

import os
import signal
import sys

import numpy

from deep_impression import _compat  # noqa: F401  (before chainer)

#: One global batch: the paper's 32, tiny crops (two rank-local batches
#: of 16 with two ranks).
BATCH = 32
AUDIO, FRAME = 1024, 32


def examples(n=BATCH, seed=5, dtype=numpy.float32):
    """``n`` fixed training examples ``(audio, frame, labels)``."""
    from chainer.datasets import TupleDataset
    rng = numpy.random.RandomState(seed)
    audio = rng.uniform(-1, 1, (n, 1, 1, AUDIO)).astype(dtype)
    frames = rng.uniform(0, 255, (n, 3, FRAME, FRAME)).astype(dtype)
    labels = rng.uniform(0, 1, (n, 5)).astype(dtype)
    return TupleDataset(audio, frames, labels)


def trainer(out, comm=None, seed=0, device='@numpy'):
    """The paper's trainer on :func:`examples`, one process or a rank
    (in ``chainer.config.dtype``), on ``device``."""
    import chainer
    from deep_impression.models.audiovisual import AudiovisualNetwork
    from deep_impression.training import make_trainer
    numpy.random.seed(seed)
    data = examples(dtype=chainer.config.dtype)
    return make_trainer(AudiovisualNetwork(), data, out, epochs=3,
                        batch_size=BATCH, device=device, seed=seed,
                        loaders=0, progress_bar=False, communicator=comm)


def network(trainer):
    return trainer.updater.get_optimizer('main').target.predictor


def one_update(out, comm=None, device='@numpy'):
    """The network's arrays after one update (``saved_arrays``), in
    float64.

    Adam's first step moves every weight by alpha times the sign of its
    gradient when the gradient is far above ``eps`` (1e-8). In float32 a
    gradient that is zero up to rounding (a convolution's bias before
    batch normalisation) is about 1e-9 with either sign and moves by a
    random fraction of alpha; in float64 it stays far below ``eps``, and
    what remains to compare is the update itself.
    """
    import chainer
    from deep_impression.models.weights import saved_arrays
    with chainer.using_config('dtype', numpy.float64):
        t = trainer(out, comm, device=device)
        t.updater.update()
    return {k: numpy.array(v) for k, v in saved_arrays(network(t)).items()}


def _update(path, device='@numpy'):
    from deep_impression.training import distributed
    comm = distributed.create_communicator('naive')
    arrays = one_update(os.path.dirname(path), comm, device)
    if comm.rank == 0:
        numpy.savez(path, **arrays)


def _fail(mode, out):
    from chainer import training as chainer_training
    from deep_impression.training import distributed
    comm = distributed.create_communicator('naive')

    @chainer_training.make_extension(trigger=(1, 'iteration'))
    def fail_on_rank_1(t):
        if comm.rank == 1 and t.updater.iteration == 2:
            if mode == 'kill':
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError('rank 1 cannot go on')

    try:
        t = trainer(out, comm)
        t.extend(fail_on_rank_1)
        t.run()
    except BaseException as e:
        distributed.stop_all_ranks(comm, e)


if __name__ == '__main__':
    if sys.argv[1] == 'update':
        _update(*sys.argv[2:4])
    else:
        _fail(sys.argv[2], sys.argv[3])
