"""``deep-impression explain VIDEO...``: where the network looks.

Per video: per-trait class activation maps on K frames spread over the clip
(``<stem>_<trait>.png``), the auditory map under the waveform
(``<stem>_audio.png``) and one contact sheet (``<stem>_contact_sheet.png``);
with ``--video`` also an MP4 of the maps over time (``<stem>.mp4``);
``--format json`` writes the maps' summary instead. ``<stem>`` is the file
name without its extension; videos of the same name in different folders
get their folder's name in front, or a short hash of their path, so no
output overwrites another.
"""

import collections
import hashlib
import json
import os
import sys

from deep_impression import fileio
from deep_impression.commands._arguments import add_device, add_weights
from deep_impression.errors import DeepImpressionError
from deep_impression.progress import progress


def add_parser(sub):
    p = sub.add_parser(
        'explain', help='class activation maps of videos (what the network '
                        'looks at)',
        description='Class activation maps (Ventura et al. 2017, §3.1) of '
                    'each trait on frames sampled from each video, and the '
                    'auditory stream\'s map along time.')
    p.add_argument('videos', nargs='+', metavar='VIDEO')
    add_weights(p, 'release-format weight file, released or trained')
    add_device(p)
    p.add_argument('--out', metavar='DIR', default='.',
                   help='where to write the pictures or JSON (default: .)')
    p.add_argument('--frames', type=int, default=8, metavar='K',
                   help='frames sampled evenly over each video (default 8)')
    p.add_argument('--format', choices=('png', 'json'), default='png',
                   help='png: overlays and a contact sheet; json: the maps '
                        'and their summary (<stem>.json; "-" for --out '
                        'prints it)')
    p.add_argument('--video', action='store_true',
                   help='with png: also <stem>.mp4, the per-trait maps over '
                        'time with the auditory map as a bar and a moving '
                        'cursor')
    return p


def output_stems(videos):
    """``{video: stem}``, one distinct stem per distinct video path.

    The file name without its extension; where two videos share it, the
    parent folder's name in front (``a_clip``, ``b_clip``); where that
    still collides, an 8-digit hash of the absolute path behind.
    """
    def count(stems):
        return collections.Counter(stems[v] for v in stems)

    paths = {v: os.path.abspath(v) for v in videos}
    stems = {v: os.path.splitext(os.path.basename(p))[0]
             for v, p in paths.items()}
    n = count(stems)
    stems = {v: (s if n[s] == 1 else '{}_{}'.format(
        os.path.basename(os.path.dirname(paths[v])), s))
        for v, s in stems.items()}
    n = count(stems)
    return {v: (s if n[s] == 1 else '{}_{}'.format(
        s, hashlib.sha1(paths[v].encode('utf-8')).hexdigest()[:8]))
        for v, s in stems.items()}


def run(args):
    from deep_impression.constants import TRAITS
    from deep_impression.visualizations import interpretation as figures
    from deep_impression.interpret.cam import explain_video, summary
    from deep_impression.models.weights import load_model
    if args.frames < 1:
        raise DeepImpressionError('--frames: need at least 1, got {}'.format(
            args.frames))
    if args.out != '-':
        fileio.ensure_dir(args.out)
    stems = output_stems(args.videos)
    model = load_model(args.weights, device=args.device)
    failures = 0
    for video in progress(args.videos, desc='explain', unit='video'):
        try:
            e = explain_video(video, model, k=args.frames)
        except DeepImpressionError as err:
            failures += 1
            print('deep-impression: error: {}'.format(err), file=sys.stderr)
            continue
        stem = stems[video]
        if args.format == 'json':
            text = json.dumps(summary(e)) + '\n'
            if args.out == '-':
                sys.stdout.write(text)
            else:
                path = fileio.write_text(
                    os.path.join(args.out, stem + '.json'), text)
                print(path)
            continue
        written = [figures.contact_sheet(
            e, os.path.join(args.out, stem + '_contact_sheet.png'))]
        for t, name in enumerate(TRAITS):
            written.append(figures.trait_strip(
                e, t, os.path.join(args.out, '{}_{}.png'.format(stem, name))))
        written.append(figures.audio_figure(
            e, os.path.join(args.out, stem + '_audio.png')))
        if args.video:
            from deep_impression.visualizations.video import \
                explanation_video
            written.append(explanation_video(
                e, os.path.join(args.out, stem + '.mp4')))
        for path in written:
            print(path)
    if failures:
        print('deep-impression: {} of {} videos failed'.format(
            failures, len(args.videos)), file=sys.stderr)
        return 1
    return 0
