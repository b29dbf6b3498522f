"""``deep-impression train DATA_DIR --out RUN_DIR``: train as in the paper.

Settings come from the paper (:func:`deep_impression.training.default_config`),
then ``--config FILE`` (the JSON files ``experiments/reproduce.py`` reads),
then ``--set section.key=value`` and the flags below, in that order.
"""

import os

from deep_impression.commands._arguments import positive_int

#: Flags that are shorthands for ``--set train.<key>=...``.
FLAG_SETTINGS = (('epochs', 'epochs'), ('batchsize', 'batch_size'),
                 ('seed', 'seed'), ('audio_crop', 'audio_crop'),
                 ('frame_crop', 'frame_crop'),
                 ('val_max_frames', 'validation_max_frames'),
                 ('alpha', 'alpha'), ('loaders', 'loaders'),
                 ('snapshot_every', 'snapshot_every'))


def add_parser(sub):
    from deep_impression import training
    p = sub.add_parser(
        'train', help='train the network on a preprocessed store',
        description='Train the audiovisual network as in the paper (§2.2): '
                    'Adam (alpha 2e-4, beta1 0.5), batches of 32, mean '
                    'absolute error, alpha divided by 10 after each third '
                    'of the epochs, full-clip validation (§2.3) at the end '
                    'of each third written as Table 1 under RUN_DIR/reports.')
    p.add_argument('data_dir', metavar='DATA_DIR',
                   help='a store made by `deep-impression preprocess`')
    p.add_argument('--out', required=True, metavar='RUN_DIR',
                   help='run directory (snapshots, log, reports, model)')
    p.add_argument('--config', default=None, metavar='FILE',
                   help='a JSON configuration, as experiments/configs/*.json '
                        '(default: the paper\'s settings)')
    p.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                   help='override a setting of the configuration, e.g. '
                        'train.epochs=3 (repeatable)')
    p.add_argument('--epochs', type=positive_int, default=None,
                   help='epochs (default {}, as the paper)'.format(
                       training.EPOCHS))
    p.add_argument('--batchsize', type=positive_int, default=None,
                   help='examples per update (default {})'.format(
                       training.BATCH_SIZE))
    p.add_argument('--device', default=None,
                   help='Chainer device, e.g. @cupy:0 or @numpy (default: '
                        'the GPU when CuPy finds one, else the CPU)')
    p.add_argument('--resume', action='store_true',
                   help='continue the run in RUN_DIR from its newest '
                        'snapshot')
    p.add_argument('--seed', type=int, default=None, metavar='K',
                   help='random seed (initial weights, example order, crops)')
    p.add_argument('--audio-crop', type=positive_int, default=None,
                   metavar='SAMPLES', help='audio crop per example')
    p.add_argument('--frame-crop', type=positive_int, default=None,
                   metavar='PIXELS', help='square frame crop per example')
    p.add_argument('--val-max-frames', type=positive_int, default=None,
                   metavar='K',
                   help='validate on at most K evenly spaced frames per clip '
                        '(default: every frame, as the paper)')
    p.add_argument('--alpha', type=float, default=None,
                   help="Adam's initial alpha (default {})".format(
                       training.ADAM['alpha']))
    p.add_argument('--loaders', type=int, default=None, metavar='N',
                   help='data loading processes (0 loads in the training '
                        'process)')
    p.add_argument('--snapshot-every', type=positive_int, default=None,
                   metavar='EPOCHS',
                   help='epochs between snapshots (also at the end of each '
                        'third)')
    p.add_argument('--no-validation', action='store_true',
                   help='skip the validation at the end of each third')
    return p


def run(args):
    from deep_impression import training
    flags = [('train.' + key, getattr(args, name))
             for name, key in FLAG_SETTINGS
             if getattr(args, name) is not None]
    config = training.load_config(args.config, args.set + flags)
    result = training.train(
        args.data_dir, args.out, device=args.device, resume_run=args.resume,
        validate=not args.no_validation, **training.train_arguments(config))
    reports_dir = os.path.join(args.out, training.REPORTS_DIR)
    table1 = os.path.join(reports_dir, 'table1.md')
    if os.path.exists(table1):
        with open(table1, encoding='utf-8') as f:
            print(f.read())
    print('model (release format): {}'.format(result['model']))
    print('reports and plots: {}'.format(reports_dir))
    return 0
