"""Distributed training speed on this machine: 1 process against 2 ranks.

Each setting runs the paper's trainer
(:func:`deep_impression.training.make_trainer`, Adam, global batch 32)
on fixed random examples in a process (or ``mpiexec -n 2`` ranks) of its
own, and times ``--updates`` updates after one warm-up update; the
settings alternate for ``--rounds`` rounds and each keeps its median:

* ``1 process, 1 thread`` and ``1 process, 2 threads`` (BLAS threads);
* ``2 ranks, 1 thread each`` (``naive`` communicator: 16 examples per rank,
  batch normalisation over the 32, gradients averaged).

With 2 ranks it also times the all-reduce of the network's gradients alone
(ChainerMN's ``multi_node_mean_grad`` over the 5.6 M parameters, what each
update adds to the computation) and, for comparison, one ``MPI.Allreduce``
of a flat buffer of the same size.

The crops default to 64x64 frames and 8,192 audio samples so that a run
takes minutes on 2 CPU cores (the paper's are 224x224 and 50,176:
``--frame-crop 224 --audio-crop 50176``). Numbers from a shared machine
vary with its load: compare the settings of one run with each other.

Example::

    .venv/bin/python experiments/benchmark_distributed.py --json runs/dist.json
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from deep_impression import _compat  # noqa: F401,E402  (before chainer)

BATCH = 32   # the paper's global batch (§2.2)


def _examples(n, audio_crop, frame_crop):
    from chainer.datasets import TupleDataset
    rng = numpy.random.RandomState(0)
    return TupleDataset(
        rng.uniform(-1, 1, (n, 1, 1, audio_crop)).astype(numpy.float32),
        rng.uniform(0, 255, (n, 3, frame_crop, frame_crop)).astype(
            numpy.float32),
        rng.uniform(0, 1, (n, 5)).astype(numpy.float32))


def _time(fn, repeat, comm):
    if comm is not None:
        comm.mpi_comm.Barrier()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    if comm is not None:
        comm.mpi_comm.Barrier()
    return (time.perf_counter() - start) / repeat


def _allreduce_times(comm, target, repeat):
    """Seconds per all-reduce of the gradients, and of a flat buffer."""
    from mpi4py import MPI
    size = sum(p.size for p in target.params())
    flat = numpy.ones(size, dtype=numpy.float32)
    out = numpy.empty_like(flat)
    return dict(
        parameters=int(size), megabytes=flat.nbytes / 1e6,
        mean_grad_s=_time(lambda: comm.multi_node_mean_grad(target), repeat,
                          comm),
        flat_allreduce_s=_time(lambda: comm.mpi_comm.Allreduce(
            flat, out, op=MPI.SUM), repeat, comm))


def worker(args):
    """One setting (a process, or each rank under mpiexec); rank 0 prints
    a JSON line."""
    from deep_impression.models.audiovisual import AudiovisualNetwork
    from deep_impression.training import distributed, make_trainer
    comm = (distributed.create_communicator('naive') if args.distributed
            else None)
    numpy.random.seed(0)
    data = _examples(2 * BATCH, args.audio_crop, args.frame_crop)
    with tempfile.TemporaryDirectory() as out:
        trainer = make_trainer(
            AudiovisualNetwork(), data, out, epochs=3, batch_size=BATCH,
            device='@numpy', loaders=0, progress_bar=False,
            communicator=comm)
        update = trainer.updater.update
        update()   # warm-up
        seconds = _time(update, args.updates, comm)
        result = dict(seconds_per_update=seconds,
                      examples_per_s=BATCH / seconds)
        if comm is not None:
            target = trainer.updater.get_optimizer('main').target
            result['allreduce'] = _allreduce_times(comm, target,
                                                   args.allreduce_repeat)
    if comm is None or comm.rank == 0:
        print('RESULT ' + json.dumps(result), flush=True)


def _run(args, ranks, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), PYTHONWARNINGS='ignore')
    command = [sys.executable, os.path.abspath(__file__), '--worker',
               '--updates', str(args.updates), '--audio-crop',
               str(args.audio_crop), '--frame-crop', str(args.frame_crop),
               '--allreduce-repeat', str(args.allreduce_repeat)]
    if ranks > 1:
        mpiexec = os.path.join(os.path.dirname(sys.executable), 'mpiexec')
        command = [mpiexec, '-n', str(ranks)] + command + ['--distributed']
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=args.timeout)
    text = done.stdout.decode('utf-8', 'replace')
    for line in text.splitlines():
        if line.startswith('RESULT '):
            return dict(json.loads(line[len('RESULT '):]), ranks=ranks,
                        threads_per_rank=threads)
    raise SystemExit('benchmark: {} rank(s) failed:\n{}'.format(
        ranks, text))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--updates', type=int, default=3)
    p.add_argument('--rounds', type=int, default=3,
                   help='times each setting runs, alternating')
    p.add_argument('--audio-crop', type=int, default=8192)
    p.add_argument('--frame-crop', type=int, default=64)
    p.add_argument('--allreduce-repeat', type=int, default=20)
    p.add_argument('--timeout', type=int, default=1800)
    p.add_argument('--json', default=None, help='also write the results')
    p.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    p.add_argument('--distributed', action='store_true',
                   help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args)
    settings = [(1, 1), (1, 2), (2, 1)]
    # Rounds alternate the settings, so that a change in the machine's load
    # falls on all of them; each setting keeps its median round.
    rounds = [[_run(args, ranks, threads) for ranks, threads in settings]
              for _ in range(args.rounds)]
    runs = []
    for k in range(len(settings)):
        these = sorted((r[k] for r in rounds),
                       key=lambda run: run['seconds_per_update'])
        run = dict(these[len(these) // 2])
        run['examples_per_s_each_round'] = [r[k]['examples_per_s']
                                            for r in rounds]
        runs.append(run)
    for run in runs:
        run['speed_vs_1_process_1_thread'] = (
            run['examples_per_s'] / runs[0]['examples_per_s'])
        run['speed_vs_1_process_2_threads'] = (
            run['examples_per_s'] / runs[1]['examples_per_s'])
    two = runs[2]
    two['allreduce_share_of_update'] = (
        two['allreduce']['mean_grad_s'] / two['seconds_per_update'])
    result = dict(machine=platform.processor() or platform.machine(),
                  cpus=os.cpu_count(), load_average=os.getloadavg(),
                  global_batch=BATCH, audio_crop=args.audio_crop,
                  frame_crop=args.frame_crop, updates=args.updates,
                  rounds=args.rounds, runs=runs)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        from provenance import write_result
        write_result(args.json, result, indent=2)


if __name__ == '__main__':
    sys.exit(main())
