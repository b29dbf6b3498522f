"""Training on several processes, GPUs and nodes with ChainerMN.

``mpiexec -n N deep-impression train ... --communicator NAME`` runs N
ranks of the same trainer
(:func:`~deep_impression.training.trainer.make_trainer` with
``communicator=``). What each piece here does for it:

* :func:`create_communicator`: the ChainerMN communicator (``naive`` on
  CPUs, ``pure_nccl`` with one GPU per rank), with one clear error when
  mpi4py is missing or a GPU communicator finds no GPU;
* :func:`rank_device`: that rank's device (the GPU of its intra-node rank);
* :func:`local_batch_size`: the global batch (the paper's 32) split evenly
  over the ranks;
* :func:`scatter_examples`: each rank's share of the training examples
  (``chainermn.scatter_dataset`` over the example indices, so every rank
  reads its examples from the store itself);
* :func:`synchronise_batch_normalization`: batch normalisation over the
  global batch (``chainermn.links.MultiNodeBatchNormalization``, whose
  parameters and averages carry the same names as Chainer's
  ``BatchNormalization``: the weight files keep the release's keys);
* :func:`multi_node_optimizer`: gradients averaged over the ranks before
  each update;
* :func:`agree`: a check run on rank 0 whose error every rank raises;
* :func:`stop_all_ranks`: a rank that fails takes the others down (MPI's
  abort) after one line saying which rank failed and why.

Only rank 0 writes files (snapshots, log, reports, weights); the others
compute and take part in the collective operations.
"""

import os
import sys
import warnings

from deep_impression import _compat  # noqa: F401  (before chainer)

import chainer
import numpy

from deep_impression.errors import DeepImpressionError

#: Communicators ``--communicator`` accepts: ``naive`` (plain MPI) runs on
#: CPUs; ``pure_nccl`` needs one GPU per rank. Neither is given an
#: ``allreduce_grad_dtype``, so ChainerMN's ``_memory_utility.unpack_params``
#: never reaches its ``copy=False`` cast that NumPy 2 refuses.
COMMUNICATORS = ('naive', 'pure_nccl')
GPU_COMMUNICATORS = ('pure_nccl',)


class SetupError(DeepImpressionError):
    """A distributed set-up that cannot run (found the same on every rank)."""


def _import_chainermn():
    try:
        import mpi4py  # noqa: F401
        import chainermn
    except ImportError as e:
        raise SetupError(
            'distributed training needs mpi4py and an MPI ({}); install '
            "them with: pip install -e '.[mpi]' (or make install MPI=1)"
            .format(e)) from None
    return chainermn


def gpu_count():
    """GPUs CuPy sees on this node (0 without CuPy)."""
    try:
        import cupy
        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:
        return 0


def create_communicator(name):
    """A ChainerMN communicator over all the ranks ``mpiexec`` started.

    Raises:
        SetupError: an unknown name, mpi4py missing, or a GPU communicator
            on a node without GPUs.
    """
    if name not in COMMUNICATORS:
        raise SetupError('--communicator: unknown communicator {!r}; choose '
                         'one of {}'.format(name, ', '.join(COMMUNICATORS)))
    if name in GPU_COMMUNICATORS and gpu_count() == 0:
        raise SetupError(
            '--communicator {}: needs one GPU per rank and this machine has '
            'none (CuPy finds no GPU); use --communicator naive on CPUs'
            .format(name))
    chainermn = _import_chainermn()
    return chainermn.create_communicator(name)


def rank_device(comm, name, device=None):
    """The Chainer device of this rank.

    With a GPU communicator, the GPU numbered by the rank's place on its
    node (``comm.intra_rank``), as ChainerMN's examples do; when the
    launcher shows each rank only its own GPU (Slurm's
    ``--gpus-per-task=1``), that one. Otherwise ``device`` (default the
    CPU).
    """
    if name not in GPU_COMMUNICATORS:
        return device or '@numpy'
    count = gpu_count()
    if comm.intra_rank < count:
        return '@cupy:{}'.format(comm.intra_rank)
    if count == 1:
        return '@cupy:0'
    raise DeepImpressionError(
        'rank {}: is rank {} on its node, which has only {} GPU(s); start '
        'at most one rank per GPU'.format(comm.rank, comm.intra_rank, count))


