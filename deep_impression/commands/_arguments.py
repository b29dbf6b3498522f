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


def add_model(parser):
    """``--model NAME``: which architecture ``--weights`` holds."""
    from deep_impression.models import ARCHITECTURES
    parser.add_argument(
        '--model', choices=sorted(ARCHITECTURES), default='challenge',
        help='challenge (a release-format file; the default), per-trait (a '
             'directory of `train --model per-trait`) or rnn (a directory of '
             '`train --model rnn`)')
