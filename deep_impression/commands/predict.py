"""``deep-impression predict VIDEO...``: traits of each video."""

import argparse
import sys

from deep_impression.inference.backends import BACKENDS
from deep_impression.commands._arguments import (add_decoding, add_device,
                                                 add_model, add_weights)
from deep_impression.constants import FPS
from deep_impression.media import DECODINGS


def add_parser(sub):
    p = sub.add_parser('predict', help='predict the Big Five traits of videos',
                       description='Predict the apparent Big Five traits of '
                                   'the person in each video.',
                       epilog='Exit status: 0 every video predicted; 1 some '
                              'input failed (each named on one line; the '
                              'others are still predicted and written); 2 '
                              'usage error; 130 interrupted (finished rows '
                              'are kept).')
    p.add_argument('videos', nargs='+', metavar='VIDEO',
                   help='video files, or folders searched recursively for '
                        'media files (by file name ending; sorted)')
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
    p.add_argument('--onnx-cache', metavar='DIR', default=None,
                   help='for the onnxruntime backend: folder where the export '
                        'of --weights is cached, by its SHA-256 (default: '
                        '$DEEP_IMPRESSION_CACHE, else '
                        '$XDG_CACHE_HOME/deep-impression)')
    p.add_argument('--fps', type=_positive(float), default=FPS,
                   help='frames per second to use (default %(default)s, '
                        'every frame)')
    p.add_argument('--max-frames', type=_positive(int), default=None,
                   metavar='K', help='use at most K frames per video, evenly '
                                     'spaced (default: all)')
    p.add_argument('--decode', choices=DECODINGS,
                   default='package',
                   help='package: frames at 25 frames/s, soxr audio (the '
                        'default, the paper\'s preprocessing); release: every '
                        'native frame and kaiser_best audio, as the authors\' '
                        'util.py')
    add_decoding(p)
    p.add_argument('--format', choices=('table', 'json', 'csv'),
                   default=None,
                   help='default: from the --output name (.csv, .json), '
                        'else table')
    p.add_argument('--output', metavar='FILE', default=None,
                   help='write the results here instead of standard output, '
                        'atomically; CSV rows as each video finishes. A CSV '
                        'or JSON file that already holds results is added '
                        'to: the videos in it are skipped')
    p.add_argument('--overwrite', action='store_true',
                   help='with --output: predict every video again and '
                        'replace the file')
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


def _load_post_challenge(args, backend):
    """A model of paper §4 by name (Chainer only)."""
    from deep_impression.errors import InputError
    from deep_impression.models import VISUAL_ARCHITECTURES, weights
    if backend != 'chainer' or args.onnx:
        raise InputError('--model {}: runs on the chainer backend only'
                         .format(args.model))
    if not args.weights:
        raise InputError('--model {} needs --weights ({})'.format(
            args.model, 'the model file of its run'
            if args.model in VISUAL_ARCHITECTURES
            else 'its run directory'))
    if args.model == 'rnn' and (args.max_frames or args.fps != FPS):
        raise InputError('--model rnn: the per-second features need every '
                         'frame at {} frames/s (no --fps, no --max-frames)'
                         .format(FPS))
    return weights.load(args.model, args.weights, device=args.device)


def run(args):
    from deep_impression.inference.backends import load_backend
    from deep_impression.inference.results import (ResultsWriter, format_for,
                                                   resume_predictions)
    from deep_impression.media import find_videos
    fmt = format_for(args.output, args.format)
    # The output location is checked (and a file to resume read) before
    # any work starts.
    writer = ResultsWriter(args.output, fmt, overwrite=args.overwrite)
    videos, empty = find_videos(args.videos)
    for folder in empty:
        _error('{}: no media files in this folder'.format(folder))
    backend = args.backend or ('onnxruntime' if args.onnx else 'chainer')
    if args.model == 'challenge':
        model = load_backend(backend, weights=args.weights, onnx=args.onnx,
                             device=args.device, cache=args.onnx_cache)
    else:
        model = _load_post_challenge(args, backend)
    todo, records = resume_predictions(
        writer, videos, model, backend, args.fps, args.max_frames,
        decode=args.decode, fit=args.fit, strict=args.strict)
    if len(todo) < len(videos):
        print('deep-impression: {} of {} videos already in {}, skipped '
              '(--overwrite predicts them again)'.format(
                  len(videos) - len(todo), len(videos), args.output),
              file=sys.stderr)
    failures = len(empty)
    try:
        for record in records:
            if record['error']:
                failures += 1
                _error(record['error'])
    finally:
        writer.close()
    if failures:
        print('deep-impression: {} of {} inputs failed'.format(
            failures, len(todo) + len(empty)), file=sys.stderr)
        return 1
    return 0


def _error(message):
    print('deep-impression: error: {}'.format(message), file=sys.stderr)
