"""Does an int8 visual stream keep the answer? Error against fp32 on 8 clips.

The bar (issue 16): within 0.005 mean and 0.02 maximum absolute difference
of the five values from fp32 ONNX Runtime, on 8 clips whose outputs spread
out, before ``predict`` may offer int8. The visual stream is quantised as
``benchmark_inference.py`` does it (ONNX Runtime static QDQ, per-channel
int8 weights, uint8 activations, MinMax ranges) with calibration frames
from ``--calibration-clips`` clips other than the evaluated ones;
``--fp32-nodes`` leaves named nodes in fp32 (e.g. the first convolution,
``vis/conv1_relu/conv``; the fully connected layer is in the fusion part,
which is never quantised).

Weights are the release's file with ``--weights``, else the benchmark's
synthetic ones; clips are the benchmark's synthetic ones (frames with a
face-coloured ellipse, voice-like audio), so this measures the method, not
the release model on real faces. With ``--videos``, real clips instead: the
first ``--calibration-clips`` calibrate, the others are evaluated (evenly
spaced frames of each). Examples::

    .venv/bin/python experiments/int8_accuracy.py --calibration-clips 8
    .venv/bin/python experiments/int8_accuracy.py --weights weights/model \
        --videos chalearn/val/*.mp4 --calibration-clips 8
"""

import argparse
import os
import sys
import tempfile

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import benchmark_inference as bench  # noqa: E402


def _video(path, frames):
    """Audio and ``frames`` evenly spaced frames of a video file."""
    from deep_impression import inputs, media
    all_frames = media.read_frames(path)
    return (media.load_clip_audio(path),
            all_frames[inputs.even_indices(len(all_frames), frames)])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--weights', default=None)
    p.add_argument('--clips', type=int, default=8)
    p.add_argument('--frames', type=int, default=12,
                   help='frames per evaluated clip (default %(default)s)')
    p.add_argument('--calibration-clips', type=int, default=8)
    p.add_argument('--calibration-frames', type=int, default=8,
                   help='frames per calibration clip')
    p.add_argument('--fp32-nodes', default='',
                   help='comma-separated node names left in fp32')
    p.add_argument('--videos', nargs='+', default=None,
                   help='real clips: calibration ones first, then the '
                        '--clips evaluated ones')
    p.add_argument('--json', metavar='FILE', default=None,
                   help='also write the figures (with the command, commit '
                        'and machine) here')
    args = p.parse_args(argv)
    from deep_impression.inference import backends, onnx_export
    from deep_impression.models.weights import load_model
    tmp = tempfile.mkdtemp(prefix='int8-')
    weights = args.weights or bench.make_synthetic_weights(
        os.path.join(tmp, 'model'))
    onnx_model = onnx_export.export(load_model(weights))
    if args.videos:
        n = args.calibration_clips
        calibration = numpy.concatenate([
            _video(v, args.calibration_frames)[1] for v in args.videos[:n]])
        clips = [_video(v, args.frames)
                 for v in args.videos[n:n + args.clips]]
    else:
        clips = [(bench.synthetic_audio(2 * 16000, 500 + k),
                  bench.synthetic_frames(args.frames, 600 + k))
                 for k in range(args.clips)]
        calibration = numpy.concatenate([
            bench.synthetic_frames(args.calibration_frames, 700 + k)
            for k in range(args.calibration_clips)])
    visual = bench.quantize_visual_stream(
        onnx_model, os.path.join(tmp, 'visual_int8.onnx'), calibration,
        nodes_to_exclude=[n for n in args.fp32_nodes.split(',') if n])
    fp32 = backends.OnnxRuntimeModel(onnx_model)
    int8 = backends.OnnxRuntimeModel(onnx_model, visual_stream=visual)
    ref = numpy.array([fp32.predict(a, f) for a, f in clips])
    diff = numpy.abs(numpy.array([int8.predict(a, f) for a, f in clips]) -
                     ref)
    print('fp32 values: std over clips per trait {}'.format(
        numpy.round(ref.std(axis=0), 3)))
    print('int8 vs fp32 on {} clips x {} frames, calibrated on {} x {} '
          'frames: mean |dy| {:.4f} (bar 0.005), max {:.4f} (bar 0.02): '
          '{}'.format(len(clips), args.frames, args.calibration_clips,
                      args.calibration_frames, diff.mean(), diff.max(),
                      'meets the bar' if diff.mean() <= 0.005 and
                      diff.max() <= 0.02 else 'misses the bar'))
    if args.json:
        from provenance import write_result
        write_result(args.json, dict(
            clips=len(clips), frames_per_clip=args.frames,
            calibration_clips=args.calibration_clips,
            calibration_frames=args.calibration_frames,
            fp32_nodes=args.fp32_nodes, values_std=ref.std(axis=0).tolist(),
            mean_abs_diff=float(diff.mean()), max_abs_diff=float(diff.max())))
    return 0


if __name__ == '__main__':
    sys.exit(main())
