"""This package's training step and whole-clip evaluation on one device,
beside the same network in PyTorch (when ``torch`` imports; it is no
dependency of the package), on the same device.

Measured, each the median of ``--repeats`` runs after ``--warmup`` runs,
the device synchronised around each run:

* ``train_ms_per_example``: one update of the package's trainer
  (:func:`deep_impression.training.make_trainer`: Adam, mean absolute
  error, batch normalisation in training mode) on ``--batchsize`` examples
  of ``--frame-crop`` square frames and ``--audio-crop`` samples already in
  memory, divided by the batch size (paper §2.2: 32, 224x224, 50176);
* ``eval_ms_per_clip``: the whole-clip prediction the release makes
  (:meth:`AudiovisualNetwork.predict`: all of the audio, every frame, the
  frames' features averaged) of a clip of ``--clip-seconds`` of 16 kHz
  audio and 25 frames/s of ``--frame-size`` (paper §2.3: 15 s, 375 frames
  of 456x256);
* the same two for the PyTorch network of
  ``experiments/benchmark_inference.py`` (same weights, Adam with the same
  settings, L1 loss), and ``ratio`` = package / PyTorch;
* ``data_wait_share``: with ``--store DIR`` (or ``--make-store``, a small
  synthetic store made with the package's own ``synth`` and
  ``preprocess``), the share of ``--wait-updates`` training updates that the
  trainer spends waiting for the next batch from the package's iterator
  (``--loaders`` processes, the run's real crops), the rest being the
  update itself.

CPU check at tiny sizes (what the tests run)::

    python experiments/benchmark_gpu.py --device @numpy --batchsize 2 \\
        --frame-crop 32 --audio-crop 1024 --clip-seconds 0.2 \\
        --frame-size 64x96 --repeats 2 --warmup 1 --json runs/bench-gpu.json

On a GPU with the paper's sizes (experiments/gpu_check.sh)::

    python experiments/benchmark_gpu.py --device @cupy:0 --make-store \\
        --json $OUT/benchmark_gpu.json
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from deep_impression import _compat  # noqa: F401,E402  (before chainer)
from deep_impression.constants import (FPS, FRAME_CHUNK,  # noqa: E402
                                       SAMPLE_RATE)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--device', default=None,
                   help='Chainer device (default: the GPU when CuPy finds '
                        'one, else @numpy); PyTorch runs on the same one')
    p.add_argument('--batchsize', type=int, default=32)
    p.add_argument('--frame-crop', type=int, default=224, metavar='PIXELS')
    p.add_argument('--audio-crop', type=int, default=50176,
                   metavar='SAMPLES')
    p.add_argument('--clip-seconds', type=float, default=15.0)
    p.add_argument('--frame-size', default='256x456', metavar='HxW')
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--store', default=None, metavar='DIR',
                   help='a clip store for the data-wait measurement')
    p.add_argument('--make-store', action='store_true',
                   help='make a small synthetic store for it')
    p.add_argument('--store-clips', type=int, default=64)
    p.add_argument('--loaders', type=int, default=4)
    p.add_argument('--wait-updates', type=int, default=10)
    p.add_argument('--no-torch', action='store_true',
                   help='leave out the PyTorch reference')
    p.add_argument('--json', default=None, metavar='FILE')
    args = p.parse_args(argv)
    try:
        args.frame_size = tuple(int(v) for v in args.frame_size.split('x'))
        assert len(args.frame_size) == 2
    except (ValueError, AssertionError):
        p.error('--frame-size: expected HxW, e.g. 256x456')
    return args


# -- timing ------------------------------------------------------------------

def synchronizer(device):
    """A function that waits for ``device`` (a Chainer device) to finish
    its queued work (a no-op on the CPU)."""
    if getattr(device, 'xp', numpy) is numpy:
        return lambda: None
    import cupy
    return lambda: cupy.cuda.get_current_stream().synchronize()


def median_ms(run, repeats, warmup, sync):
    """Median wall time of ``run()`` in ms over ``repeats`` runs after
    ``warmup`` untimed ones; ``sync()`` waits for the device."""
    for _ in range(warmup):
        run()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


# -- inputs ------------------------------------------------------------------

def training_batch(n, audio_crop, frame_crop, seed=0):
    """``n`` synthetic examples ``(audio, frame, labels)`` as the package's
    training dataset makes them (float32; frames 0-255)."""
    rng = numpy.random.RandomState(seed)
    return (rng.uniform(-1, 1, (n, 1, 1, audio_crop)).astype(numpy.float32),
            rng.uniform(0, 255, (n, 3, frame_crop, frame_crop))
            .astype(numpy.float32),
            rng.uniform(0, 1, (n, 5)).astype(numpy.float32))


def clip(seconds, frame_size, seed=1):
    """``(audio, frames)`` of a synthetic clip: 16 kHz samples and
    ``(T, H, W, 3)`` uint8 frames at 25 frames/s (at least one)."""
    rng = numpy.random.RandomState(seed)
    audio = rng.uniform(-0.5, 0.5, int(seconds * SAMPLE_RATE)).astype(
        numpy.float32)
    frames = rng.randint(0, 256, (max(1, int(round(seconds * FPS))),)
                         + tuple(frame_size) + (3,)).astype(numpy.uint8)
    return audio, frames


# -- the package (Chainer) ---------------------------------------------------

def chainer_train_ms(model, device, args, out):
    """ms per update of the package's trainer on in-memory examples."""
    from chainer.datasets import TupleDataset
    from deep_impression.training import make_trainer
    data = TupleDataset(*training_batch(args.batchsize, args.audio_crop,
                                        args.frame_crop))
    trainer = make_trainer(model, data, out, epochs=10 ** 6,
                           batch_size=args.batchsize, device=device,
                           loaders=0, progress_bar=False)
    return median_ms(trainer.updater.update, args.repeats, args.warmup,
                     synchronizer(trainer.updater.device))


