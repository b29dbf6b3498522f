"""How much fewer frames move the five values: ``--fps`` and ``--max-frames``.

The release runs every frame at 25 frames/s (375 for a 15-s clip). Here each
synthetic clip (:mod:`deep_impression.data.synth`: moving "head", background
colour, voice-like sound) is predicted with all frames and with fewer, the
audio always whole, through the ONNX Runtime backend (equal to Chainer
within 1e-4), exactly as
:func:`~deep_impression.inference.predict.predict_video`
subsamples:

* ``max_frames=K``: K evenly spaced frames of the 25 frames/s stream;
* ``fps=F``: ffmpeg's frame-rate conversion to F frames/s.

Printed per setting: the mean and the largest absolute change of the five
values over clips and traits, and the spread (standard deviation) of the
all-frames values across clips as a scale. Optionally (``--int8``) the same
for the int8 visual stream of ``benchmark_inference.py`` (calibrated on 48
frames of six other synthetic clips), all frames, against fp32.

Weights: ``--weights`` (the release's file), else the benchmark's synthetic
random ones with the FC layer refitted (``benchmark_inference.fit_fc``) so
that the values spread over these clips about as the labels do (std ~0.15);
the figures then describe that untrained network, not the release's.

Example::

    .venv/bin/python experiments/frame_subsampling.py --clips 8 \\
        --json runs/frame_subsampling.json
"""

import argparse
import json
import os
import sys
import tempfile

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from deep_impression import _compat  # noqa: F401,E402

MAX_FRAMES = (1, 3, 10, 25, 75)
FPS_SETTINGS = (1, 2, 5)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--clips', type=int, default=8)
    p.add_argument('--seconds', type=float, default=15.0)
    p.add_argument('--weights', default=None)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--int8', action='store_true',
                   help='also compare the int8 visual stream with fp32')
    p.add_argument('--out', default=None,
                   help='folder for the clips (default: a temporary one)')
    p.add_argument('--json', metavar='FILE', default=None)
    args = p.parse_args(argv)

    import benchmark_inference as bench
    from deep_impression.inference import backends, onnx_export
    from deep_impression import media
    from deep_impression.data import synth
    from deep_impression.inputs import even_indices as frame_indices
    from deep_impression.progress import progress
    from deep_impression.models.weights import load_model

    work = args.out or tempfile.mkdtemp(prefix='subsampling-')
    os.makedirs(work, exist_ok=True)
    weights = args.weights or bench.make_synthetic_weights(
        os.path.join(work, 'model'))
    onnx_model = onnx_export.export(load_model(weights))
    model = backends.OnnxRuntimeModel(onnx_model)
    int8 = None
    if args.int8:
        # Calibrated on 8 frames each of six other (4-s) synthetic clips:
        # their colours and sizes must span those of the clips measured.
        calibration = []
        for j, seq in enumerate(numpy.random.SeedSequence(
                args.seed + 1000).spawn(6)):
            path = os.path.join(work, 'calibration{}.mp4'.format(j))
            if not os.path.exists(path):
                synth.write_clip(path, seq, numpy.random.default_rng(
                    seq).uniform(-1, 1, 5), seconds=4.0, size=(456, 256),
                    fps=30)
            frames = media.read_frames(path)
            calibration.append(frames[frame_indices(len(frames), 8)])
        calibration = numpy.concatenate(calibration)
        int8 = backends.OnnxRuntimeModel(
            onnx_model, visual_stream=bench.quantize_visual_stream(
                onnx_model, os.path.join(work, 'visual_int8.onnx'),
                calibration))

    rng = numpy.random.default_rng(args.seed)
    seeds = numpy.random.SeedSequence(args.seed).spawn(args.clips)
    settings = (['max_frames={}'.format(k) for k in MAX_FRAMES] +
                ['fps={}'.format(f) for f in FPS_SETTINGS])
    # Per clip: audio features, and the mean visual features per setting.
    audio_features = []
    visual = {s: [] for s in ['all'] + settings + ['int8']}
    frames_used = {s: [] for s in ['all'] + settings}

    def mean(features):
        return features.mean(axis=0, dtype=numpy.float64).astype(
            numpy.float32)

    for i in progress(range(args.clips), desc='clips', unit='clip',
                      disable=False):
        path = os.path.join(work, 'clip{:02d}.mp4'.format(i))
        if not os.path.exists(path):
            synth.write_clip(path, seeds[i], rng.uniform(-1, 1, 5),
                             seconds=args.seconds, size=(456, 256), fps=30)
        audio = media.load_clip_audio(path)
        audio_features.append(model.audio_features(audio))
        frames = media.read_frames(path)
        per_frame = numpy.concatenate([
            model.frame_features(frames[s:s + model.batch_size])
            for s in range(0, len(frames), model.batch_size)])
        visual['all'].append(mean(per_frame))
        frames_used['all'].append(len(frames))
        # max_frames: the frames predict_video keeps (it estimates the
        # count from the container's duration; here it is exact).
        for k in MAX_FRAMES:
            idx = frame_indices(len(frames), k)
            visual['max_frames={}'.format(k)].append(mean(per_frame[idx]))
            frames_used['max_frames={}'.format(k)].append(len(idx))
        for f in FPS_SETTINGS:
            sub = media.read_frames(path, fps=f)
            visual['fps={}'.format(f)].append(mean(numpy.concatenate([
                model.frame_features(sub[s:s + model.batch_size])
                for s in range(0, len(sub), model.batch_size)])))
            frames_used['fps={}'.format(f)].append(len(sub))
        if int8 is not None:
            visual['int8'].append(int8.clip_features(audio, frames)[1])

    audio_features = numpy.array(audio_features)
    chainer_model = load_model(weights)
    if args.weights is None:
        # Random weights: an FC layer whose values spread like the labels
        # (std ~0.15) over these clips, so that changes are on that scale.
        bench.fit_fc(chainer_model, audio_features,
                     numpy.array(visual['all']), seed=args.seed)
    fusion = backends.OnnxRuntimeModel.from_chainer(chainer_model)
    values = {s: fusion.fuse_features(audio_features, numpy.array(v))
              for s, v in visual.items() if v}

    ref = values['all']
    spread = ref.std(axis=0)
    rows = []
    print('{} synthetic {:g}-s clips; spread of the all-frames values across '
          'clips (std, per trait): {}'.format(
              args.clips, args.seconds,
              ' '.join('{:.3f}'.format(s) for s in spread)))
    print('{:<15} {:>7} {:>11} {:>10}'.format('setting', 'frames',
                                              'mean |dy|', 'max |dy|'))
    for s in settings + (['int8'] if int8 is not None else []):
        d = numpy.abs(values[s] - ref)
        n = (float(numpy.mean(frames_used[s])) if s in frames_used
             else float(numpy.mean(frames_used['all'])))
        rows.append(dict(setting=s, frames=n, mean_abs_diff=float(d.mean()),
                         max_abs_diff=float(d.max())))
        print('{:<15} {:>7.1f} {:>11.4f} {:>10.4f}'.format(
            s, n, d.mean(), d.max()))
    out = dict(clips=args.clips, seconds=args.seconds,
               weights=args.weights or 'synthetic random',
               all_frames_spread=[float(s) for s in spread], rows=rows,
               values={k: v.tolist() for k, v in values.items()})
    print(json.dumps(dict(out, values=None), indent=1))
    if args.json:
        from provenance import write_result
        write_result(args.json, out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
