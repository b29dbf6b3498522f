"""Arguments that several commands share, defined once."""

import argparse
import math


def positive_int(text):
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            'expected a positive integer, got {!r}'.format(text))
    return value


def positive_float(text):
    """argparse type: a finite number > 0 (not NaN or infinity)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(
            'expected a positive finite number, got {!r}'.format(text))
    return value


def add_weights(parser, help_prefix='release-format weight file'):
    """``--weights FILE``, defaulting to $DEEP_IMPRESSION_WEIGHTS or
    weights/model (see
    :func:`deep_impression.models.weights.default_weights_path`)."""
    parser.add_argument(
        '--weights', metavar='FILE', default=None,
        help=help_prefix + ' (default: $DEEP_IMPRESSION_WEIGHTS or '
                           'weights/model)')


def add_device(parser):
    """``--device D``: a Chainer device specifier."""
    parser.add_argument(
        '--device', default=None,
        help='Chainer device, e.g. @numpy (default) or @cupy:0')


def add_store(parser):
    """The positional ``DATA_DIR``: a clip store."""
    parser.add_argument('data_dir', metavar='DATA_DIR',
                        help='a store made by `deep-impression preprocess`')


def add_report_options(parser, frames_per_clip, frames_help, top_help):
    """``--frames-per-clip K``, ``--top N`` and ``--out DIR`` of the
    interpretation commands that rank frames over a store."""
    # Plain int: the commands check the counts and name the flag.
    parser.add_argument('--frames-per-clip', type=int,
                        default=frames_per_clip, metavar='K',
                        help=frames_help)
    parser.add_argument('--top', type=int, default=50, metavar='N',
                        help=top_help + ' (default 50)')
    parser.add_argument('--out', metavar='DIR', default='.',
                        help='where to write the report and figures '
                             '(default: .)')


def add_strict(parser):
    """``--strict``: a damaged or truncated video is an error, not a
    warning (:func:`deep_impression.media.check_decoded`)."""
    parser.add_argument(
        '--strict', action='store_true',
        help='treat a damaged video (decoder errors, or a track much '
             'shorter than the container says) as an error instead of a '
             'warning')


def add_decoding(parser):
    """``--fit`` and ``--strict``: how videos are decoded for the network."""
    from deep_impression.media import FITS
    parser.add_argument(
        '--fit', choices=FITS, default='stretch',
        help='how frames become 456x256: stretch (the release\'s resize, '
             'the default), pad (black bars) or crop (centre); pad and crop '
             'keep faces undistorted')
    add_strict(parser)


def add_model(parser, help=None):
    """``--model NAME``: one of the package's architectures; by default
    the one ``--weights`` holds."""
    from deep_impression.models import ARCHITECTURE_NAMES
    parser.add_argument(
        '--model', choices=ARCHITECTURE_NAMES, default='challenge',
        help=help or 'challenge (a release-format file; the default), '
                     'per-trait (a directory of `train --model per-trait`) '
                     'or rnn (a directory of `train --model rnn`)')


def add_bootstrap(parser):
    """``--resamples N`` and ``--seed S`` of the bootstrap intervals
    (:mod:`deep_impression.evaluation.metrics`)."""
    from deep_impression.constants import BOOTSTRAP_RESAMPLES as RESAMPLES
    parser.add_argument('--resamples', type=positive_int, default=RESAMPLES,
                        metavar='N',
                        help='bootstrap resamples of the clips (default '
                             '%(default)s)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the resampling (default 0)')


def add_groups(parser):
    """``--groups FILE.csv``: metrics per group of clips
    (:func:`deep_impression.evaluation.scoring.read_groups`)."""
    parser.add_argument(
        '--groups', metavar='FILE.csv', default=None,
        help='a CSV with a video column and one or more group columns (e.g. '
             'gender, ethnicity): every metric per group, and the largest '
             'gap between groups')


def add_interpreted_model(parser):
    """``--model``: the network an interpretation command studies (the
    challenge network or a visual network of Ventura et al.)."""
    from deep_impression.models import VISUAL_ARCHITECTURES
    parser.add_argument(
        '--model', choices=('challenge',) + VISUAL_ARCHITECTURES,
        default='challenge',
        help='challenge (the audiovisual network, the default), '
             'cam-dan-plus or dan-plus (Ventura et al.\'s VGG-16 networks: '
             '--weights is the model file of `train --model ...`; DAN+ has '
             'no class activation maps)')


def load_interpreted(args):
    """The network of ``--model`` / ``--weights`` / ``--device``."""
    from deep_impression.models.weights import load, load_model
    if args.model == 'challenge':
        return load_model(args.weights, device=args.device)
    return load(args.model, args.weights, device=args.device)
