"""``deep-impression preprocess RAW_DIR OUT_DIR``: make the clip store."""

import argparse
import os

from deep_impression.commands._arguments import add_strict, positive_int


def _quality(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(
            'a JPEG quality from 1 to 100, got {!r}'.format(text))
    return value


def _ratio(text):
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 1.0 <= value < float('inf'):
        raise argparse.ArgumentTypeError(
            'a ratio of at least 1, got {!r}'.format(text))
    return value


def add_parser(sub):
    from deep_impression.data.chalearn import ARCHIVE_LIMITS
    p = sub.add_parser(
        'preprocess',
        help='decode a ChaLearn-format release into a clip store',
        description='Find the clips (any depth, also inside .zip archives) '
                    'and annotation pickles under RAW_DIR and write each '
                    "clip's 16 kHz audio and 456x256 25 fps frames to a clip "
                    'store in OUT_DIR. Running it again completes an '
                    'interrupted store; clips that cannot be read are listed '
                    'in OUT_DIR/report.json.')
    p.add_argument('raw_dir', metavar='RAW_DIR')
    p.add_argument('out_dir', metavar='OUT_DIR')
    p.add_argument('--jobs', type=int, default=os.cpu_count() or 1,
                   metavar='N', help='worker processes (default: all cores)')
    p.add_argument('--quality', type=_quality, default=None, metavar='Q',
                   help='JPEG quality of the stored frames (default 90)')
    p.add_argument('--faces', action='store_true',
                   help='store aligned 224x224 face crops instead of whole '
                        'frames (Ventura et al. 2017, §4.3); frames without '
                        'a face are dropped and counted')
    limits = p.add_argument_group(
        'zip archives',
        'Each archive entry is refused (in report.json) when it would expand '
        'beyond a size or a ratio to its compressed size: a guard against '
        'zip bombs. Raise them for an archive you trust.')
    limits.add_argument('--max-entry-mb', type=positive_int, default=None,
                        metavar='MB', help='largest entry, in MiB (default '
                        '{})'.format(ARCHIVE_LIMITS.max_bytes >> 20))
    limits.add_argument('--max-entry-ratio', type=_ratio,
                        default=None, metavar='R',
                        help='largest ratio of an entry to its compressed '
                             'size (default {:g})'.format(
                                 ARCHIVE_LIMITS.max_ratio))
    add_strict(p)
    return p


def archive_limits(args):
    """The :class:`~deep_impression.data.chalearn.ArchiveLimits` of the
    flags."""
    from deep_impression.data.chalearn import ARCHIVE_LIMITS, ArchiveLimits
    return ArchiveLimits(
        max_bytes=ARCHIVE_LIMITS.max_bytes if args.max_entry_mb is None
        else args.max_entry_mb << 20,
        max_ratio=args.max_entry_ratio or ARCHIVE_LIMITS.max_ratio)


def run(args):
    from deep_impression.data import store
    from deep_impression.data.preprocess import preprocess, print_summary
    transform = None
    if args.faces:
        from deep_impression.interpret.faces import FaceCrops
        transform = FaceCrops()
    summary = preprocess(args.raw_dir, args.out_dir, jobs=max(1, args.jobs),
                         quality=args.quality or store.JPEG_QUALITY,
                         frame_transform=transform, strict=args.strict,
                         archive_limits=archive_limits(args))
    print_summary(summary)
    if args.faces:
        from deep_impression.interpret.faces import print_dropped
        print_dropped(args.out_dir)
    return 1 if summary['failed'] else 0
