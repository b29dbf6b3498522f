"""``deep-impression score PREDICTIONS --annotations annotation_SPLIT.pkl``."""

import json
import os

from deep_impression.commands._arguments import add_bootstrap, add_groups


def add_parser(sub):
    p = sub.add_parser(
        'score', help='score a predictions file against annotations',
        description='Score any predictions file (the CSV or JSON of '
                    '`predict`, the per-clip CSV of `evaluate`, or any CSV '
                    'with a video column and the five trait columns in any '
                    'order) against ChaLearn annotations: accuracy (1 - MAE), '
                    'MAE, MSE, PCC, CCC and R² per trait and averaged, with '
                    '95% bootstrap intervals over clips, beside the '
                    'constant predictor; a figure of predicted against '
                    'annotated values; one line per video in one file and '
                    'not the other. Videos are matched by their ChaLearn '
                    'names (ID.NNN.mp4), whatever the folder.')
    p.add_argument('predictions', metavar='PREDICTIONS',
                   help='a predictions file (.csv or .json)')
    p.add_argument('--annotations', required=True, metavar='FILE',
                   help='annotation_<split>.pkl of the clips predicted')
    p.add_argument('--train-annotations', metavar='FILE', default=None,
                   help='annotation_training.pkl for the constant predictor '
                        '(default: the one beside --annotations; without '
                        'one, the scored annotations\' own mean, and the '
                        'report says so)')
    add_groups(p)
    p.add_argument('--format', choices=('text', 'json'), default='text',
                   help='text (Markdown tables; the default) or json (one '
                        'object on standard output)')
    p.add_argument('--out', metavar='DIR', default=None,
                   help='where to write <name>_scores.md/.csv/.json and '
                        '<name>_scatter.png (default: beside PREDICTIONS)')
    add_bootstrap(p)
    return p


def run(args):
    from deep_impression import fileio
    from deep_impression.evaluation import reports, scoring
    from deep_impression.visualizations.reports import scatter_plot
    out = fileio.ensure_dir(args.out or os.path.dirname(
        os.path.abspath(args.predictions)))
    report, matched = scoring.score_predictions(
        args.predictions, args.annotations, args.train_annotations,
        args.groups, args.resamples, args.seed)
    name = os.path.splitext(os.path.basename(args.predictions))[0]
    rows = [(r['label'], r['score']) for r in report['rows']]
    title = 'Scores of {} against {}'.format(args.predictions,
                                             args.annotations)
    paths = reports.write_metrics(out, name + '_scores', rows, title)
    report['files'] = dict(scores=paths)
    if report['groups']:
        report['files']['groups'] = reports.write_groups(
            out, name + '_groups', report['groups']['columns'],
            'Scores per group ({})'.format(args.groups))
    report['files']['scatter'] = scatter_plot(
        os.path.join(out, name + '_scatter.png'), matched.predictions,
        matched.labels, title='{}, {} clips'.format(name, report['clips']))
    if args.format == 'json':
        print(json.dumps(report, indent=2))
        return 0
    print(reports.metrics_markdown(rows, title))
    if report['groups']:
        print(reports.groups_markdown(report['groups']['columns']))
    for line in matched.unmatched_lines(args.predictions, args.annotations):
        print(line)
    print('written: {}, {}'.format(', '.join(paths.values()),
                                   report['files']['scatter']))
    return 0
