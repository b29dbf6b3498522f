"""How fast the clip store feeds training, and what it costs on disk.

Four measurements, printed and written as JSON:

1. ``formats``: candidate frame formats on realistic 456x256 frames (the
   photographs that ship with scikit-image, shifted a little from frame to
   frame as in video, with mild sensor noise): bytes per frame and
   milliseconds to read one random frame from a clip file (open, seek, read,
   decode). Raw uint8 ``.npy`` memory maps, PNG and JPEG (quality 75/90/95)
   packed one file per clip behind an offset index (the store's layout), and
   one compressed ``.npz`` per clip (which must be inflated whole to reach a
   frame).
2. ``training``: training examples per second (paper §2.2 examples: audio
   crop, random frame, 224x224 crop, flip; batch 32) read from a store by
   ``MultiprocessIterator`` with 1, 2, ... worker processes, and in the main
   process alone (the per-core figure). The store is made of the same
   realistic frames (15-s clips: 375 frames, 240,000 samples), or given
   with ``--store``.
3. ``preprocessing``: ``deep-impression preprocess`` on synthetic clips in
   the challenge's format (1280x720 30 frames/s H.264 + AAC, 15 s): clips per
   second with 1 worker (per core) and with all workers.
4. ``bytes_per_clip``: of the stores above, extrapolated to 15-s clips and
   to the 10,000 clips of the challenge.

Example (the figures in the data helper's report)::

    .venv/bin/python experiments/benchmark_data.py \
        --json runs/benchmark_data.json
"""

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time

import numpy

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from deep_impression import _compat  # noqa: F401,E402
from deep_impression.data import store  # noqa: E402
from deep_impression.constants import (FPS, FRAME_HEIGHT, FRAME_WIDTH,  # noqa
                                       SAMPLE_RATE, TRAITS)

CLIP_SECONDS = 15
CLIP_FRAMES = CLIP_SECONDS * FPS             # 375
CLIP_SAMPLES = CLIP_SECONDS * SAMPLE_RATE    # 240,000
DATASET_CLIPS = 10000


