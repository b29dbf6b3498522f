"""Per-trait reports laid out as the paper's tables, and their plots.

A table is a list of rows ``(label, scores)`` where ``scores`` is a dict
``{'average': ..., '<trait>': ...}`` of accuracies (1 - mean absolute
error, as :func:`deep_impression.evaluation.accuracy_dict` makes them). It
is written three ways under a run's ``reports/`` folder, each atomically:
``<name>.md`` (Markdown, 6 decimals as the paper prints), ``<name>.csv``
and ``<name>.json`` (full precision). Columns follow the paper: the row
label, Average, then :data:`~deep_impression.constants.PAPER_TRAIT_ORDER`.

* Table 1 (``table1``): validation accuracy after each third of training
  (epochs 300, 600 and 900 in the paper);
* Table 2 (``table2_<split>``): a model's accuracy on a split beside the
  constant predictor's and the paper's published numbers;
* Table 3 (``table3``): validation accuracy of the challenge network, the
  five per-trait networks and the RNN (paper §4) beside the paper's;
* a scatter plot of predicted against annotated values per trait.

The paper's numbers come from :mod:`deep_impression.evaluation.paper`, the one
place they are written down.
"""

import csv
import io
import json
import os

from deep_impression import fileio
from deep_impression.constants import PAPER_TRAIT_ORDER
from deep_impression.errors import InputError
from deep_impression.visualizations import reports as visual_reports

#: Score columns of every table, as in the paper.
COLUMNS = ('average',) + PAPER_TRAIT_ORDER


def load_paper_results():
    """The paper's published numbers (:mod:`deep_impression.evaluation.paper`);
    part of the package, so an installed wheel has them too."""
    from deep_impression.evaluation import paper
    return paper


def _title(name):
    return name[:1].upper() + name[1:]


def _check_rows(rows):
    checked = []
    for label, scores in rows:
        missing = [c for c in COLUMNS if c not in scores]
        if missing:
            raise InputError('table row {!r}: no {}'.format(label, missing[0]))
        checked.append((label, {c: float(scores[c]) for c in COLUMNS}))
    return checked


def to_markdown(rows, first_column, title=None, note=None):
    """A table as Markdown text (values with 6 decimals)."""
    rows = _check_rows(rows)
    lines = []
    if title:
        lines += ['**{}**'.format(title), '']
    header = [first_column] + [_title(c) for c in COLUMNS]
    lines.append('| ' + ' | '.join(header) + ' |')
    lines.append('|' + '|'.join(['---'] + ['---:'] * len(COLUMNS)) + '|')
    for label, scores in rows:
        lines.append('| ' + ' | '.join(
            [str(label)] + ['{:.6f}'.format(scores[c]) for c in COLUMNS])
            + ' |')
    if note:
        lines += ['', note]
    return '\n'.join(lines) + '\n'


def to_csv(rows, first_column):
    """A table as CSV text (full precision)."""
    rows = _check_rows(rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator='\n')
    writer.writerow((first_column.lower(),) + COLUMNS)
    for label, scores in rows:
        writer.writerow([label] + [repr(scores[c]) for c in COLUMNS])
    return out.getvalue()


def to_json(rows, first_column, title=None, note=None):
    """A table as JSON text: ``{"title", "note", "columns", "rows"}``."""
    rows = _check_rows(rows)
    key = first_column.lower()
    return json.dumps(dict(
        title=title, note=note, columns=[key] + list(COLUMNS),
        rows=[dict([(key, label)] + [(c, s[c]) for c in COLUMNS])
              for label, s in rows]), indent=2) + '\n'


def parse_markdown(text):
    """``[(label, scores)]`` of a table written by :func:`to_markdown`."""
    rows = []
    for line in text.splitlines():
        if not line.startswith('|') or line.startswith('|---'):
            continue
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if cells[1] == _title(COLUMNS[0]):   # the header
            continue
        rows.append((cells[0], {c: float(v)
                                for c, v in zip(COLUMNS, cells[1:])}))
    return rows


def write_table(reports_dir, name, rows, first_column, title=None,
                note=None):
    """Write ``<name>.md``, ``<name>.csv`` and ``<name>.json``.

    Returns:
        dict from format (``'md'``, ``'csv'``, ``'json'``) to path.
    """
    base = os.path.join(os.fspath(reports_dir), name)
    return {
        'md': fileio.write_text(base + '.md', to_markdown(rows, first_column,
                                                    title, note)),
        'csv': fileio.write_text(base + '.csv', to_csv(rows, first_column)),
        'json': fileio.write_text(base + '.json', to_json(rows, first_column,
                                                    title, note)),
    }


# -- the paper's tables -------------------------------------------------------

TABLE1_TITLE = ('Table 1. Validation accuracy after each third of training '
                '(1 - mean absolute error)')


def table1_rows(results):
    """Rows of Table 1 from ``{epoch: scores}``, by epoch."""
    return [(int(epoch), results[epoch]) for epoch in sorted(results)]


def write_table1(reports_dir, results, note=None):
    """Table 1 of a run: validation accuracy per epoch (``table1.*``)."""
    return write_table(reports_dir, 'table1', table1_rows(results), 'Epoch',
                       TABLE1_TITLE, note)


