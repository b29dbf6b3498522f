"""Arguments that several commands share, defined once."""

import argparse


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


def add_weights(parser, help_prefix='release-format weight file'):
    """``--weights FILE``, defaulting to $DEEP_IMPRESSION_WEIGHTS or
    weights/model (see :func:`deep_impression.models.weights.default_weights_path`)."""
    parser.add_argument(
        '--weights', metavar='FILE', default=None,
        help=help_prefix + ' (default: $DEEP_IMPRESSION_WEIGHTS or '
                           'weights/model)')


def add_device(parser):
    """``--device D``: a Chainer device specifier."""
    parser.add_argument(
        '--device', default=None,
        help='Chainer device, e.g. @numpy (default) or @cupy:0')


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
