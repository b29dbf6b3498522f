"""``deep-impression face-overlap``: is what the network looks at the face?

Ventura et al. (2017) §4.2 over a clip store split or a list of videos;
writes ``face_overlap.md``, ``face_overlap.json`` and
``face_overlap_top_frames.png`` to ``--out``.
"""

import json
import os
import sys

from deep_impression import fileio
from deep_impression.commands._arguments import (add_device,
                                                 add_report_options,
                                                 add_weights)
from deep_impression.commands._arguments import (add_interpreted_model,
                                                 load_interpreted)
from deep_impression.errors import DeepImpressionError


def _size(text):
    try:
        w, h = text.lower().split('x')
        return int(w), int(h)
    except ValueError:
        raise DeepImpressionError('--openface-size: expected WIDTHxHEIGHT, '
                                  'got {!r}'.format(text)) from None


def add_source_arguments(p):
    """--store/--split or VIDEO..., --weights, --device, --frames-per-clip,
    --out: shared by the interpretation commands."""
    p.add_argument('videos', nargs='*', metavar='VIDEO',
                   help='video files (or use --store)')
    p.add_argument('--store', metavar='DIR', default=None,
                   help='a clip store made by `deep-impression preprocess`')
    p.add_argument('--split', default='test',
                   choices=('train', 'validation', 'test'),
                   help='split of the store (default: test)')
    add_weights(p)
    add_interpreted_model(p)
    add_device(p)
    add_report_options(
        p, 10, 'frames sampled evenly from each clip (default 10, as the '
        'paper)', 'top frames per trait')


def check_counts(args):
    if args.frames_per_clip < 1:
        raise DeepImpressionError('--frames-per-clip: need at least 1')
    if args.top < 1:
        raise DeepImpressionError('--top: need at least 1')


def add_parser(sub):
    p = sub.add_parser(
        'face-overlap', help='overlap of activation maps with the face',
        description='Ventura et al. (2017) §4.2: per trait, over the N '
                    'frames with the highest per-frame prediction, the '
                    'overlap |face ∩ M_CAM| / |M_CAM| of the face box with '
                    'the activation map thresholded at 80% of its range '
                    '(min + 0.8 (max - min); the paper\'s 0.8 max for a map '
                    'whose minimum is 0). A video that cannot be read is '
                    'reported and skipped.')
    add_source_arguments(p)
    p.add_argument('--threshold', type=float, default=0.8,
                   help='M_CAM threshold, fraction of the map\'s range from '
                        'its minimum (default 0.8)')
    p.add_argument('--openface', metavar='DIR', default=None,
                   help='read face boxes from OpenFace CSVs <clip>.csv here '
                        'instead of detecting them with OpenCV')
    p.add_argument('--openface-size', default='1280x720', metavar='WxH',
                   help='size of the videos OpenFace read (default '
                        '1280x720, the challenge\'s clips)')
    return p


def run(args):
    from deep_impression.interpret import overlap
    from deep_impression.interpret.sources import open_source
    from deep_impression.visualizations import interpretation as figures
    check_counts(args)
    source = open_source(args.store, args.split, args.videos)
    faces = None
    if args.openface:
        faces = overlap.OpenFaceBoxes(args.openface,
                                      _size(args.openface_size))
    fileio.ensure_dir(args.out)
    model = load_interpreted(args)
    failures = []

    def report(error):
        failures.append(error)
        print('deep-impression: error: {}'.format(error), file=sys.stderr)

    scores = overlap.score_frames(model, source, args.frames_per_clip, faces,
                                  on_error=report)
    result = overlap.face_overlap(scores, top=args.top,
                                  threshold=args.threshold)
    result['source'] = source.name
    text = overlap.report_markdown(result, source.name)
    paths = [
        fileio.write_text(os.path.join(args.out, 'face_overlap.md'), text),
        fileio.write_text(os.path.join(args.out, 'face_overlap.json'),
                          json.dumps(result, indent=1) + '\n'),
        figures.overlap_top_frames_figure(
            scores, result, source,
            os.path.join(args.out, 'face_overlap_top_frames.png')),
    ]
    sys.stdout.write(text)
    for path in paths:
        print(path)
    if failures:
        print('deep-impression: {} of {} videos failed'.format(
            len(failures), len(source.clip_ids)), file=sys.stderr)
        return 1
    return 0