def natural_frames(n, seed=0):
    """(n, 256, 456, 3) uint8: scikit-image photographs as video-like frames.

    Each run of 25 frames shows one photograph, resized to cover 480x270,
    with a window that drifts a pixel a frame, plus Gaussian noise of
    standard deviation 2 (camera noise, which costs JPEG bytes).
    """
    import cv2
    import skimage.data
    rng = numpy.random.default_rng(seed)
    photos = []
    # The colour photographs bundled with scikit-image (no download).
    for name in ('astronaut', 'chelsea', 'coffee', 'rocket',
                 'hubble_deep_field', 'immunohistochemistry'):
        image = getattr(skimage.data, name)()
        if image.ndim == 2:
            image = numpy.repeat(image[..., None], 3, axis=2)
        photos.append(cv2.resize(image[..., :3], (480, 270),
                                 interpolation=cv2.INTER_AREA))
    out = numpy.empty((n, FRAME_HEIGHT, FRAME_WIDTH, 3), numpy.uint8)
    for i in range(n):
        photo = photos[(i // 25) % len(photos)]
        dx = (i % 25) % (480 - FRAME_WIDTH)
        dy = (i % 25) % (270 - FRAME_HEIGHT)
        frame = photo[dy:dy + FRAME_HEIGHT, dx:dx + FRAME_WIDTH].astype(
            numpy.float32)
        frame += rng.normal(0, 2.0, frame.shape)
        out[i] = numpy.clip(frame, 0, 255)
    return out


def _time_random_reads(read, n_frames, reads, seed=1):
    rng = numpy.random.default_rng(seed)
    indices = rng.integers(0, n_frames, reads)
    read(0)
    start = time.perf_counter()
    for i in indices:
        read(int(i))
    return 1000.0 * (time.perf_counter() - start) / reads


def bench_formats(frames, tmp, reads=200):
    import cv2
    n = len(frames)
    results = {}
    # Raw uint8 memory map.
    path = os.path.join(tmp, 'raw.npy')
    numpy.save(path, frames)
    results['raw uint8 .npy memmap'] = dict(
        bytes_per_frame=os.path.getsize(path) / n,
        ms_per_random_frame=_time_random_reads(
            lambda i: numpy.array(numpy.load(path, mmap_mode='r')[i]),
            n, reads))
    # Whole-clip compressed npz.
    path = os.path.join(tmp, 'clip.npz')
    numpy.savez_compressed(path, frames=frames)
    results['npz (zlib) per clip'] = dict(
        bytes_per_frame=os.path.getsize(path) / n,
        ms_per_random_frame=_time_random_reads(
            lambda i: numpy.load(path)['frames'][i], n, max(reads // 20, 3)))
    # Packed images, the store's layout.
    for label, encode in (
            ('PNG packed', lambda f: cv2.imencode('.png', f[..., ::-1])[1]
             .tobytes()),
            ('JPEG q75 packed', lambda f: store.encode_frame(f, 75)),
            ('JPEG q90 packed (chosen)', lambda f: store.encode_frame(f, 90)),
            ('JPEG q95 packed', lambda f: store.encode_frame(f, 95))):
        start = time.perf_counter()
        encoded = [encode(f) for f in frames]
        encode_ms = 1000.0 * (time.perf_counter() - start) / n
        path = os.path.join(tmp, 'clip.frames')
        size = store.write_frames(path, encoded, FRAME_WIDTH, FRAME_HEIGHT)

        def read(i, path=path):
            offsets, _, _ = store.read_frames_index(path)
            with open(path, 'rb') as f:
                f.seek(int(offsets[i]))
                return store.decode_frame(
                    f.read(int(offsets[i + 1] - offsets[i])))
        decoded = numpy.stack([store.decode_frame(e) for e in encoded[:25]])
        results[label] = dict(
            bytes_per_frame=size / n, encode_ms_per_frame=encode_ms,
            ms_per_random_frame=_time_random_reads(read, n, reads),
            mean_abs_error=float(numpy.abs(decoded.astype(float)
                                           - frames[:25]).mean()))
    for r in results.values():
        r['gb_for_dataset'] = (r['bytes_per_frame'] * CLIP_FRAMES
                               + 4 * CLIP_SAMPLES) * DATASET_CLIPS / 1e9
    return results


def make_store(root, frames, n_clips, seed=0):
    """A store of ``n_clips`` 15-s clips whose frames are ``frames``
    (cycled with an offset per clip), audio noise, random labels."""
    rng = numpy.random.default_rng(seed)
    os.makedirs(os.path.join(root, store.CLIP_DIR), exist_ok=True)
    with open(os.path.join(root, store.STORE_INFO), 'w') as f:
        json.dump(dict(frame_size=[FRAME_WIDTH, FRAME_HEIGHT], fps=FPS,
                       sample_rate=SAMPLE_RATE), f)
    encoded = [store.encode_frame(f) for f in frames]
    lines = []
    for k in range(n_clips):
        clip_id = 'benchmark{:02d}.000'.format(k)
        jpegs = [encoded[(k * 37 + i) % len(encoded)]
                 for i in range(CLIP_FRAMES)]
        size = store.write_frames(store.frames_path(root, clip_id), jpegs,
                                  FRAME_WIDTH, FRAME_HEIGHT)
        audio = (0.1 * rng.standard_normal(CLIP_SAMPLES)).astype(
            numpy.float32)
        size += store.write_audio(store.audio_path(root, clip_id), audio)
        lines.append(dict(
            clip_id=clip_id, split='train', status='ok',
            num_frames=CLIP_FRAMES, num_samples=CLIP_SAMPLES,
            width=FRAME_WIDTH, height=FRAME_HEIGHT, bytes=size,
            labels={t: float(v) for t, v in zip(TRAITS, rng.uniform(
                size=5))}))
    with open(os.path.join(root, store.MANIFEST), 'w') as f:
        for line in lines:
            f.write(json.dumps(line) + '\n')


def bench_training(root, processes, batches, batch_size=32):
    import chainer
    from deep_impression.data.datasets import training_dataset
    dataset = training_dataset(root, 'train')
    results = {}
    # Main process only: the cost of one example on one core.
    it = chainer.iterators.SerialIterator(dataset, batch_size)
    chainer.dataset.concat_examples(it.next())
    start = time.perf_counter()
    for _ in range(batches):
        chainer.dataset.concat_examples(it.next())
    results['main process (1 core)'] = batches * batch_size / (
        time.perf_counter() - start)
    for n in processes:
        it = chainer.iterators.MultiprocessIterator(
            dataset, batch_size, n_processes=n, n_prefetch=2,
            shared_mem=2 * 1024 * 1024)
        try:
            for _ in range(2):   # warm up the workers
                chainer.dataset.concat_examples(it.next())
            start = time.perf_counter()
            for _ in range(batches):
                chainer.dataset.concat_examples(it.next())
            results['MultiprocessIterator n_processes={}'.format(n)] = (
                batches * batch_size / (time.perf_counter() - start))
        finally:
            it.finalize()
    return results


def bench_preprocessing(tmp, n_clips, jobs):
    from deep_impression.data.preprocess import preprocess
    from deep_impression.data.synth import make_dataset
    raw = os.path.join(tmp, 'raw')
    start = time.perf_counter()
    make_dataset(raw, train=n_clips, val=0, test=0, seconds=CLIP_SECONDS,
                 jobs=jobs)
    synth_seconds = time.perf_counter() - start
    results = dict(clips=n_clips, clip='synthetic 15 s, 1280x720 30 fps '
                   'H.264 + AAC', synth_seconds=synth_seconds)
    for n in sorted({1, jobs}):
        out = os.path.join(tmp, 'store{}'.format(n))
        start = time.perf_counter()
        summary = preprocess(raw, out, jobs=n)
        seconds = time.perf_counter() - start
        assert not summary['failed'], summary['failed']
        results['jobs={}'.format(n)] = dict(
            seconds=seconds, clips_per_second=n_clips / seconds,
            clips_per_second_per_core=n_clips / seconds / n)
    sizes = [r['bytes'] for r in store.read_manifest(out).values()]
    return results, float(numpy.mean(sizes))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--processes', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--batches', type=int, default=20,
                        help='batches of 32 timed per setting')
    parser.add_argument('--clips', type=int, default=12,
                        help='clips in the training benchmark store')
    parser.add_argument('--store', default=None,
                        help='time training reads from this store instead')
    parser.add_argument('--preprocess-clips', type=int, default=4)
    parser.add_argument('--jobs', type=int, default=os.cpu_count() or 1)
    parser.add_argument('--skip', nargs='*', default=[],
                        choices=['formats', 'training', 'preprocessing'])
    parser.add_argument('--json', default=None, help='write the JSON here')
    args = parser.parse_args(argv)

    report = dict(machine=dict(platform=platform.platform(),
                               python=platform.python_version(),
                               cpus=os.cpu_count(),
                               load_average=os.getloadavg()))
    tmp = tempfile.mkdtemp(prefix='benchmark_data-')
    try:
        frames = natural_frames(200)
        if 'formats' not in args.skip:
            report['formats'] = bench_formats(frames, tmp)
            print('frame formats (456x256, natural photographs):')
            for name, r in report['formats'].items():
                print('  {:28s} {:9.0f} B/frame  {:7.2f} ms/random frame  '
                      '{:7.0f} GB for 10,000 15-s clips'.format(
                          name, r['bytes_per_frame'],
                          r['ms_per_random_frame'], r['gb_for_dataset']))
        if 'training' not in args.skip:
            root = args.store
            if root is None:
                root = os.path.join(tmp, 'store')
                make_store(root, frames, args.clips)
            training = bench_training(root, args.processes, args.batches)
            per_core = training['main process (1 core)']
            report['training'] = dict(
                examples_per_second=training, store=args.store or
                'natural frames, JPEG q90, 15-s clips',
                per_core=per_core,
                extrapolated_16_cores=16 * per_core,
                extrapolated_14_worker_cores=14 * per_core)
            print('training examples/s (batch 32):')
            for name, value in training.items():
                print('  {:40s} {:8.1f}'.format(name, value))
            print('  per core x 16 cores = {:.0f} examples/s'.format(
                16 * per_core))
        if 'preprocessing' not in args.skip:
            pre, synthetic_bytes = bench_preprocessing(
                tmp, args.preprocess_clips, args.jobs)
            report['preprocessing'] = pre
            print('preprocessing 15-s 1280x720 clips:')
            for key, r in pre.items():
                if isinstance(r, dict):
                    print('  {:8s} {:6.3f} clips/s  {:6.3f} clips/s per '
                          'core'.format(key, r['clips_per_second'],
                                        r['clips_per_second_per_core']))
            report['bytes_per_clip'] = dict(synthetic_15s_clip=synthetic_bytes)
        q90 = report.get('formats', {}).get('JPEG q90 packed (chosen)')
        if q90:
            natural = q90['bytes_per_frame'] * CLIP_FRAMES + 4 * CLIP_SAMPLES \
                + 8 * (CLIP_FRAMES + 1) + 28
            report.setdefault('bytes_per_clip', {}).update(
                natural_15s_clip=natural,
                natural_10000_clips_gb=natural * DATASET_CLIPS / 1e9)
        if 'bytes_per_clip' in report:
            print('bytes per 15-s clip: ' + ', '.join(
                '{} {:.3g}'.format(k, v)
                for k, v in report['bytes_per_clip'].items()))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        from provenance import write_result
        write_result(args.json, report)
    return 0


if __name__ == '__main__':
    sys.exit(main())
