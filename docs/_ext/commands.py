"""The command reference, generated from the argparse parsers.

``.. command-reference::`` builds ``deep_impression.cli.build_parser()`` and
writes one section per command (in ``--help`` order): its description and
its ``--help`` text, so the reference cannot drift from the options the
commands accept.
"""

import os

from docutils import nodes
from docutils.parsers.rst import Directive

#: Width of the --help text in the pages (argparse reads $COLUMNS).
WIDTH = 79


def subcommands(parser):
    """``[(name, subparser)]`` of ``parser``'s sub-commands, in order."""
    import argparse
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices.items())
    return []


def help_text(parser):
    old = os.environ.get('COLUMNS')
    os.environ['COLUMNS'] = str(WIDTH)
    try:
        return parser.format_help()
    finally:
        if old is None:
            del os.environ['COLUMNS']
        else:
            os.environ['COLUMNS'] = old


class CommandReference(Directive):

    def run(self):
        from deep_impression.cli import build_parser
        parser = build_parser()
        out = [nodes.literal_block(text=help_text(parser))]
        for name, sub in subcommands(parser):
            section = nodes.section(ids=['command-' + name])
            section += nodes.title(text='deep-impression ' + name)
            section += nodes.literal_block(text=help_text(sub))
            out.append(section)
        return out


def setup(app):
    app.add_directive('command-reference', CommandReference)
    return dict(parallel_read_safe=True, parallel_write_safe=True)
