"""``deep-impression compare A B [--annotations annotation_SPLIT.pkl]``."""

import json

from deep_impression.commands._arguments import add_bootstrap


def add_parser(sub):
    p = sub.add_parser(
        'compare', help='is one model better than another on the same clips?',
        description='Paired bootstrap comparison of two models on the clips '
                    'both predicted: for each metric (accuracy, MAE, MSE, '
                    'PCC, CCC, R²), per trait and averaged, the difference '
                    'A - B with its 95% interval and a two-sided p-value.')
    for name in ('a', 'b'):
        p.add_argument(name, metavar=name.upper(),
                       help='a predictions file, or a run directory (its '
                            'reports/predictions_<split>.csv)')
    p.add_argument('--annotations', metavar='FILE', default=None,
                   help='annotation_<split>.pkl (default: the true_<trait> '
                        'columns of evaluate\'s per-clip files)')
    p.add_argument('--split', choices=('validation', 'test'),
                   default='validation',
                   help='which predictions of a run directory (default '
                        'validation)')
    p.add_argument('--format', choices=('text', 'json'), default='text')
    p.add_argument('--out', metavar='DIR', default=None,
                   help='also write compare.md/.csv/.json here')
    add_bootstrap(p)
    return p


def run(args):
    from deep_impression import fileio
    from deep_impression.evaluation import reports, scoring
    out = fileio.ensure_dir(args.out) if args.out else None
    report, lines = scoring.compare_predictions(
        args.a, args.b, args.annotations, args.split, args.resamples,
        args.seed)
    label = 'A = {}, B = {}'.format(report['a'], report['b'])
    comparisons = [(label, report['comparison'])]
    if out:
        report['files'] = reports.write_comparisons(out, 'compare',
                                                    comparisons)
    if args.format == 'json':
        report['unmatched'] = lines
        print(json.dumps(report, indent=2))
        return 0
    print(reports.comparison_markdown(comparisons))
    for line in lines:
        print(line)
    return 0
