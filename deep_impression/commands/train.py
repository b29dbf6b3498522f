"""``deep-impression train DATA_DIR --out RUN_DIR``: train as in the paper."""

import os

from deep_impression.commands._arguments import add_store, positive_int
from deep_impression.constants import AUDIO_CROP, FRAME_CROP


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
    p.add_argument('--epochs', type=positive_int, default=training.EPOCHS,
                   help='epochs (default %(default)s, as the paper)')
    p.add_argument('--batchsize', type=positive_int,
                   default=training.BATCH_SIZE,
                   help='examples per update (default %(default)s)')
    p.add_argument('--device', default=None,
                   help='Chainer device, e.g. @cupy:0 or @numpy (default: '
                        'the GPU when CuPy finds one, else the CPU)')
    p.add_argument('--resume', action='store_true',
                   help='continue the run in RUN_DIR from its newest '
                        'snapshot')
    p.add_argument('--seed', type=int, default=0, metavar='K',
                   help='random seed (initial weights, example order, crops)')
    p.add_argument('--audio-crop', type=positive_int, default=AUDIO_CROP,
                   metavar='SAMPLES',
                   help='audio crop per example (default %(default)s)')
    p.add_argument('--frame-crop', type=positive_int, default=FRAME_CROP,
                   metavar='PIXELS',
                   help='square frame crop per example (default %(default)s)')
    p.add_argument('--val-max-frames', type=positive_int, default=None,
                   metavar='K',
                   help='validate on at most K evenly spaced frames per clip '
                        '(default: every frame, as the paper)')
    p.add_argument('--alpha', type=float, default=training.ADAM['alpha'],
                   help="Adam's initial alpha (default %(default)s)")
    p.add_argument('--loaders', type=int, default=2, metavar='N',
                   help='data loading processes (default %(default)s; 0 '
                        'loads in the training process)')
    p.add_argument('--snapshot-every', type=positive_int, default=10,
                   metavar='EPOCHS',
                   help='epochs between snapshots (default %(default)s; also '
                        'at the end of each third)')
    p.add_argument('--no-validation', action='store_true',
                   help='skip the validation at the end of each third')
    p.add_argument('--communicator', default=None, metavar='NAME',
                   help='train on the ranks of `mpiexec -n N` with this '
                        'ChainerMN communicator: naive (CPUs) or pure_nccl '
                        '(one GPU per rank); --batchsize stays the global '
                        'batch (needs the mpi extra)')
    _add_model_arguments(p)
    return p


def _train(args):
    """Run the training; on several ranks, a failing rank stops them all
    (:func:`~deep_impression.training.distributed.stop_all_ranks`)."""
    from deep_impression import training
    from deep_impression.training import distributed
    comm, device = None, args.device
    try:
        if args.communicator is not None:
            comm = distributed.create_communicator(args.communicator)
            device = distributed.rank_device(comm, args.communicator, device)
        result = training.train(
            args.data_dir, args.out, epochs=args.epochs,
            batch_size=args.batchsize, device=device,
            resume_run=args.resume, seed=args.seed,
            audio_crop=args.audio_crop, frame_crop=args.frame_crop,
            validation_max_frames=args.val_max_frames, alpha=args.alpha,
            loaders=args.loaders, snapshot_every=args.snapshot_every,
            validate=not args.no_validation, communicator=comm)
    except BaseException as e:
        if args.communicator is None:
            raise
        distributed.stop_all_ranks(comm, e)
    return result, comm is None or comm.rank == 0


def _add_model_arguments(p):
    """--model and what the post-challenge models of §4 need."""
    from deep_impression.models import ARCHITECTURE_NAMES
    g = p.add_argument_group(
        'post-challenge models (paper §4)',
        '--model per-trait fine-tunes one one-output network per trait from '
        '--init with the settings of the challenge run, for the rest of its '
        'schedule (or --epochs); --model rnn trains two LSTM layers on the '
        'per-second features of the challenge network --base (frozen), '
        'cached beside the store.')
    g.add_argument('--model', choices=ARCHITECTURE_NAMES,
                   default='challenge', help='what to train (default '
                                             '%(default)s)')
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


def _run_post_challenge(args):
    from deep_impression import training
    from deep_impression.errors import InputError
    if args.model == 'per-trait':
        if not args.init:
            raise InputError('--model per-trait needs --init')
        # --epochs left at its default: the rest of the challenge schedule.
        result = training.train_per_trait(
            args.data_dir, args.out, args.init, device=args.device,
            epochs=(None if args.epochs == training.EPOCHS else args.epochs),
            resume_run=args.resume, loaders=args.loaders)
    else:
        if not args.base:
            raise InputError('--model rnn needs --base')
        result = training.train_recurrent(
            args.data_dir, args.out, args.base, epochs=args.epochs,
            batch_size=args.batchsize, device=args.device,
            resume_run=args.resume, seed=args.seed, alpha=args.alpha,
            step_seconds=args.step_seconds,
            frames_per_step=args.frames_per_step,
            snapshot_every=args.snapshot_every,
            validate=not args.no_validation)
    print('model ({}): {}'.format(args.model, result['model']))
    return 0


def run(args):
    from deep_impression import training
    if args.model != 'challenge':
        return _run_post_challenge(args)
    result, rank0 = _train(args)
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
