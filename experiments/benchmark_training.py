"""Milliseconds per training example on this CPU: plain Chainer against the
fast CPU path (:mod:`deep_impression.models.fast_cpu`), side by side in
one process.

At the paper's sizes (batch 32, 224x224 frame crops, 50176-sample audio
crops) and the quick configuration's (batch 8, 112, 16000), each
repetition runs one update of the package's
:class:`~deep_impression.training.updater.Updater` (converter, forward,
backward, Adam) on a fixed batch through each path in turn, after one
warm-up update each; the figures are medians over ``--reps``
repetitions, divided by the batch: wall-clock time (``ms_per_example``,
the target's measure on a quiet machine) and the process's processor
time (``cpu_ms_per_example``, all threads: on a busy machine the work
done, without the time spent waiting for a core). The two paths' losses on the same
first batch are compared too (they must agree to float32 rounding).

A PyTorch column (the same network) is not measured: ``torch`` is not a
dependency and the result says why it is missing (``pytorch``).

``--blas-threads N`` limits OpenBLAS to N threads for both paths (through
threadpoolctl, which scikit-learn brings): on a machine shared with other
processes, two spinning BLAS threads can make a matrix product ten times
slower than one thread. The result records the setting.

Example::

    python experiments/benchmark_training.py --reps 5 \\
        --json docs/results/benchmark_training.json
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import training_cost  # noqa: E402  (puts the package on the path)

import numpy  # noqa: E402

PATHS = ('plain', 'fast')


def pytorch_status():
    """Why there is no PyTorch column (None would mean: torch imports)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return ('not measured: torch does not import here; it is not a '
                'dependency, and the Linux wheel on PyPI brings CUDA '
                'libraries of several GB (CPU-only wheels are on '
                'PyTorch\'s own index, which these machines do not reach)')
    return ('not measured: torch imports, but this benchmark has no PyTorch '
            'copy of the network yet')


def benchmark(size, reps):
    """``{path: ms per example (median)}``, the raw times and the two
    paths' first losses."""
    steps = {path: training_cost.TrainingStep(size, path == 'fast')
             for path in PATHS}
    losses = {}
    for path, step in steps.items():
        step()  # warm-up; also the first loss of the same weights
        losses[path] = step.last_loss
    times = {path: [] for path in PATHS}
    cpu = {path: [] for path in PATHS}
    for _ in range(reps):
        for path in PATHS:  # interleaved: both see the same load
            times[path].append(steps[path]())
            cpu[path].append(steps[path].last_cpu_seconds)
    batch = size['batch']

    def per_example(seconds):
        return {p: 1000 * float(numpy.median(t)) / batch
                for p, t in seconds.items()}
    return dict(ms_per_example=per_example(times),
                cpu_ms_per_example=per_example(cpu),
                step_seconds=times, step_cpu_seconds=cpu, first_loss=losses)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    training_cost.add_arguments(p)
    p.add_argument('--reps', type=int, default=5,
                   help='timed updates per path and size (default 5)')
    args = p.parse_args(argv)
    result, quiet = training_cost.new_result(args, reps=args.reps,
                                             pytorch=pytorch_status())
    with training_cost.blas_threads(args.blas_threads):
        for name in args.sizes:
            size = training_cost.SIZES[name]
            entry = dict(size, **benchmark(size, args.reps))
            ms = entry['ms_per_example']
            cpu = entry['cpu_ms_per_example']
            entry['speedup'] = ms['plain'] / ms['fast']
            entry['cpu_speedup'] = cpu['plain'] / cpu['fast']
            result['sizes'][name] = entry
            print('{} sizes (batch {}, {}x{}, {} samples): plain {:.1f} ms '
                  'per example, fast {:.1f} ms ({:.2f}x); processor time '
                  '{:.1f} / {:.1f} ms ({:.2f}x); first losses {:.6f} / '
                  '{:.6f}'.format(
                      name, size['batch'], size['frame_crop'],
                      size['frame_crop'], size['audio_crop'], ms['plain'],
                      ms['fast'], entry['speedup'], cpu['plain'], cpu['fast'],
                      entry['cpu_speedup'],
                      entry['first_loss']['plain'],
                      entry['first_loss']['fast']))
    print('PyTorch: ' + result['pytorch'])
    if not quiet:
        print('(busy machine: figures are indicative only)')
    training_cost.write_json(args.json, result)
    return 0


if __name__ == '__main__':
    sys.exit(main())
