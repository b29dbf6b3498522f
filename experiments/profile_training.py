"""Where a training step's time goes on the CPU, per kind of work.

For the paper's sizes (batch 32, 224x224 frame crops, 50176-sample audio
crops) and the quick configuration's (batch 8, 112, 16000), and for the
plain Chainer path and the fast CPU path
(:mod:`deep_impression.models.fast_cpu`), times ``--steps`` updates after
one warm-up and splits them by a Chainer ``FunctionHook`` that takes each
function node's *own* time (forward and backward, less the nodes it
calls), plus:

* ``im2col``, ``col2im`` and ``GEMM`` inside Chainer's convolutions
  (``chainer.utils.conv.im2col_cpu``/``col2im_cpu`` and
  ``numpy.tensordot``, taken out of their node's time), and ``GEMM`` of
  the fast path (``numpy.matmul``);
* ``Adam``: the optimizer's update;
* ``rest``: the step less all of the above (the graph's bookkeeping,
  gradient accumulation, the converter);
* ``loader``: loading one batch from a clip store with the training
  dataset (in a loader process when ``loaders`` > 0, in the training
  process otherwise; not part of the step's time).

Prints a table per size and path, and writes JSON with ``--json``::

    python experiments/profile_training.py --json docs/results/profile_training.json
"""

import argparse
import collections
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import training_cost  # noqa: E402  (puts the package on the path)

import chainer  # noqa: E402
import numpy  # noqa: E402
from chainer.utils import conv  # noqa: E402

#: Chainer's and the fast path's node names -> the kind of work they do.
KINDS = {
    'Convolution2DFunction': 'convolution forward',
    'Deconvolution2DFunction': 'convolution backward, input gradient',
    'Convolution2DGradW': 'convolution backward, weight gradient',
    'fast Convolution2D': 'convolution forward',
    'fast Convolution2D backward': 'convolution backward (both)',
    'BatchNormalization': 'batch normalisation forward',
    'BatchNormalizationGrad': 'batch normalisation backward',
    'fast BatchNormalization': 'batch normalisation (+ReLU) forward',
    'fast BatchNormalization backward': 'batch normalisation (+ReLU) '
                                        'backward',
    'MaxPoolingND': 'max pooling forward',
    'MaxPoolingNDGrad': 'max pooling backward',
    'fast MaxPooling2D': 'max pooling forward',
    'fast MaxPooling2D backward': 'max pooling backward',
    'ReLU': 'ReLU forward',
    'ReLUGrad2': 'ReLU backward',
}


#: ``--clock``: wall-clock time, or this process's processor time (on a
#: busy machine the work done without the waits for a core; with one BLAS
#: thread it is the one thread's time).
CLOCKS = dict(wall=time.perf_counter, cpu=time.process_time)


class Profile(chainer.FunctionHook):
    """Own time per kind: each node's time less its children's (nodes
    called inside it and the timed helpers)."""

    name = 'profile'

    def __init__(self, clock):
        self.clock = clock
        self.seconds = collections.Counter()
        self.stack = []

    def _push(self):
        self.stack.append([self.clock(), 0.0])

    def _pop(self, label):
        start, children = self.stack.pop()
        total = self.clock() - start
        self.seconds[label] += total - children
        if self.stack:
            self.stack[-1][1] += total

    def _label(self, function, backward):
        from deep_impression.models import fast_cpu
        node = getattr(function, 'function', function)  # old-style adapters
        name = type(node).__name__
        if type(node).__module__ == fast_cpu.__name__:
            name = 'fast ' + name
            if backward:
                name += ' backward'
        return KINDS.get(name, 'other: ' + name)

    def forward_preprocess(self, function, in_data):
        self._push()

    def forward_postprocess(self, function, in_data):
        self._pop(self._label(function, False))

    def backward_preprocess(self, function, in_data, out_grad):
        self._push()

    def backward_postprocess(self, function, in_data, out_grad):
        # Chainer's nodes compute their gradients in other nodes (timed
        # as those); what remains here is bookkeeping, or the fast path.
        self._pop(self._label(function, True))

    def timed(self, label, function):
        """``function`` wrapped so that its time counts as ``label``."""
        def wrapper(*args, **kwargs):
            self._push()
            try:
                return function(*args, **kwargs)
            finally:
                self._pop(label)
        return wrapper