def local_batch_size(batch_size, comm):
    """Examples per rank and update so that the ranks together make
    ``batch_size`` (the paper's 32)."""
    if batch_size % comm.size:
        raise SetupError(
            '--batchsize {} cannot be split evenly over {} ranks; use a '
            'number of ranks that divides it (for 32: 1, 2, 4, 8, 16 or 32)'
            .format(batch_size, comm.size))
    return batch_size // comm.size


def rank_seed(seed, comm):
    """A seed of its own for each rank (its random crops), fixed by
    ``seed`` and the rank."""
    if comm is None:
        return seed
    return int(numpy.random.SeedSequence([seed, comm.rank])
               .generate_state(1)[0])


def scatter_examples(dataset, comm, seed=0):
    """This rank's share of ``dataset``: ``chainermn.scatter_dataset`` of
    the indices (shuffled by ``seed``, equal shares; the last examples
    of the permutation are repeated when ``len(dataset)`` is not a
    multiple of the ranks). Only the indices travel; each rank reads its
    examples itself."""
    chainermn = _import_chainermn()
    indices = chainermn.scatter_dataset(
        numpy.arange(len(dataset)), comm, shuffle=True, seed=seed)
    return _Share(dataset, [int(i) for i in indices])


class _Share(chainer.dataset.DatasetMixin):
    """The examples ``indices`` of ``dataset``, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __len__(self):
        return len(self.indices)

    def get_example(self, i):
        return self.dataset[self.indices[i]]


def synchronise_batch_normalization(model, comm):
    """A copy of ``model`` (same class) whose batch normalisation links
    compute their statistics over the whole global batch.

    ``MultiNodeBatchNormalization`` has the same ``gamma``, ``beta``,
    ``avg_mean``, ``avg_var`` and ``N`` as ``L.BatchNormalization``, so
    the network's weight file keys do not change.
    """
    model = model.copy(mode='copy')
    for parent in list(model.links()):
        if not isinstance(parent, chainer.Chain):
            continue
        for name in sorted(parent._children):
            child = getattr(parent, name)
            if type(child) is chainer.links.BatchNormalization:
                delattr(parent, name)
                with parent.init_scope():
                    setattr(parent, name, _batch_normalization(child, comm))
    return model


def _batch_normalization(link, comm):
    """A :class:`GlobalBatchNormalization` with the state of ``link``."""
    with warnings.catch_warnings():
        # "experimental" since ChainerMN 1.2 (2018); stable in Chainer 7.
        warnings.filterwarnings('ignore', category=FutureWarning,
                                message='.*MultiNodeBatchNormalization')
        mnbn = _global_batch_normalization_class()(
            link.avg_mean.shape, comm, decay=link.decay, eps=link.eps,
            dtype=link.avg_mean.dtype)
    mnbn.copyparams(link)
    for name in link._persistent:   # avg_mean, avg_var, N
        setattr(mnbn, name, numpy.copy(getattr(link, name)))
    return mnbn


def _global_batch_normalization_class():
    chainermn = _import_chainermn()

    class GlobalBatchNormalization(
            chainermn.links.MultiNodeBatchNormalization):
        """``MultiNodeBatchNormalization`` whose population variance is
        that of one process with the global batch.

        Chainer's batch normalisation makes its running variance unbiased
        with ``m / (m - 1)``; ChainerMN's takes ``m`` from the rank's
        share of the batch, one process from the whole batch. This
        rescales the update to the global ``m`` (equal shares).
        """

        def __call__(self, x, finetune=False):
            if finetune or not chainer.config.train:
                return super().__call__(x, finetune=finetune)
            before = self.xp.copy(self.avg_var)
            y = super().__call__(x)
            local = x.size // self.avg_var.size
            total = local * self.comm.size
            ratio = ((total / max(total - 1., 1.)) /
                     (local / max(local - 1., 1.)))
            change = self.avg_var - self.decay * before
            self.avg_var[...] = self.decay * before + change * ratio
            return y

    return GlobalBatchNormalization


def multi_node_optimizer(optimizer, comm, link):
    """``optimizer`` set up on ``link`` with gradients averaged over the
    ranks, and the weights of rank 0 given to every rank now.

    ChainerMN's optimizer broadcasts the weights in place of the first
    update; broadcasting them here instead makes every update count, so
    update ``k`` of N ranks is update ``k`` of one process.
    """
    chainermn = _import_chainermn()
    optimizer = chainermn.create_multi_node_optimizer(optimizer, comm)
    optimizer.setup(link)
    comm.bcast_data(link)
    optimizer.is_changed(link)   # records the parameters it now holds
    return optimizer


def agree(comm, check):
    """Run ``check()`` on rank 0 (e.g. one that reads or writes the run
    directory) and raise its :class:`DeepImpressionError` on every rank,
    so that all ranks stop together before any collective operation.

    Returns:
        what ``check()`` returned, on every rank.
    """
    if comm is None:
        return check()
    outcome = None
    if comm.rank == 0:
        try:
            outcome = ('ok', check())
        except DeepImpressionError as e:
            outcome = ('error', e)
    outcome = comm.bcast_obj(outcome)
    if outcome[0] == 'error':
        kind = SetupError if comm.rank == 0 else _Quiet
        raise kind(str(outcome[1]))
    return outcome[1]


class _Quiet(SetupError):
    """An error rank 0 reports; the other ranks end without repeating it."""


def _mpi_world():
    """MPI's ``COMM_WORLD`` (mpi4py), or None without mpi4py."""
    try:
        from mpi4py import MPI
    except ImportError:
        return None
    return MPI.COMM_WORLD


