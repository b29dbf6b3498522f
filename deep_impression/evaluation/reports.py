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

#: The constant predictor's row label: it always predicts the training
#: labels' mean.
CONSTANT_LABEL = 'constant predictor (training mean)'


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
    return _write_formats(reports_dir, name,
                          md=to_markdown(rows, first_column, title, note),
                          csv=to_csv(rows, first_column),
                          json=to_json(rows, first_column, title, note))


def _write_formats(reports_dir, name, **texts):
    """``<name>.<format>`` for each format's text, atomically; returns
    ``{format: path}``."""
    base = os.path.join(os.fspath(reports_dir), name)
    return {fmt: fileio.write_text(base + '.' + fmt, text)
            for fmt, text in texts.items()}


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
        rows.append((CONSTANT_LABEL, baseline))
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


#: Titles of the tables written beside Table 3 (``make reproduce``).
TABLE3_METRICS_TITLE = ('Table 3 models: validation metrics with 95% '
                        'bootstrap intervals')
TABLE3_COMPARE_TITLE = ('Table 3 models against DNN: paired bootstrap on '
                        'the same validation clips')


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
        rows.append((CONSTANT_LABEL, baseline))
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


# -- the metrics the field reports today --------------------------------------
#
# Beside the paper's tables, which stay accuracy only: every metric of
# :func:`deep_impression.evaluation.metrics.score` with its bootstrap
# interval (``metrics_<split>.*``), paired comparisons
# (:func:`~deep_impression.evaluation.metrics.compare`) and metrics per
# group of clips. Values in Markdown have 4 decimals; CSV (one row per
# metric and column, "long" format) and JSON have full precision, and an
# undefined value is empty (CSV) or null (JSON).

def _metric_label(name):
    from deep_impression.evaluation.metrics import METRIC_LABELS
    return METRIC_LABELS[name]


def _fmt(value, signed=False):
    if value is None:
        return 'undefined'
    return ('{:+.4f}' if signed else '{:.4f}').format(value)


def _interval_cell(cell, signed=False):
    """``value [low, high]`` of a score's (or a difference's) cell."""
    value = cell['value'] if 'value' in cell else cell['difference']
    if value is None:
        return 'undefined'
    return '{} [{}, {}]'.format(_fmt(value, signed),
                                _fmt(cell['low'], signed),
                                _fmt(cell['high'], signed))


def _csv_cell(value):
    return '' if value is None else repr(value)


def _markdown_table(header, rows):
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '|'.join(['---'] * (len(header) - len(COLUMNS)) +
                            ['---:'] * len(COLUMNS)) + '|']
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
    return lines


def _bootstrap_note(score):
    return ('{:.0%} bootstrap intervals over {} clips ({} resamples, seed '
            '{}).'.format(score['confidence'], score['clips'],
                          score['resamples'], score['seed']))


def metrics_markdown(rows, title=None, note=None):
    """Scores of :func:`~deep_impression.evaluation.metrics.score` as a
    Markdown table: a row per model and metric, ``value [low, high]``.

    Args:
        rows: ``[(label, score)]``.
    """
    from deep_impression.evaluation.metrics import METRICS
    lines = ['**{}**'.format(title), ''] if title else []
    body = [[str(label), _metric_label(k)] +
            [_interval_cell(score['metrics'][k][c]) for c in COLUMNS]
            for label, score in rows for k in METRICS]
    lines += _markdown_table(['Model', 'Metric'] +
                             [_title(c) for c in COLUMNS], body)
    notes = [_bootstrap_note(rows[0][1])] if rows else []
    notes += ['{}: {}'.format(label, n) for label, score in rows
              for n in score['notes']]
    notes += [note] if note else []
    lines += [''] + notes
    return '\n'.join(lines) + '\n'


def metrics_csv(rows):
    """Scores as CSV: ``model, metric, column, value, low, high``."""
    from deep_impression.evaluation.metrics import METRICS
    out = io.StringIO()
    writer = csv.writer(out, lineterminator='\n')
    writer.writerow(('model', 'metric', 'column', 'value', 'low', 'high'))
    for label, score in rows:
        for k in METRICS:
            for c in COLUMNS:
                cell = score['metrics'][k][c]
                writer.writerow([label, k, c] + [_csv_cell(cell[f]) for f in
                                                 ('value', 'low', 'high')])
    return out.getvalue()


