"""``deep-impression train DATA_DIR --out RUN_DIR``: train as in the paper.

Settings come from the paper (:func:`deep_impression.training.default_config`),
then ``--config FILE`` (the JSON files ``experiments/reproduce.py`` reads),
then ``--set section.key=value`` and the flags below, in that order.
"""

import os

from deep_impression.commands._arguments import (add_model, add_store,
                                                 positive_float, positive_int)
from deep_impression.runtime import device_line

#: Flags that are shorthands for ``--set train.<key>=...``.
FLAG_SETTINGS = (('epochs', 'epochs'), ('batchsize', 'batch_size'),
                 ('seed', 'seed'), ('audio_crop', 'audio_crop'),
                 ('frame_crop', 'frame_crop'),
                 ('val_max_frames', 'validation_max_frames'),
                 ('alpha', 'alpha'), ('loaders', 'loaders'),
                 ('snapshot_every', 'snapshot_every'),
                 ('fast_cpu', 'fast_cpu'))


def on_off(text):
    """``on`` / ``off`` -> True / False (``--fast-cpu``)."""
    import argparse
    values = dict(on=True, off=False)
    if text not in values:
        raise argparse.ArgumentTypeError('expected on or off, got {!r}'
                                         .format(text))
    return values[text]


def add_parser(sub):
    from deep_impression import training
    p = sub.add_parser(
        'train', help='train the network on a preprocessed store',
        description='Train the audiovisual network as in the paper (§2.2): '
                    'Adam (alpha 2e-4, beta1 0.5), batches of 32, mean '
                    'absolute error, alpha divided by 10 after each third '
                    'of the epochs, full-clip validation (§2.3) at the end '
                    'of each third written as Table 1 under RUN_DIR/reports.')
    add_store(p)
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
                   help='examples per update, at most the training clips '
                        '(default {})'.format(training.BATCH_SIZE))
    p.add_argument('--device', default=None,
                   help='Chainer device, e.g. @cupy:0 or @numpy (default: '
                        'the GPU when CuPy finds one, else the CPU)')
    p.add_argument('--resume', action='store_true',
                   help='continue the run in RUN_DIR from its newest '
                        'readable snapshot (when it has snapshots but none '
                        'can be read, stop and overwrite nothing)')
    p.add_argument('--restart-if-unreadable', action='store_true',
                   help='with --resume: when no snapshot of RUN_DIR can be '
                        'read, train again from epoch 1 (replacing them) '
                        'instead of stopping')
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
    p.add_argument('--alpha', type=positive_float, default=None,
                   help="Adam's initial alpha (default {})".format(
                       training.ADAM['alpha']))
    p.add_argument('--loaders', type=int, default=None, metavar='N',
                   help='data loading processes (0 loads in the training '
                        'process)')
    p.add_argument('--snapshot-every', type=positive_int, default=None,
                   metavar='EPOCHS',
                   help='epochs between snapshots (also at the end of each '
                        'third)')
    p.add_argument('--fast-cpu', type=on_off, default=None,
                   metavar='on|off',
                   help='train the streams through the fast CPU path '
                        '(deep_impression.models.fast_cpu; same results to '
                        'float32 rounding; default on; NumPy only, a GPU '
                        'run is unchanged); off: Chainer\'s own functions')
    p.add_argument('--no-validation', action='store_true',
                   help='skip the validation at the end of each third')
    p.add_argument('--communicator', default=None, metavar='NAME',
                   help='train on the ranks of `mpiexec -n N` with this '
                        'ChainerMN communicator: naive (CPUs) or pure_nccl '
                        '(one GPU per rank); --batchsize stays the global '
                        'batch (needs the mpi extra)')
    _add_model_arguments(p)
    return p


def _config(args):
    """The experiment's configuration: the paper's, then ``--config``, then
    ``--set`` and the flags that are shorthands for it."""
    from deep_impression import training
    flags = [('train.' + key, getattr(args, name))
             for name, key in FLAG_SETTINGS
             if getattr(args, name) is not None]
    return training.load_config(args.config, args.set + flags)


