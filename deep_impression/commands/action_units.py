"""``deep-impression action-units OPENFACE_DIR --store STORE``: facial
action units and the traits (Ventura et al. 2017, §4.5).

Writes ``action_units.md``, ``action_units.json``,
``action_units_correlations.png`` and ``action_units_units.png`` to
``--out``.
"""

import json
import os
import sys

import numpy

from deep_impression import fileio
from deep_impression.commands._arguments import add_device, add_weights
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
    add_device(p)
    p.add_argument('--no-units', action='store_true',
                   help='skip the unit analysis (needs no weights)')
    p.add_argument('--layer', default='res5b_relu',
                   help='layer of the unit analysis (default res5b_relu)')
    p.add_argument('--frames-per-clip', type=int, default=1, metavar='K',
                   help='frames per clip for the unit analysis (default 1: '
                        'F = clips, as the paper\'s F = 2000)')
    p.add_argument('--top', type=int, default=50, metavar='N',
                   help='top frames per AU and unit (default 50)')
    p.add_argument('--out', metavar='DIR', default='.',
                   help='where to write the report and figures (default: .)')
    return p


def _labels(store, clip_ids):
    return numpy.array([store.labels(c) for c in clip_ids]).reshape(-1, 5)


def unit_frames(model, source, openface_dir, layer, frames_per_clip):
    """AU intensities and unit responses of frames sampled from each clip
    that has an OpenFace CSV; frames OpenFace did not track are left out."""
    from deep_impression.interpret import action_units, openface, units
    from deep_impression.inputs import even_indices
    from deep_impression.progress import progress
    au_rows, unit_rows = [], []
    for clip_id in progress(source.clip_ids, desc='AU frames', unit='clip'):
        path = openface.find_csv(openface_dir, clip_id)
        if path is None:
            continue
        track = openface.read_csv(path, require_aus=True)
        idx = even_indices(source.num_frames(clip_id), frames_per_clip)
        au = action_units.frame_au_values(track, idx, source.fps)
        keep = numpy.isfinite(au).all(axis=1)
        if not keep.any():
            continue
        frames = source.frames(clip_id, idx[keep])
        maxima, _, _ = units.layer_responses(model, frames, [layer])[layer]
        au_rows.append(au[keep])
        unit_rows.append(maxima)
    if not au_rows:
        raise DeepImpressionError('{}: no tracked frame of any clip of the '
                                  'split'.format(openface_dir))
    return numpy.concatenate(au_rows), numpy.concatenate(unit_rows)


def report(result):
    from deep_impression.constants import TRAITS
    from deep_impression.interpret.action_units import (PAPER_LINEAR_ACCURACY,
                                                        PAPER_TABLE2)
    from deep_impression.interpret.openface import AUS, AU_NAMES
    lin = result['linear_model']
    lines = ['# Action units and traits (Ventura et al. 2017, §4.5)', '',
             'OpenFace CSVs: {}; clips with a CSV: {} ({} split), {} ({} '
             'split); without: {}.'.format(
                 result['openface_dir'], lin['fit_clips'], lin['fit_split'],
                 lin['eval_clips'], lin['eval_split'],
                 len(result['missing'])), '',
             '## Linear model, 17 AU intensities -> traits', '',
             '| | average | ' + ' | '.join(TRAITS) + ' |',
             '|---|---|' + '---|' * len(TRAITS)]
    for name, acc in (('linear model', lin['accuracy']),
                      ('training mean', lin['constant_accuracy'])):
        lines.append('| {} | {:.4f} | {} |'.format(
            name, acc['average'], ' | '.join(
                '{:.4f}'.format(acc[t]) for t in TRAITS)))
    lines += ['', 'Paper: about {:.3f}.'.format(PAPER_LINEAR_ACCURACY), '',
              '## Pearson correlation (r, p) over {} clips'.format(
                  result['correlation_clips']), '',
              '| AU | ' + ' | '.join(TRAITS) + ' |',
              '|---|' + '---|' * len(TRAITS)]
    for i, au in enumerate(AUS):
        lines.append('| {} {} | {} |'.format(au, AU_NAMES[au], ' | '.join(
            '{:.3f} ({:.2g})'.format(r, p) if r is not None else '-'
            for r, p in zip(result['r'][i], result['p'][i]))))
    if result.get('units'):
        u = result['units']
        lines += ['', '## Best unit per AU ({}, U={}, F={} frames, N={})'
                  .format(u['layer'], u['units'], u['frames'], u['n']), '',
                  '| AU | unit | shared | p | paper (unit, shared, p) |',
                  '|---|---|---|---|---|']
        for m in u['matches']:
            pu, pk, pp = PAPER_TABLE2[m['au']]
            lines.append('| {} | {} | {}/{} | {:.3g} | {}, {}/50, {:.3g} |'
                         .format(m['au'], m['unit'], m['k'], m['n'], m['p'],
                                 pu, pk, pp))
    return '\n'.join(lines) + '\n'