def world_rank(comm=None):
    """This process's rank: from ``comm``, else from MPI, else from the
    launcher's environment (MPICH, Open MPI, Slurm); 0 when alone."""
    if comm is not None:
        return comm.rank
    world = _mpi_world()
    if world is not None:
        return world.Get_rank()
    for name in ('PMI_RANK', 'OMPI_COMM_WORLD_RANK', 'SLURM_PROCID'):
        if os.environ.get(name, '').isdigit():
            return int(os.environ[name])
    return 0


def stop_all_ranks(comm, error):
    """End this rank after ``error``, taking the other ranks with it.

    A :class:`SetupError` is raised on every rank at the same point; rank 0
    reports it and the others end quietly with the same exit status (1,
    bad input; ``mpiexec`` combines the ranks' statuses). Any other error
    is one rank's: it prints one line naming the rank and calls MPI's
    abort, which ends every rank instead of leaving them waiting in the
    next all-reduce for ever.

    Args:
        comm: the ChainerMN communicator, or None when the error came
            before there was one.
        error: the exception.
    """
    from deep_impression.cli import INPUT_ERROR
    if isinstance(error, _Quiet):
        raise SystemExit(INPUT_ERROR)
    if isinstance(error, SetupError):
        if world_rank(comm) == 0:
            raise error
        raise SystemExit(INPUT_ERROR)
    world = comm.mpi_comm if comm is not None else _mpi_world()
    if world is None or world.Get_size() == 1:
        raise error
    if isinstance(error, KeyboardInterrupt):
        what = 'interrupted'
    else:
        what = '{}: {}'.format(type(error).__name__, error)
    print('deep-impression: rank {} of {} failed ({}); stopping all ranks'
          .format(world.Get_rank(), world.Get_size(), what),
          file=sys.stderr, flush=True)
    world.Abort(1)
    os._exit(1)   # should Abort return before the launcher ends this rank
