"""``deep-impression synth OUT_DIR``: a synthetic ChaLearn-format release."""

from deep_impression.errors import DeepImpressionError


def _size(text):
    try:
        width, height = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise DeepImpressionError(
            '--size {!r}: expected WIDTHxHEIGHT, e.g. 1280x720'.format(text)) \
            from None
    return width, height


def add_parser(sub):
    p = sub.add_parser(
        'synth', help='write a synthetic dataset in the ChaLearn format',
        description='Write a synthetic stand-in for the ChaLearn First '
                    'Impressions release: H.264 + AAC mp4 clips in the '
                    "challenge's folders and the three annotation pickles. "
                    'Labels depend on the picture and on the sound.')
    p.add_argument('out_dir', metavar='OUT_DIR')
    p.add_argument('--train', type=int, default=60, metavar='N',
                   help='training clips (default 60)')
    p.add_argument('--val', type=int, default=20, metavar='N',
                   help='validation clips (default 20)')
    p.add_argument('--test', type=int, default=20, metavar='N',
                   help='test clips (default 20)')
    p.add_argument('--seconds', type=float, default=15.0, metavar='S',
                   help='clip duration in seconds (default 15, as the '
                        'challenge)')
    p.add_argument('--size', default='1280x720', metavar='WxH',
                   help='frame size of the clips (default 1280x720)')
    p.add_argument('--fps', type=float, default=30, metavar='F',
                   help='frame rate of the clips (default 30)')
    p.add_argument('--seed', type=int, default=0, metavar='K')
    p.add_argument('--archives', action='store_true',
                   help='pack clips and pickles into zip archives as the '
                        'release was downloaded, instead of extracted')
    p.add_argument('--jobs', type=int, default=1, metavar='N',
                   help='clips encoded in parallel (default 1)')
    p.add_argument('--force', action='store_true',
                   help='write into OUT_DIR even if it holds other files '
                        '(annotation files there are replaced)')
    return p


def run(args):
    from deep_impression.data.synth import make_dataset
    fps = int(args.fps) if float(args.fps).is_integer() else args.fps
    clips = make_dataset(args.out_dir, train=args.train, val=args.val,
                         test=args.test, seconds=args.seconds,
                         size=_size(args.size), fps=fps, seed=args.seed,
                         archives=args.archives, jobs=args.jobs,
                         force=args.force)
    print('wrote {} clips and 3 annotation files to {}'.format(
        len(clips), args.out_dir))
    return 0
