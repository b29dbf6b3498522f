"""``deep-impression``: a thin command line over the library.

Each command is a module in :mod:`deep_impression.commands` with
``add_parser(subparsers)`` and ``run(args) -> exit status``. Bad input is
reported as one line on standard error, never a traceback.

Exit statuses, for every command:

* 0: everything asked for was done;
* 1: an input could not be used (a weight file, a video, a folder, an output
  location: one line names it); a command over many inputs, such as
  ``predict``, still does the others and returns 1 if any failed;
* 2: a usage error (an unknown option or a bad value, from argparse);
* 130: interrupted (Ctrl-C); finished results already written are kept.
"""

import argparse
import importlib
import sys

from deep_impression.errors import DeepImpressionError

#: Exit status when an input (weights, video, output location) cannot be
#: used; argparse's usage errors keep 2.
INPUT_ERROR = 1

#: Command modules under deep_impression.commands, in --help order.
COMMANDS = (
    'predict',
    'weights',
    'synth',
    'preprocess',
    'train',
    'evaluate',
    'score',
    'compare',
    'export',
    'explain',
    'app',
    'face_overlap',
    'units',
    'action_units',
    'info',
)


def build_parser():
    parser = argparse.ArgumentParser(
        prog='deep-impression',
        description='Apparent Big Five personality traits from video with the '
                    'Deep Impression audiovisual residual network.')
    from deep_impression import __version__
    parser.add_argument('--version', action='version',
                        version='%(prog)s ' + __version__)
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    sub.required = True
    for name in COMMANDS:
        module = importlib.import_module('deep_impression.commands.' + name)
        p = module.add_parser(sub)
        p.set_defaults(run=module.run)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except DeepImpressionError as e:
        print('deep-impression: error: {}'.format(e), file=sys.stderr)
        return INPUT_ERROR
    except KeyboardInterrupt:
        print('deep-impression: interrupted', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
