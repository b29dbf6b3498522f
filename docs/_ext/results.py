"""Figures in the documentation, read from ``docs/results/*.json``.

Nothing measured is typed into the pages: a table or a figure in the text
names the result file (written by an ``experiments/`` script, or
transcribed once from the run a commit reported) and the value's place in it,
and is filled in when the site is built. Each file holds ``command``,
``commit`` and ``machine`` beside its results; every table ends with them.

``.. result-table:: NAME`` (``docs/results/NAME.json``)
    ``:rows:`` the dotted path of a list of objects (or of an object of
    objects, whose keys become the column ``key``); ``:columns:`` one line
    per column, ``key | header | format`` (format as in ``format()``:
    ``.4f``, ``+.4f``, ``.2e``; empty: as it is; ``-`` for a missing value).

``:result:`NAME:dotted.path:format``` in running text: one value.
"""

import json
import os

from docutils import nodes
from docutils.parsers.rst import Directive, directives
from sphinx.errors import ExtensionError

#: docs/results, beside this folder.
RESULTS = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'results')

#: Keys every result file must have, naming where its figures came from.
PROVENANCE = ('command', 'commit', 'machine')


def load(name):
    """The result file ``docs/results/<name>.json`` as a dict; its
    provenance keys are checked."""
    path = os.path.join(RESULTS, name + '.json')
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise ExtensionError('{}: cannot read ({})'.format(path, e))
    missing = [k for k in PROVENANCE if k not in data]
    if missing:
        raise ExtensionError('{}: no {}'.format(path, ', '.join(missing)))
    return data


def lookup(data, path, name):
    """The value at the dotted ``path`` in ``data`` (list items by index)."""
    value = data
    for part in path.split('.') if path else []:
        try:
            value = value[int(part)] if isinstance(value, list) else value[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise ExtensionError('results/{}.json has no {!r}'.format(
                name, path))
    return value


def render(value, spec):
    if value is None:
        return '-'
    if spec and not isinstance(value, str):
        return format(value, spec)
    return str(value)


def provenance_paragraph(name, data):
    """One small paragraph: the command, commit and machine of a file."""
    para = nodes.paragraph(classes=['result-source'])
    para += nodes.emphasis(text='results/{}.json'.format(name))
    para += nodes.Text(': ')
    para += nodes.literal(text=data['command'])
    para += nodes.Text('; commit {}; {}'.format(
        data['commit'] or 'unknown', data['machine']))
    if data.get('source'):
        para += nodes.Text('; {}'.format(data['source']))
    para += nodes.Text('.')
    return para


class ResultTable(Directive):
    required_arguments = 1
    option_spec = {'rows': directives.unchanged,
                   'columns': directives.unchanged_required}

    def run(self):
        name = self.arguments[0]
        data = load(name)
        rows = lookup(data, self.options.get('rows', ''), name)
        if isinstance(rows, dict):
            rows = [dict(value, key=key) for key, value in rows.items()]
        columns = []
        for line in self.options['columns'].strip().splitlines():
            parts = [p.strip() for p in line.split('|')]
            if len(parts) != 3:
                raise self.error('column {!r}: "key | header | format"'
                                 .format(line))
            columns.append(parts)
        table = nodes.table()
        group = nodes.tgroup(cols=len(columns))
        table += group
        for _ in columns:
            group += nodes.colspec(colwidth=1)
        head = nodes.thead()
        head += self._row([header for _, header, _ in columns])
        group += head
        body = nodes.tbody()
        for row in rows:
            body += self._row([render(lookup(row, key, name), spec)
                               for key, _, spec in columns])
        group += body
        return [table, provenance_paragraph(name, data)]

    @staticmethod
    def _row(cells):
        row = nodes.row()
        for text in cells:
            entry = nodes.entry()
            entry += nodes.paragraph(text=text)
            row += entry
        return row


def result_role(role, rawtext, text, lineno, inliner, options=None,
                content=None):
    """``:result:`NAME:path:format```: one value of a result file."""
    name, _, rest = text.partition(':')
    path, _, spec = rest.partition(':')
    try:
        value = render(lookup(load(name), path, name), spec)
    except (ExtensionError, ValueError) as e:
        message = inliner.reporter.error(str(e), line=lineno)
        return [inliner.problematic(rawtext, rawtext, message)], [message]
    return [nodes.Text(value)], []


class ResultSource(Directive):
    """``.. result-source:: NAME``: the provenance line of a result file,
    for figures quoted in running text."""
    required_arguments = 1

    def run(self):
        return [provenance_paragraph(self.arguments[0],
                                     load(self.arguments[0]))]


def setup(app):
    app.add_directive('result-table', ResultTable)
    app.add_directive('result-source', ResultSource)
    app.add_role('result', result_role)
    return dict(parallel_read_safe=True, parallel_write_safe=True)
