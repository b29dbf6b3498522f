"""``deep-impression action-units OPENFACE_DIR --store STORE``: facial
action units and the traits (Ventura et al. 2017, §4.5).

Writes ``action_units.md``, ``action_units.json``,
``action_units_correlations.png`` and ``action_units_units.png`` to
``--out``.
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


def add_parser(sub):
    p = sub.add_parser(
        'action-units', help='action units vs traits and units',
        description='Ventura et al. (2017) §4.5 from OpenFace 2.x CSV files '
                    '(<clip id>.csv in OPENFACE_DIR): per-trait correlation '
                    'with 17 AU intensities, a linear model from them to '
                    'the traits scored with the challenge\'s accuracy, and '
                    'the unit of the visual stream that best matches each '
                    'AU, with its significance.')
    p.add_argument('openface_dir', metavar='OPENFACE_DIR')
    p.add_argument('--store', metavar='DIR', required=True,
                   help='the clip store (labels, splits and frames)')
    p.add_argument('--fit-split', default='train',
                   choices=('train', 'validation', 'test'),
                   help='split the linear model is fitted on (default train)')
    p.add_argument('--split', default='test',
                   choices=('train', 'validation', 'test'),
                   help='split it is scored on, and the frames of the unit '
                        'analysis (default test)')
    add_weights(p, 'release-format weight file for the unit analysis')
    add_interpreted_model(p)
    add_device(p)
    p.add_argument('--no-units', action='store_true',
                   help='skip the unit analysis (needs no weights)')
    p.add_argument('--layer', default=None,
                   help='layer of the unit analysis (default res5b_relu; '
                        'conv5_3 for DAN+ and CAM-DAN+)')
    add_report_options(
        p, 1, 'frames per clip for the unit analysis (default 1: F = clips, '
        "as the paper's F = 2000)", 'top frames per AU and unit')
    return p


def run(args):
    from deep_impression.interpret import action_units
    from deep_impression.interpret.sources import StoreSource
    if args.top < 1 or args.frames_per_clip < 1:
        raise DeepImpressionError('--top and --frames-per-clip: need at '
                                  'least 1')
    if not os.path.isdir(args.openface_dir):
        raise DeepImpressionError('{}: no such folder of OpenFace CSV files'
                                  .format(args.openface_dir))
    source = StoreSource(args.store, args.split)
    model = None
    if not args.no_units:
        model = load_interpreted(args)
        from deep_impression.interpret import networks
        args.layer = args.layer or networks.unit_layer(model)
        networks.check_layers(model, [args.layer])
    result, paths = action_units.analyse(
        source, args.openface_dir, args.fit_split, args.out, model=model,
        layer=args.layer or 'res5b_relu',
        frames_per_clip=args.frames_per_clip, top=args.top)
    text = action_units.report_markdown(result)
    paths = [fileio.write_text(os.path.join(args.out, 'action_units.md'),
                               text),
             fileio.write_text(os.path.join(args.out, 'action_units.json'),
                               json.dumps(result, indent=1) + '\n')] + paths
    sys.stdout.write(text)
    for path in paths:
        print(path)
    return 0