def chainer_eval_ms(model, audio, frames, args, sync):
    return median_ms(lambda: model.predict(audio, frames), args.repeats,
                     args.warmup, sync)


def data_wait_share(store, device, args, out):
    """Share of ``--wait-updates`` updates of a real training run on
    ``store`` spent waiting for the iterator (and the mean ms of an
    update)."""
    from deep_impression.data import datasets
    from deep_impression.models.audiovisual import AudiovisualNetwork
    from deep_impression.training import make_trainer
    data = datasets.training_dataset(store, 'train',
                                     audio_crop=args.audio_crop,
                                     frame_crop=args.frame_crop, seed=0)
    trainer = make_trainer(AudiovisualNetwork(), data, out, epochs=10 ** 6,
                           batch_size=args.batchsize, device=device,
                           loaders=args.loaders, progress_bar=False)
    updater = trainer.updater
    sync = synchronizer(updater.device)
    iterator = updater.get_iterator('main')
    waited = []
    plain_next = iterator.next

    def timed_next():
        start = time.perf_counter()
        batch = plain_next()
        waited.append(time.perf_counter() - start)
        return batch
    iterator.next = timed_next
    try:
        for _ in range(args.warmup):
            updater.update()
        sync()
        del waited[:]
        start = time.perf_counter()
        for _ in range(args.wait_updates):
            updater.update()
            sync()      # the GPU's work counts as the update, not the wait
        total = time.perf_counter() - start
    finally:
        iterator.finalize()
    return dict(share=sum(waited) / total,
                ms_per_update=total * 1e3 / args.wait_updates,
                updates=args.wait_updates, loaders=args.loaders)


def make_store(root, clips, jobs):
    """A synthetic store of ``clips`` training clips of 4 s (longer than
    the paper's 50176-sample audio crop), 456x256 frames."""
    from deep_impression.data.preprocess import preprocess
    from deep_impression.data.synth import make_dataset
    raw, store = os.path.join(root, 'raw'), os.path.join(root, 'store')
    make_dataset(raw, train=clips, val=0, test=0, seconds=4.0,
                 size=(320, 180), fps=FPS, seed=0, jobs=jobs)
    summary = preprocess(raw, store, jobs=jobs)
    if summary['failed']:
        raise RuntimeError('preprocessing failed: {}'.format(
            summary['failed']))
    return store


# -- PyTorch, the reference ------------------------------------------------

def torch_results(chainer_model, device, audio, frames, args):
    """The same two measurements on the PyTorch network (the same weights)
    on the same device, or ``{'skipped': why}``."""
    try:
        import torch
    except Exception as e:
        return {'skipped': 'torch does not import ({})'.format(
            type(e).__name__)}
    from benchmark_inference import torch_network
    on_gpu = str(device).startswith('@cupy')
    if on_gpu and not torch.cuda.is_available():
        return {'skipped': 'torch sees no GPU'}
    dev = torch.device('cuda:{}'.format(str(device).split(':')[1])
                       if on_gpu else 'cpu')
    sync = torch.cuda.synchronize if on_gpu else (lambda: None)
    net = torch_network(chainer_model).to(dev)

    def traits(a, v):
        return (torch.tanh(net.fc(torch.cat([a, v], 1))) + 1) / 2

    a, f, y = (torch.from_numpy(x).to(dev) for x in training_batch(
        args.batchsize, args.audio_crop, args.frame_crop))
    # Adam as the paper sets it (§2.2).
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-4,
                                 betas=(0.5, 0.999), eps=1e-8)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.l1_loss(traits(net.aud(a), net.vis(f)), y)
        loss.backward()
        optimizer.step()

    net.train()
    train_ms = median_ms(step, args.repeats, args.warmup, sync)
    net.eval()
    audio_t = torch.from_numpy(audio.reshape(1, 1, 1, -1))

    def predict():
        with torch.inference_mode():
            s = net.aud(audio_t.to(dev))
            total = 0
            for i in range(0, len(frames), FRAME_CHUNK):
                chunk = torch.from_numpy(frames[i:i + FRAME_CHUNK]).to(dev)
                x = chunk.permute(0, 3, 1, 2).float()
                total = total + net.vis(x).sum(0, keepdim=True)
            return traits(s, total / len(frames)).cpu().numpy()[0]

    eval_ms = median_ms(predict, args.repeats, args.warmup, sync)
    return {'torch': torch.__version__, 'train_ms_per_example':
            train_ms / args.batchsize, 'eval_ms_per_clip': eval_ms,
            'prediction': predict()}