def run(args):
    from deep_impression.evaluation import accuracy_dict, constant_accuracy
    from deep_impression.interpret import action_units
    from deep_impression.visualizations import interpretation as figures
    from deep_impression.interpret.sources import StoreSource
    if args.top < 1 or args.frames_per_clip < 1:
        raise DeepImpressionError('--top and --frames-per-clip: need at '
                                  'least 1')
    if not os.path.isdir(args.openface_dir):
        raise DeepImpressionError('{}: no such folder of OpenFace CSV files'
                                  .format(args.openface_dir))
    source = StoreSource(args.store, args.split)
    store = source.store
    fit_ids = store.clip_ids(args.fit_split)
    X_fit, fit_found, fit_missing = action_units.read_clip_features(
        args.openface_dir, fit_ids)
    X_eval, eval_found, eval_missing = action_units.read_clip_features(
        args.openface_dir, source.clip_ids)
    if not eval_found or not fit_found:
        raise DeepImpressionError(
            '{}: no OpenFace CSV for any clip of the {} split'.format(
                args.openface_dir,
                args.split if not eval_found else args.fit_split))
    Y_fit, Y_eval = _labels(store, fit_found), _labels(store, eval_found)
    model = action_units.fit_linear_model(X_fit, Y_fit)
    X_all = numpy.concatenate([X_fit, X_eval]) if args.fit_split != \
        args.split else X_eval
    Y_all = numpy.concatenate([Y_fit, Y_eval]) if args.fit_split != \
        args.split else Y_eval
    r, p = action_units.correlations(X_all, Y_all)
    nan_none = lambda a: [[None if not numpy.isfinite(v) else float(v)  # noqa
                           for v in row] for row in a]
    result = {
        'openface_dir': args.openface_dir, 'store': args.store,
        'missing': sorted(set(fit_missing + eval_missing)),
        'linear_model': {
            'fit_split': args.fit_split, 'eval_split': args.split,
            'fit_clips': len(fit_found), 'eval_clips': len(eval_found),
            'accuracy': accuracy_dict(action_units.linear_model_accuracy(
                model, X_eval, Y_eval)),
            'constant_accuracy': accuracy_dict(constant_accuracy(Y_fit,
                                                                 Y_eval)),
            'coefficients': model.coef_.tolist(),
            'intercept': model.intercept_.tolist()},
        'correlation_clips': len(X_all), 'r': nan_none(r), 'p': nan_none(p),
    }
    paths = [figures.au_correlation_figure(
        r, p, os.path.join(args.out, 'action_units_correlations.png'))]
    if not args.no_units:
        from deep_impression.models.weights import load_model
        net = load_model(args.weights, device=args.device)
        au, unit_values = unit_frames(net, source, args.openface_dir,
                                      args.layer, args.frames_per_clip)
        matches = action_units.unit_matches(au, unit_values, args.top)
        result['units'] = {'layer': args.layer, 'frames': len(au),
                           'units': unit_values.shape[1],
                           'n': matches[0]['n'], 'matches': matches}
        paths.append(figures.au_units_figure(
            matches, os.path.join(args.out, 'action_units_units.png'),
            action_units.PAPER_TABLE2))
    text = report(result)
    paths = [fileio.write_text(os.path.join(args.out, 'action_units.md'),
                               text),
             fileio.write_text(os.path.join(args.out, 'action_units.json'),
                               json.dumps(result, indent=1) + '\n')] + paths
    sys.stdout.write(text)
    for path in paths:
        print(path)
    return 0