def table2_rows(split, scores, baseline=None, paper=None):
    """Rows of a Table 2-like comparison.

    Args:
        split: ``'validation'`` or ``'test'``.
        scores: this model's accuracies.
        baseline: the constant predictor's accuracies, or None.
        paper: the module of :func:`load_paper_results`, or None. Test
            scores are put beside the paper's Table 2; validation scores
            beside its Table 1 after 900 epochs.
    """
    rows = [('this model ({})'.format(split), scores)]
    if baseline is not None:
        rows.append(('constant predictor (training mean)', baseline))
    if paper is not None:
        if split == 'test':
            for rank, row in paper.TABLE2.items():
                rows.append(('paper Table 2, rank {}'.format(rank), row))
        else:
            rows.append(('paper Table 1, {} epochs'.format(paper.EPOCHS),
                         paper.TABLE1[paper.EPOCHS]))
    return rows


def write_table2(reports_dir, split, scores, baseline=None, paper=None,
                 note=None):
    """``table2_<split>.*``: a model's accuracy beside the paper's."""
    if paper is not None:
        source = 'Paper numbers: {}.'.format(paper.SOURCE)
        note = source if not note else note + ' ' + source
    title = ('Table 2. {} accuracy (1 - mean absolute error)'.format(
        _title(split)))
    return write_table(reports_dir, 'table2_' + split,
                       table2_rows(split, scores, baseline, paper), 'Model',
                       title, note)


TABLE3_TITLE = ('Table 3. Validation accuracy of the challenge model and the '
                'post-challenge models (1 - mean absolute error)')
#: Table 3's models, as the paper labels them: the challenge network, the
#: five per-trait networks and the RNN on the challenge network.
TABLE3_MODELS = ('DNN', '5 x DNN', 'DNN + RNN')


def table3_rows(results, baseline=None, paper=None):
    """Rows of Table 3: this run's models (in the paper's order), the
    constant predictor, then the paper's rows.

    Args:
        results: ``{model: scores}`` with keys of :data:`TABLE3_MODELS`
            (any subset).
        baseline: the constant predictor's scores, or None.
        paper: the module of :func:`load_paper_results`, or None.
    """
    unknown = sorted(set(results) - set(TABLE3_MODELS))
    if unknown:
        raise InputError('Table 3: unknown model {!r}; expected one of {}'
                         .format(unknown[0], ', '.join(TABLE3_MODELS)))
    rows = [(name, results[name]) for name in TABLE3_MODELS
            if name in results]
    if baseline is not None:
        rows.append(('constant predictor (training mean)', baseline))
    if paper is not None:
        rows += [('paper: {}'.format(name), paper.TABLE3[name])
                 for name in TABLE3_MODELS]
    return rows


def write_table3(reports_dir, results, baseline=None, paper='load',
                 note=None):
    """``table3.*``: validation accuracy of the three models beside the
    constant predictor and the paper's Table 3."""
    if paper == 'load':
        paper = load_paper_results()
    if paper is not None:
        source = 'Paper numbers: {}.'.format(paper.SOURCE)
        note = source if not note else note + ' ' + source
    return write_table(reports_dir, 'table3',
                       table3_rows(results, baseline, paper), 'Model',
                       TABLE3_TITLE, note)


# -- plots --------------------------------------------------------------------

def write_split_report(reports_dir, split, evaluation, baseline=None,
                       paper='load', note=None):
    """Everything about one evaluated split, under ``reports_dir``.

    Writes ``predictions_<split>.csv`` (per clip), ``table2_<split>.*``
    (beside the constant predictor and the paper) and
    ``scatter_<split>.png``.

    Args:
        evaluation: an :class:`~deep_impression.evaluation.Evaluation`.
        baseline: the constant predictor's ``(5,)`` accuracy, or None.
        paper: the paper's results module; ``'load'`` loads
            :mod:`deep_impression.evaluation.paper`.

    Returns:
        dict of paths: ``predictions``, ``table2`` (the Markdown file),
        ``scatter``, and the Markdown text as ``markdown``.
    """
    from deep_impression import evaluation as evaluation_module
    if paper == 'load':
        paper = load_paper_results()
    reports_dir = os.fspath(reports_dir)
    predictions = evaluation_module.write_predictions_csv(
        os.path.join(reports_dir, 'predictions_{}.csv'.format(split)),
        evaluation)
    scores = evaluation.as_dict()
    base = (None if baseline is None
            else evaluation_module.accuracy_dict(baseline))
    if note is None and evaluation.failed:
        note = '{} clip(s) could not be read and are left out.'.format(
            len(evaluation.failed))
    paths = write_table2(reports_dir, split, scores, base, paper, note)
    scatter = visual_reports.scatter_plot(
        os.path.join(reports_dir, 'scatter_{}.png'.format(split)),
        evaluation.predictions, evaluation.labels,
        title='{} split, {} clips'.format(split, len(evaluation.clip_ids)))
    with open(paths['md'], encoding='utf-8') as f:
        markdown = f.read()
    return dict(predictions=predictions, table2=paths['md'], scatter=scatter,
                markdown=markdown)