# -- the run ---------------------------------------------------------------

def _commit():
    try:
        return subprocess.run(
            ['git', 'rev-parse', 'HEAD'], cwd=HERE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, timeout=10).stdout.decode().strip()
    except Exception:
        return None


def _machine(device):
    from deep_impression.runtime import describe_device
    return '{}, {} cores, {}; device {}'.format(
        platform.processor() or platform.machine(), os.cpu_count(),
        'load {:.1f}'.format(os.getloadavg()[0]), describe_device(device))


def run(args):
    """All measurements; returns the JSON-able report."""
    import chainer
    from deep_impression import training
    from deep_impression.models.audiovisual import AudiovisualNetwork
    from deep_impression.models.weights import get_device, to_device
    device = args.device or training.default_device()
    print('benchmark: device {}'.format(device), flush=True)
    audio, frames = clip(args.clip_seconds, args.frame_size)
    numpy.random.seed(0)
    cpu_model = AudiovisualNetwork()
    cpu_model.fc.W.array *= 1e-3    # traits away from tanh's flat ends
    report = {
        'command': ' '.join(['python'] + sys.argv),
        'commit': _commit(), 'machine': _machine(device), 'device': device,
        'chainer': chainer.__version__,
        'cudnn_enabled': bool(chainer.backends.cuda.cudnn_enabled),
        'settings': dict(batchsize=args.batchsize,
                         frame_crop=args.frame_crop,
                         audio_crop=args.audio_crop,
                         clip_seconds=args.clip_seconds,
                         clip_frames=len(frames),
                         frame_size=list(args.frame_size),
                         repeats=args.repeats, warmup=args.warmup),
    }
    with tempfile.TemporaryDirectory(prefix='bench-gpu-') as tmp:
        import copy
        model = to_device(copy.deepcopy(cpu_model), device)
        sync = synchronizer(get_device(device))
        eval_ms = chainer_eval_ms(model, audio, frames, args, sync)
        prediction = model.predict(audio, frames)
        train_ms = chainer_train_ms(copy.deepcopy(cpu_model), device, args,
                                    os.path.join(tmp, 'train'))
        report['package'] = {
            'train_ms_per_example': train_ms / args.batchsize,
            'eval_ms_per_clip': eval_ms}
        if args.no_torch:
            ref = {'skipped': '--no-torch'}
        else:
            ref = torch_results(cpu_model, device, audio, frames, args)
        if 'prediction' in ref:
            # The two networks must agree, or the timing compares two
            # different computations.
            ref['max_abs_difference'] = float(numpy.abs(
                ref.pop('prediction') - prediction).max())
            report['ratio'] = {
                key: report['package'][key] / ref[key]
                for key in ('train_ms_per_example', 'eval_ms_per_clip')}
        report['pytorch'] = ref
        store = args.store
        if store is None and args.make_store:
            store = make_store(tmp, args.store_clips, os.cpu_count() or 1)
        if store is not None:
            report['data_wait'] = data_wait_share(
                store, device, args, os.path.join(tmp, 'wait'))
    return report


def summary_lines(report):
    """The human-readable lines of a report."""
    p, ref = report['package'], report['pytorch']
    lines = ['device {}: package {:.2f} ms per training example, {:.1f} ms '
             'per {:g}-s clip'.format(report['device'],
                                      p['train_ms_per_example'],
                                      p['eval_ms_per_clip'],
                                      report['settings']['clip_seconds'])]
    if 'skipped' in ref:
        lines.append('PyTorch reference: skipped ({})'.format(ref['skipped']))
    else:
        lines.append(
            'PyTorch {}: {:.2f} ms per training example, {:.1f} ms per clip;'
            ' package / PyTorch {:.2f} (train), {:.2f} (clip); predictions '
            'differ by {:.1e}'.format(
                ref['torch'], ref['train_ms_per_example'],
                ref['eval_ms_per_clip'],
                report['ratio']['train_ms_per_example'],
                report['ratio']['eval_ms_per_clip'],
                ref['max_abs_difference']))
    if 'data_wait' in report:
        w = report['data_wait']
        lines.append('data wait: {:.0%} of {} updates ({:.0f} ms each, {} '
                     'loaders)'.format(w['share'], w['updates'],
                                       w['ms_per_update'], w['loaders']))
    return lines


def main(argv=None):
    args = parse_args(argv)
    report = run(args)
    print('\n'.join(summary_lines(report)))
    if args.json:
        from deep_impression import fileio
        fileio.write_json(args.json, report)
        print('JSON: {}'.format(args.json))
    return 0


if __name__ == '__main__':
    sys.exit(main())
