"""``deep-impression predict VIDEO...``: traits of each video."""

import argparse
import csv
import io
import json
import sys

from deep_impression.inference.backends import BACKENDS
from deep_impression.commands._arguments import (add_device, add_model,
                                                 add_weights)
from deep_impression.constants import FPS, TRAITS
from deep_impression.errors import DeepImpressionError
from deep_impression.progress import progress


def add_parser(sub):
    p = sub.add_parser('predict', help='predict the Big Five traits of videos',
                       description='Predict the apparent Big Five traits of '
                                   'the person in each video.')
    p.add_argument('videos', nargs='+', metavar='VIDEO')
    add_weights(p)
    add_model(p)
    add_device(p)
    p.add_argument('--backend', choices=BACKENDS, default=None,
                   help='chainer (the reference; the default) or '
                        'onnxruntime (fast on the CPU; same values within '
                        '1e-4; the default with --onnx)')
    p.add_argument('--onnx', metavar='FILE', default=None,
                   help='for the onnxruntime backend: a model written by '
                        '`deep-impression export` (default: export --weights '
                        'on the fly)')
    p.add_argument('--fps', type=_positive(float), default=FPS,
                   help='frames per second to use (default %(default)s, '
                        'every frame)')
    p.add_argument('--max-frames', type=_positive(int), default=None,
                   metavar='K', help='use at most K frames per video, evenly '
                                     'spaced (default: all)')
    p.add_argument('--format', choices=('table', 'json', 'csv'),
                   default='table')
    p.add_argument('--output', metavar='FILE', default=None,
                   help='write the results here instead of standard output')
    return p


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not value > 0:
            raise argparse.ArgumentTypeError(
                'expected a positive {}, got {!r}'.format(
                    'integer' if kind is int else 'number', text))
        return value
    return parse


def format_results(rows, fmt):
    """Render ``[(video, traits array)]`` as a table, JSON or CSV text."""
    if fmt == 'json':
        return json.dumps([dict(video=video, **{t: round(float(v), 6)
                                                for t, v in zip(TRAITS, y)})
                           for video, y in rows], indent=2) + '\n'
    if fmt == 'csv':
        out = io.StringIO()
        writer = csv.writer(out, lineterminator='\n')
        writer.writerow(('video',) + TRAITS)
        for video, y in rows:
            writer.writerow([video] + ['{:.6f}'.format(v) for v in y])
        return out.getvalue()
    width = max([len('video')] + [len(video) for video, _ in rows])
    lines = ['  '.join(['{:<{}}'.format('video', width)] +
                       ['{:>17}'.format(t) for t in TRAITS])]
    for video, y in rows:
        lines.append('  '.join(['{:<{}}'.format(video, width)] +
                               ['{:>17.4f}'.format(v) for v in y]))
    return '\n'.join(lines) + '\n'


def _load_post_challenge(args, backend):
    """A model of paper §4 by name (Chainer only)."""
    from deep_impression.errors import InputError
    from deep_impression.models import weights
    if backend != 'chainer' or args.onnx:
        raise InputError('--model {}: runs on the chainer backend only'
                         .format(args.model))
    if not args.weights:
        raise InputError('--model {} needs --weights (its run directory)'
                         .format(args.model))
    if args.model == 'rnn' and (args.max_frames or args.fps != FPS):
        raise InputError('--model rnn: the per-second features need every '
                         'frame at {} frames/s (no --fps, no --max-frames)'
                         .format(FPS))
    return weights.load(args.model, args.weights, device=args.device)


def run(args):
    from deep_impression.inference.backends import load_backend
    from deep_impression.inference.predict import predict_video
    backend = args.backend or ('onnxruntime' if args.onnx else 'chainer')
    if args.model == 'challenge':
        model = load_backend(backend, weights=args.weights, onnx=args.onnx,
                             device=args.device)
    else:
        model = _load_post_challenge(args, backend)
    rows, failures = [], []
    for video in progress(args.videos, desc='predict', unit='video'):
        try:
            rows.append((video, predict_video(video, model, fps=args.fps,
                                              max_frames=args.max_frames)))
        except DeepImpressionError as e:
            failures.append(video)
            print('deep-impression: error: {}'.format(e), file=sys.stderr)
    text = format_results(rows, args.format)
    if args.output:
        with open(args.output, 'w') as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    if failures:
        print('deep-impression: {} of {} videos failed'.format(
            len(failures), len(args.videos)), file=sys.stderr)
        return 1
    return 0
