"""``deep-impression evaluate DATA_DIR --weights FILE --split S``."""

import os

from deep_impression.commands._arguments import (add_bootstrap, add_device,
                                                 add_groups, add_model,
                                                 add_store, positive_int)


def add_parser(sub):
    p = sub.add_parser(
        'evaluate', help='accuracy of a weight file on a split',
        description='Predict every clip of a split whole (paper §2.3) and '
                    'report accuracy (1 - mean absolute error) per trait, '
                    "beside the constant predictor's and the paper's "
                    '(Table 2); accuracy, MAE, MSE, PCC, CCC and R² with '
                    '95% bootstrap intervals; per-clip predictions (CSV) '
                    'and a scatter plot of predicted against annotated '
                    'values.')
    add_store(p)
    p.add_argument('--weights', required=True, metavar='FILE',
                   help='release-format weight file (e.g. RUN_DIR/model), or '
                        'the run directory of a per-trait or rnn model')
    add_model(p)
    p.add_argument('--split', choices=('validation', 'test'),
                   default='test')
    p.add_argument('--out', metavar='DIR', default=None,
                   help='where to write the reports (default: reports/ '
                        'beside the weight file)')
    p.add_argument('--max-frames', type=positive_int, default=None,
                   metavar='K',
                   help='at most K evenly spaced frames per clip (default: '
                        'every frame, as the paper)')
    add_groups(p)
    add_bootstrap(p)
    add_device(p)
    return p


def run(args):
    from deep_impression import evaluation
    from deep_impression.evaluation import reports
    from deep_impression.models import weights
    from deep_impression import fileio
    from deep_impression.evaluation import scoring
    # Bad groups files fail before the (long) evaluation.
    groups = scoring.read_groups(args.groups) if args.groups else None
    model = weights.load(args.model, args.weights, device=args.device)
    out = fileio.ensure_dir(args.out or os.path.join(
        os.path.dirname(os.path.abspath(args.weights)), 'reports'))
    if args.model == 'rnn':
        result, baseline = evaluation.evaluate_recurrent_split(
            model, args.data_dir, args.split)
    else:
        result, baseline = evaluation.evaluate_split(
            model, args.data_dir, args.split, max_frames=args.max_frames)
    paths = reports.write_split_report(
        out, args.split, result, baseline,
        constant=evaluation.training_mean(args.data_dir), groups=groups,
        resamples=args.resamples, seed=args.seed)
    print(paths['markdown'])
    print(paths['metrics_markdown'])
    if paths['groups_markdown']:
        print(paths['groups_markdown'])
    print('per-clip predictions: {}'.format(paths['predictions']))
    print('scatter plot: {}'.format(paths['scatter']))
    if result.failed:
        print('{} clip(s) could not be read (see the warnings above)'.format(
            len(result.failed)))
    return 0