def write_metrics(reports_dir, name, rows, title=None, note=None):
    """``<name>.md``, ``.csv`` and ``.json`` of scored models.

    Args:
        rows: ``[(label, score)]``, scores of
            :func:`~deep_impression.evaluation.metrics.score`.

    Returns:
        dict from format to path.
    """
    return _write_formats(
        reports_dir, name, md=metrics_markdown(rows, title, note),
        csv=metrics_csv(rows),
        json=json.dumps(dict(title=title, note=note, rows=[
            dict(label=label, score=score) for label, score in rows]),
            indent=2) + '\n')


def comparison_markdown(comparisons, title=None):
    """Paired comparisons as Markdown: per comparison, a row per metric
    with A's and B's mean over the traits, then ``A - B [low, high]`` and
    the two-sided p-value per column.

    Args:
        comparisons: ``[(label, result)]``, results of
            :func:`~deep_impression.evaluation.metrics.compare`.
    """
    from deep_impression.evaluation.metrics import METRICS
    lines = ['**{}**'.format(title), ''] if title else []
    for label, result in comparisons:
        lines += ['*{}*: A - B with paired {}'.format(
            label, _bootstrap_note(result)), '']
        body = []
        for k in METRICS:
            cells = result['metrics'][k]
            avg = cells['average']
            body.append([_metric_label(k), _fmt(avg['a']), _fmt(avg['b'])] +
                        ['{}, p {}'.format(_interval_cell(cells[c], True),
                                           _p_value(cells[c]['p']))
                         for c in COLUMNS])
        lines += _markdown_table(['Metric', 'A', 'B'] +
                                 [_title(c) for c in COLUMNS], body)
        lines += ['{}: {}'.format(label, n) for n in result['notes']]
        lines.append('')
    return '\n'.join(lines)


def _p_value(p):
    if p is None:
        return 'undefined'
    return '{:.3f}'.format(p) if p >= 0.001 else '< 0.001'


def comparison_csv(comparisons):
    """Comparisons as CSV: ``comparison, metric, column, a, b, difference,
    low, high, p``."""
    from deep_impression.evaluation.metrics import METRICS
    fields = ('a', 'b', 'difference', 'low', 'high', 'p')
    out = io.StringIO()
    writer = csv.writer(out, lineterminator='\n')
    writer.writerow(('comparison', 'metric', 'column') + fields)
    for label, result in comparisons:
        for k in METRICS:
            for c in COLUMNS:
                cell = result['metrics'][k][c]
                writer.writerow([label, k, c] +
                                [_csv_cell(cell[f]) for f in fields])
    return out.getvalue()


def write_comparisons(reports_dir, name, comparisons, title=None):
    """``<name>.md``, ``.csv`` and ``.json`` of paired comparisons."""
    return _write_formats(
        reports_dir, name, md=comparison_markdown(comparisons, title),
        csv=comparison_csv(comparisons),
        json=json.dumps(dict(title=title, comparisons=[
            dict(label=label, result=result)
            for label, result in comparisons]), indent=2) + '\n')


def groups_markdown(groups, title=None):
    """Metrics per group (the mean over the five traits, with intervals)
    and the largest gap between groups, a table per group column.

    Args:
        groups: ``{column: ...}`` of
            :func:`~deep_impression.evaluation.scoring.group_scores`.
    """
    from deep_impression.evaluation.metrics import METRICS
    lines = ['**{}**'.format(title), ''] if title else []
    for column, found in groups.items():
        lines += ['*Groups by {}* (mean over the five traits{})'.format(
            column, '; {} clips without a group'.format(found['ungrouped'])
            if found['ungrouped'] else ''), '']
        header = ['Group', 'Clips'] + [_metric_label(k) for k in METRICS]
        lines += ['| ' + ' | '.join(header) + ' |',
                  '|---|' + '---:|' * (len(header) - 1)]
        for group, score in found['groups'].items():
            lines.append('| ' + ' | '.join(
                [group, str(score['clips'])] +
                [_interval_cell(score['metrics'][k]['average'])
                 for k in METRICS]) + ' |')
        gaps = [found['largest_gap'][k]['average'] for k in METRICS]
        lines.append('| largest gap | | ' + ' | '.join(
            'undefined' if g['gap'] is None else '{:.4f} ({} - {})'.format(
                g['gap'], g['high'], g['low']) for g in gaps) + ' |')
        lines.append('')
    return '\n'.join(lines)


