"""``deep-impression weights FILE``: is this the file it should be?"""

import json
import sys


def add_parser(sub):
    p = sub.add_parser(
        'weights', help='check a weight file and say whether it is the '
                        "authors' release",
        description="Check a release-format weight file's layout (keys, "
                    'shapes, parameter count) against the network, and '
                    "say whether it is byte for byte the authors' released "
                    '"model" file (by its git blob id in their repository) '
                    'and what its SHA-256 is. Exit status 0: the layout '
                    'fits (release or not); 1: it does not.')
    p.add_argument('file', metavar='FILE', help='the weight file')
    p.add_argument('--json', action='store_true',
                   help='print the findings as one JSON object')
    return p


def describe(info):
    """The findings of :func:`~deep_impression.models.weights.inspect_weights`
    as lines of text."""
    if info['release']:
        verdict = ("yes: byte for byte the authors' release (github "
                   'yagguc/deep_impression, commit ad45d66, path model)')
    else:
        verdict = ("no: not the authors' released file (its git blob id "
                   'differs); the layout fits, so it loads')
    return [
        '{}: layout ok ({} arrays, {:,} parameters, {:,} bytes)'.format(
            info['path'], info['arrays'], info['parameters'], info['size']),
        'sha256:      {}'.format(info['sha256']),
        'git blob id: {}'.format(info['git_blob_id']),
        'release:     {}'.format(verdict),
    ]


def run(args):
    from deep_impression.models.weights import inspect_weights
    info = inspect_weights(args.file)
    if args.json:
        sys.stdout.write(json.dumps(info, indent=1) + '\n')
    else:
        sys.stdout.write('\n'.join(describe(info)) + '\n')
    return 0