def _train(args, config):
    """Run the training; on several ranks, a failing rank stops them all
    (:func:`~deep_impression.training.distributed.stop_all_ranks`)."""
    from deep_impression import training
    from deep_impression.training import distributed
    comm, device = None, args.device
    try:
        if args.communicator is not None:
            comm = distributed.create_communicator(args.communicator)
            device = distributed.rank_device(comm, args.communicator, device)
        if comm is None or comm.rank == 0:
            print(device_line(device, 'train'), flush=True)
        result = training.train(
            args.data_dir, args.out, device=device, resume_run=args.resume,
            restart_if_unreadable=args.restart_if_unreadable,
            validate=not args.no_validation, communicator=comm,
            **training.train_arguments(config))
    except BaseException as e:
        if args.communicator is None:
            raise
        distributed.stop_all_ranks(comm, e)
    return result, comm is None or comm.rank == 0


def _add_model_arguments(p):
    """--model and what the post-challenge models of §4 need."""
    g = p.add_argument_group(
        'post-challenge models (paper §4)',
        '--model dan-plus or cam-dan-plus trains the visual networks of '
        'Ventura et al. 2017 (settings train.width, train.frames_per_clip, '
        'train.input_size, train.backbone: a VGG-Face caffemodel); '
        '--model per-trait fine-tunes one one-output network per trait from '
        '--init with the settings of the challenge run, for the rest of its '
        'schedule (or --epochs); --model rnn trains two LSTM layers on the '
        'per-second features of the challenge network --base (frozen), '
        'cached beside the store.')
    add_model(g, help='what to train (default %(default)s)')
    g.add_argument('--init', metavar='FILE',
                   help='per-trait: the challenge network after a third of '
                        'its training (RUN/model_epoch_NNNN)')
    g.add_argument('--base', metavar='FILE',
                   help='rnn: the trained challenge network (RUN/model)')
    g.add_argument('--frames-per-step', type=positive_int, default=None,
                   metavar='K', help='rnn: at most K evenly spaced frames per '
                                     'second (default all)')
    g.add_argument('--step-seconds', type=float, default=1.0, metavar='S',
                   help='rnn: seconds per time point (default %(default)s)')


def _run_post_challenge(args, settings):
    """``--model per-trait`` or ``rnn``; ``settings``: the configuration's
    ``train`` section."""
    from deep_impression import training
    from deep_impression.errors import InputError
    print(device_line(args.device, 'train'), flush=True)
    if args.model == 'per-trait':
        if not args.init:
            raise InputError('--model per-trait needs --init')
        # No --epochs: the rest of the challenge run's schedule.
        result = training.train_per_trait(
            args.data_dir, args.out, args.init, device=args.device,
            epochs=args.epochs, resume_run=args.resume,
            loaders=settings['loaders'], fast_cpu=settings['fast_cpu'],
            restart_if_unreadable=args.restart_if_unreadable)
    else:
        if not args.base:
            raise InputError('--model rnn needs --base')
        result = training.train_recurrent(
            args.data_dir, args.out, args.base, epochs=settings['epochs'],
            batch_size=settings['batch_size'], device=args.device,
            resume_run=args.resume, seed=settings['seed'],
            restart_if_unreadable=args.restart_if_unreadable,
            alpha=settings['alpha'], step_seconds=args.step_seconds,
            frames_per_step=args.frames_per_step,
            snapshot_every=settings['snapshot_every'],
            validate=not args.no_validation)
    print('model ({}): {}'.format(args.model, result['model']))
    return 0


def run(args):
    from deep_impression import training
    from deep_impression.models import VISUAL_ARCHITECTURES
    config = _config(args)
    if args.model in VISUAL_ARCHITECTURES:
        # DAN+ and CAM-DAN+ train through the same trainer (train.model).
        config['train']['model'] = args.model
    elif args.model != 'challenge':
        return _run_post_challenge(args, config['train'])
    result, rank0 = _train(args, config)
    if not rank0:
        return 0
    reports_dir = os.path.join(args.out, training.REPORTS_DIR)
    table1 = os.path.join(reports_dir, 'table1.md')
    if os.path.exists(table1):
        with open(table1, encoding='utf-8') as f:
            print(f.read())
    print('model (release format): {}'.format(result['model']))
    print('reports and plots: {}'.format(reports_dir))
    return 0