def groups_csv(groups):
    """Group metrics as CSV: ``group_column, group, clips, metric, column,
    value, low, high``; the largest gap as group ``largest gap`` (value:
    the gap, low and high: the groups at either end)."""
    from deep_impression.evaluation.metrics import METRICS
    out = io.StringIO()
    writer = csv.writer(out, lineterminator='\n')
    writer.writerow(('group_column', 'group', 'clips', 'metric', 'column',
                     'value', 'low', 'high'))
    for name, found in groups.items():
        for group, score in found['groups'].items():
            for k in METRICS:
                for c in COLUMNS:
                    cell = score['metrics'][k][c]
                    writer.writerow([name, group, score['clips'], k, c] + [
                        _csv_cell(cell[f]) for f in ('value', 'low', 'high')])
        for k in METRICS:
            for c in COLUMNS:
                g = found['largest_gap'][k][c]
                writer.writerow([name, 'largest gap', '', k, c,
                                 _csv_cell(g['gap']), g['low'] or '',
                                 g['high'] or ''])
    return out.getvalue()


def write_groups(reports_dir, name, groups, title=None):
    """``<name>.md``, ``.csv`` and ``.json`` of metrics per group."""
    return _write_formats(
        reports_dir, name, md=groups_markdown(groups, title),
        csv=groups_csv(groups),
        json=json.dumps(dict(title=title, groups=groups), indent=2) + '\n')


# -- plots --------------------------------------------------------------------

def write_split_report(reports_dir, split, evaluation, baseline=None,
                       paper='load', note=None, constant=None, groups=None,
                       resamples=None, seed=0):
    """Everything about one evaluated split, under ``reports_dir``.

    Writes ``predictions_<split>.csv`` (per clip), ``table2_<split>.*``
    (accuracy beside the constant predictor and the paper),
    ``metrics_<split>.*`` (every metric of
    :func:`~deep_impression.evaluation.metrics.score` with its interval,
    for the model and the constant predictor), ``groups_<split>.*`` with
    ``groups``, and ``scatter_<split>.png``.

    Args:
        evaluation: an :class:`~deep_impression.evaluation.Evaluation`.
        baseline: the constant predictor's ``(5,)`` accuracy, or None.
        paper: the paper's results module; ``'load'`` loads
            :mod:`deep_impression.evaluation.paper`.
        constant: the constant predictor's ``(5,)`` prediction (the
            training labels' mean), or None.
        groups: ``(columns, {clip name: {column: group}})`` of
            :func:`~deep_impression.evaluation.scoring.read_groups`, or
            None.
        resamples, seed: of the bootstrap (default 1,000 resamples).

    Returns:
        dict of paths: ``predictions``, ``table2`` (the Markdown file),
        ``metrics`` (the Markdown file), ``groups`` (or None),
        ``scatter``; and the Markdown texts as ``markdown`` (Table 2),
        ``metrics_markdown`` and ``groups_markdown`` (or None).
    """
    from deep_impression import evaluation as evaluation_module
    from deep_impression.data.chalearn import clip_name
    from deep_impression.evaluation import metrics, scoring
    if paper == 'load':
        paper = load_paper_results()
    resamples = metrics.RESAMPLES if resamples is None else resamples
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
    rows = [('model', metrics.score(evaluation.predictions,
                                    evaluation.labels, resamples, seed))]
    if constant is not None:
        rows.append((CONSTANT_LABEL, metrics.constant_score(
            constant, evaluation.labels, resamples, seed)))
    title = '{} metrics'.format(_title(split))
    metric_paths = write_metrics(reports_dir, 'metrics_' + split, rows,
                                 title, note)
    group_paths = None
    if groups is not None:
        group_paths = write_groups(
            reports_dir, 'groups_' + split, scoring.group_scores(
                [clip_name(c) for c in evaluation.clip_ids],
                evaluation.predictions, evaluation.labels, groups, resamples,
                seed), '{} metrics per group'.format(_title(split)))
    scatter = visual_reports.scatter_plot(
        os.path.join(reports_dir, 'scatter_{}.png'.format(split)),
        evaluation.predictions, evaluation.labels,
        title='{} split, {} clips'.format(split, len(evaluation.clip_ids)))
    texts = {}
    for key, found in (('markdown', paths), ('metrics_markdown',
                                             metric_paths),
                       ('groups_markdown', group_paths)):
        texts[key] = None
        if found is not None:
            with open(found['md'], encoding='utf-8') as f:
                texts[key] = f.read()
    return dict(predictions=predictions, table2=paths['md'],
                metrics=metric_paths['md'],
                groups=group_paths and group_paths['md'], scatter=scatter,
                **texts)
