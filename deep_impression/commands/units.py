"""``deep-impression units``: what single units of the visual stream respond
to (Ventura et al. 2017, §4.4).

Writes ``units.md``, ``units.json``, ``units_<layer>_top_frames.png``
(Figure 7), ``units_layer_histograms.png`` (Figure 10) and
``units_<layer>_face_regions.png`` (Figures 8-9) to ``--out``. The face
regions assume aligned faces: run it on a store made with
``deep-impression preprocess --faces``.
"""

import json
import os
import sys

from deep_impression.commands._arguments import load_interpreted
from deep_impression.commands.face_overlap import (add_source_arguments,
                                                   check_counts)
from deep_impression import fileio
from deep_impression.errors import DeepImpressionError


def add_parser(sub):
    p = sub.add_parser(
        'units', help='top frames, spatial histograms and face-region units',
        description='Ventura et al. (2017) §4.4: per unit of the visual '
                    'stream, its top-N frames and where its maximum lies; '
                    'per layer the spatial histogram pooled to 14x14; per '
                    'face region the units whose maxima fall inside most.')
    add_source_arguments(p)
    p.add_argument('--layers', default='all', metavar='L1,L2',
                   help='layers for the histograms (default: all: ten, '
                        'conv1_relu ... res5b_relu; for DAN+ and CAM-DAN+ '
                        'the 18 of VGG-16, conv1_1 ... pool5)')
    p.add_argument('--layer', default=None,
                   help='layer of the unit and region figures (default '
                        'res5b_relu; conv5_3 for DAN+ and CAM-DAN+, as '
                        'Ventura et al.)')
    p.add_argument('--units', default='0-9', metavar='LIST',
                   help='units shown in the top-frames figure, e.g. 0-9 or '
                        '3,17,40 (default 0-9)')
    p.add_argument('--show', type=int, default=10, metavar='K',
                   help='top frames shown per unit (default 10)')
    p.add_argument('--regions', metavar='FILE', default=None,
                   help='a JSON file (not inline JSON) holding face regions '
                        '{"name": [[x0, y0, x1, y1], ...]} as fractions of '
                        'the frame (default: eyebrows, eyes, nose, mouth of '
                        'an aligned face)')
    return p


def parse_units(text, count):
    units = []
    try:
        for part in text.split(','):
            if '-' in part:
                a, b = part.split('-')
                units += list(range(int(a), int(b) + 1))
            elif part.strip():
                units.append(int(part))
    except ValueError:
        raise DeepImpressionError('--units: expected e.g. 0-9 or 3,17, got '
                                  '{!r}'.format(text)) from None
    bad = [u for u in units if not 0 <= u < count]
    if bad or not units:
        raise DeepImpressionError('--units: units are 0 ... {}, got {!r}'
                                  .format(count - 1, text))
    return units


def run(args):
    from deep_impression.interpret import networks, units
    from deep_impression.visualizations import interpretation as figures
    from deep_impression.interpret.sources import open_source
    check_counts(args)
    regions = (units.read_regions(args.regions) if args.regions
               else units.FACE_REGIONS)
    source = open_source(args.store, args.split, args.videos)
    model = load_interpreted(args)
    known = networks.spatial_layers(model)
    args.layer = args.layer or networks.unit_layer(model)
    layers = (list(known) if args.layers == 'all'
              else [s.strip() for s in args.layers.split(',') if s.strip()])
    if args.layer not in layers:
        layers.append(args.layer)
    networks.check_layers(model, layers)
    layers = [name for name in known if name in layers]
    responses = units.unit_responses(model, source, layers,
                                     args.frames_per_clip)
    count = responses.maxima[args.layer].shape[1]
    shown = parse_units(args.units, count)
    analysis = units.analyse(responses, args.top, regions)
    text, data = units.report(analysis, responses, source.name, args.layer)
    out = args.out
    paths = [
        fileio.write_text(os.path.join(out, 'units.md'), text),
        fileio.write_text(os.path.join(out, 'units.json'),
                          json.dumps(data) + '\n'),
        figures.unit_frames_figure(
            source, responses, analysis, args.layer, shown,
            os.path.join(out, 'units_{}_top_frames.png'.format(args.layer)),
            n=args.show),
        figures.layer_histograms_figure(
            analysis, os.path.join(out, 'units_layer_histograms.png')),
        figures.face_regions_figure(
            source, responses, analysis, args.layer,
            os.path.join(out, 'units_{}_face_regions.png'.format(
                args.layer))),
    ]
    sys.stdout.write(text)
    for path in paths:
        print(path)
    return 0
