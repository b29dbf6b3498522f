"""What one training step of the network costs on the CPU: the pieces that
``profile_training.py`` and ``benchmark_training.py`` share.

* :data:`SIZES`: the paper's training sizes and the quick configuration's
  (batch, frame crop, audio crop), read from ``experiments/configs``;
* :class:`TrainingStep`: the network, Adam with the paper's settings and
  the package's :class:`~deep_impression.training.updater.Updater` on one
  fixed batch of random examples (so a step is the update alone: the
  converter, forward, backward and Adam; loading is measured apart);
* :func:`loader_seconds`: seconds to load one batch from a clip store
  with the training dataset (the work a loader process does per batch);
* :func:`provenance`: the ``command``, ``commit`` and ``machine`` keys of
  a result file.
"""

import contextlib
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

import chainer  # noqa: E402

from deep_impression.constants import SAMPLE_RATE, TRAITS  # noqa: E402


def _sizes():
    from deep_impression.training import load_config
    sizes = {}
    for name in ('paper', 'quick'):
        c = load_config(os.path.join(HERE, 'configs', name + '.json'))
        t, p = c['train'], c['preprocess']
        sizes[name] = dict(batch=t['batch_size'], frame_crop=t['frame_crop'],
                           audio_crop=t['audio_crop'],
                           frame_size=(p['width'], p['height']))
    return sizes


#: ``{'paper': {...}, 'quick': {...}}``: ``batch`` examples per update,
#: ``frame_crop`` pixels, ``audio_crop`` samples, stored ``frame_size``
#: (width, height), from ``experiments/configs/{paper,quick}.json``.
SIZES = _sizes()


class TrainingStep(object):
    """One update of the network on a fixed batch of random examples.

    Args:
        size: a value of :data:`SIZES`.
        fast_cpu: the :class:`~deep_impression.training.updater.Updater`'s
            switch of the fast CPU path.
        seed: initial weights and the batch.
    """

    def __init__(self, size, fast_cpu, seed=0):
        from deep_impression.models.audiovisual import AudiovisualNetwork
        from deep_impression.training import ADAM
        from deep_impression.training.updater import Regressor, Updater
        numpy.random.seed(seed)
        self.model = AudiovisualNetwork()
        rng = numpy.random.RandomState(seed)
        b, c, a = size['batch'], size['frame_crop'], size['audio_crop']
        # Values in the ranges of real examples: samples in [-1, 1],
        # pixels 0-255, traits in [0, 1].
        examples = [(rng.uniform(-1, 1, (1, 1, a)).astype(numpy.float32),
                     rng.uniform(0, 255, (3, c, c)).astype(numpy.float32),
                     rng.uniform(0, 1, len(TRAITS)).astype(numpy.float32))
                    for _ in range(b)]
        self.optimizer = chainer.optimizers.Adam(
            alpha=ADAM['alpha'], beta1=ADAM['beta1'], beta2=ADAM['beta2'],
            eps=ADAM['eps'])
        regressor = Regressor(self.model)
        self.optimizer.setup(regressor)
        self.reporter = chainer.Reporter()
        self.reporter.add_observer('main', regressor)
        self.last_loss = None
        self.updater = Updater(
            chainer.iterators.SerialIterator(examples, b, shuffle=False),
            self.optimizer, fast_cpu=fast_cpu)
        self.batch = b

    def __call__(self):
        """Run one update; returns its wall-clock seconds (the loss it
        reported is kept as :attr:`last_loss`, the processor time of this
        process, all threads, as :attr:`last_cpu_seconds`: on a machine
        shared with other processes it counts the work, not the waiting)."""
        observation = {}
        with self.reporter.scope(observation):
            start, cpu = time.perf_counter(), time.process_time()
            self.updater.update()
            seconds = time.perf_counter() - start
            self.last_cpu_seconds = time.process_time() - cpu
        self.last_loss = float(observation['main/loss'].array)
        return seconds


def make_store(size, folder, clips=4):
    """A small synthetic clip store at ``size``'s stored frame size, with
    clips long enough for its audio crop; returns its path."""
    from deep_impression.data.preprocess import preprocess
    from deep_impression.data.synth import make_dataset
    seconds = float(numpy.ceil(size['audio_crop'] / SAMPLE_RATE + 0.5))
    raw = os.path.join(folder, 'raw')
    make_dataset(raw, train=clips, val=1, test=1, seconds=seconds,
                 size=(320, 180), fps=25, seed=0, jobs=2)
    store = os.path.join(folder, 'store')
    width, height = size['frame_size']
    summary = preprocess(raw, store, jobs=2, width=width, height=height,
                         show_progress=False)
    if summary['failed']:
        raise RuntimeError('synthetic store: {}'.format(summary['failed']))
    return store


def loader_seconds(size, store, batches=3, seed=0):
    """Median seconds to load and batch ``size['batch']`` training
    examples from ``store`` (random clip, audio crop, frame, crop, flip)."""
    from deep_impression.data.datasets import training_dataset
    data = training_dataset(store, 'train', audio_crop=size['audio_crop'],
                            frame_crop=size['frame_crop'], seed=seed)
    times = []
    for k in range(batches):
        start = time.perf_counter()
        chainer.dataset.concat_examples(
            [data[(k * size['batch'] + i) % len(data)]
             for i in range(size['batch'])])
        times.append(time.perf_counter() - start)
    return float(numpy.median(times))


def with_store(size, store, work):
    """``work(store)`` on ``store``, or on a temporary synthetic one."""
    if store is not None:
        return work(store)
    with tempfile.TemporaryDirectory() as folder:
        return work(make_store(size, folder))


def provenance(quiet):
    """``command``, ``commit`` and ``machine`` of a result file."""
    try:
        commit = subprocess.run(
            ['git', 'rev-parse', 'HEAD'], cwd=HERE, capture_output=True,
            text=True, timeout=30).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            names = [line.split(':', 1)[1].strip() for line in f
                     if line.startswith('model name')]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else None
    return dict(
        command=' '.join(['python'] + [os.path.relpath(sys.argv[0],
                                                        os.path.dirname(HERE))]
                         + sys.argv[1:]),
        commit=commit,
        machine='{}, {} cores, load average {} at the start: {}'.format(
            cpu, os.cpu_count(), None if load is None else round(load, 2),
            'quiet' if quiet else 'busy (other processes running)'))


def is_quiet():
    """Whether the 1-minute load average is under half a core."""
    return hasattr(os, 'getloadavg') and os.getloadavg()[0] < 0.5


def add_arguments(parser):
    """``--sizes``, ``--blas-threads`` and ``--json``, which both scripts
    take."""
    parser.add_argument('--sizes', nargs='+', default=['paper', 'quick'],
                        choices=sorted(SIZES))
    parser.add_argument('--blas-threads', type=int, default=None,
                        metavar='N',
                        help='limit OpenBLAS to N threads (default: as is)')
    parser.add_argument('--json', default=None,
                        help='write the results here')


def new_result(args, **settings):
    """A result's provenance, ``blas_threads`` and ``settings``, with an
    empty ``sizes``; and whether the machine is quiet."""
    quiet = is_quiet()
    return dict(provenance(quiet), blas_threads=args.blas_threads,
                sizes={}, **settings), quiet


def blas_threads(n):
    """A context limiting BLAS to ``n`` threads (None: unchanged), through
    threadpoolctl (which scikit-learn brings)."""
    if n is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits
    return threadpool_limits(limits=n, user_api='blas')


def write_json(path, result):
    from deep_impression import fileio
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fileio.write_json(path, result, indent=2)