def profile(size, fast, steps, clock):
    """Seconds per step and per kind, averaged over ``steps`` updates, by
    ``clock`` (wall or processor time)."""
    step = training_cost.TrainingStep(size, fast_cpu=fast)
    step()  # warm-up: first-touch allocations, Adam's state
    hook = Profile(CLOCKS[clock])
    patches = [(conv, 'im2col_cpu', 'im2col'), (conv, 'col2im_cpu', 'col2im'),
               (numpy, 'tensordot', 'GEMM'), (numpy, 'matmul', 'GEMM'),
               (step.optimizer, 'update', 'Adam')]
    saved = [(obj, attr, getattr(obj, attr)) for obj, attr, _ in patches]
    for obj, attr, label in patches:
        setattr(obj, attr, hook.timed(label, getattr(obj, attr)))
    try:
        total = 0.0
        with hook:
            for _ in range(steps):
                wall = step()
                total += wall if clock == 'wall' else step.last_cpu_seconds
    finally:
        for obj, attr, original in saved:
            setattr(obj, attr, original)
    # The patched optimizer.update is an instance attribute: drop it.
    step.optimizer.__dict__.pop('update', None)
    kinds = {k: v / steps for k, v in hook.seconds.items()}
    kinds['rest'] = total / steps - sum(kinds.values())
    return total / steps, kinds


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    training_cost.add_arguments(p)
    p.add_argument('--steps', type=int, default=2,
                   help='timed updates per size and path (default 2)')
    p.add_argument('--paths', nargs='+', default=['plain', 'fast'],
                   choices=['plain', 'fast'])
    p.add_argument('--store', default=None,
                   help='a clip store for the loader (default: a small '
                        'synthetic one, made in a temporary folder)')
    p.add_argument('--clock', default='wall', choices=sorted(CLOCKS),
                   help='wall-clock (default) or processor time (cpu)')
    args = p.parse_args(argv)
    result, quiet = training_cost.new_result(args, steps=args.steps,
                                             clock=args.clock)
    with training_cost.blas_threads(args.blas_threads):
        _profile_sizes(args, result)
    if not quiet:
        print('\n(busy machine: shares are indicative only)')
    training_cost.write_json(args.json, result)
    return 0


def _profile_sizes(args, result):
    for name in args.sizes:
        size = training_cost.SIZES[name]
        entry = dict(size, paths={})
        entry['loader_s_per_batch'] = training_cost.with_store(
            size, args.store, lambda s: training_cost.loader_seconds(size, s))
        for path in args.paths:
            seconds, kinds = profile(size, path == 'fast', args.steps,
                                     args.clock)
            entry['paths'][path] = dict(
                step_s=seconds, ms_per_example=1000 * seconds / size['batch'],
                kinds_s=kinds,
                shares={k: v / seconds for k, v in kinds.items()})
            print('\n{} sizes (batch {}, {}x{} crops, {} samples), {} path: '
                  '{:.2f} s per step, {:.1f} ms per example'.format(
                      name, size['batch'], size['frame_crop'],
                      size['frame_crop'], size['audio_crop'], path, seconds,
                      1000 * seconds / size['batch']))
            for kind, s in sorted(kinds.items(), key=lambda kv: -kv[1]):
                print('  {:45s} {:8.3f} s {:6.1%}'.format(kind, s,
                                                         s / seconds))
        print('  {:45s} {:8.3f} s per batch (not in the step)'.format(
            'loader', entry['loader_s_per_batch']))
        result['sizes'][name] = entry


if __name__ == '__main__':
    sys.exit(main())
