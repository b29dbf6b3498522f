"""Scoring any predictions file against ChaLearn annotations, comparing two,
and metrics per group of clips.

A predictions file is the CSV or JSON that ``deep-impression predict``
writes, the ``predictions_<split>.csv`` that ``evaluate`` writes, or any
CSV with a video column (``video`` or ``clip``) and the five trait columns
in any order. Videos are matched as ChaLearn names them (``ID.NNN.mp4``):
by file name, whatever the folder, with ``.mp4`` added to a bare clip id.

A groups file is a CSV with a video column and one or more group columns
(e.g. the gender and ethnicity annotations of First Impressions V2); every
metric is computed per group, with the largest gap between groups.
"""

import csv
import glob
import json
import math
import os
import re

import numpy

from deep_impression.constants import TRAITS
from deep_impression.data import chalearn
from deep_impression.errors import DeepImpressionError
from deep_impression.evaluation import metrics

#: Names a video column may have (compared without case).
VIDEO_COLUMNS = ('video', 'clip')

#: Label columns of ``evaluate``'s ``predictions_<split>.csv``.
LABEL_PREFIX = 'true_'

_EPOCH_CSV = re.compile(r'^validation_epoch_(\d+)\.csv$')


def clip_key(name):
    """A video's ChaLearn name (``ID.NNN.mp4``) from a path or clip id."""
    return chalearn.clip_name(chalearn.clip_id(name.strip()))


# -- reading files ------------------------------------------------------------

def _read_text(path):
    try:
        with open(path, encoding='utf-8-sig') as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise DeepImpressionError('{}: cannot read ({})'.format(
            path, getattr(e, 'strerror', None) or e)) from None


def _csv_rows(path):
    """``(header, [(line number, {column: text})])`` of a CSV file, with
    column names stripped and lower-cased."""
    rows = list(csv.reader(_read_text(path).splitlines()))
    if not rows:
        raise DeepImpressionError('{}: empty file'.format(path))
    header = [c.strip().lower() for c in rows[0]]
    return header, [(i + 2, dict(zip(header, row)))
                    for i, row in enumerate(rows[1:]) if any(row)]


def _video_column(header, path):
    for name in VIDEO_COLUMNS:
        if name in header:
            return name
    raise DeepImpressionError('{}: no video column (expected one named {}; '
                              'columns: {})'.format(
                                  path, ' or '.join(VIDEO_COLUMNS),
                                  ', '.join(header)))


def _number(text, path, line, column):
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        raise DeepImpressionError('{} line {}: {} is {!r}, not a number'
                                  .format(path, line, column, text))
    return value


def _keyed(rows, path, video):
    """``{ChaLearn name: (line, row)}`` of ``(line, row)`` pairs, refusing
    a row without a video and a video named twice."""
    out = {}
    for line, row in rows:
        name = str(row.get(video) or '').strip()
        if not name:
            raise DeepImpressionError('{} line {}: no {}'.format(
                path, line, video))
        key = clip_key(name)
        if key in out:
            raise DeepImpressionError(
                '{} line {}: {} appears twice (also line {})'.format(
                    path, line, key, out[key][0]))
        out[key] = line, row
    return out


def read_predictions(path):
    """The predictions (and labels, if it has them) of a file.

    Args:
        path: a CSV file (a video column and the five trait columns, any
            order, any other columns ignored) or the JSON list that
            ``predict --format json`` writes.

    Returns:
        ``(predictions, labels)``: dicts ``{ChaLearn name: (5,) float64}``
        in TRAITS order; ``labels`` is None unless every row also has the
        ``true_<trait>`` columns of ``evaluate``'s per-clip CSV.

    Raises:
        DeepImpressionError: one line naming the file and what is wrong (no
            video column, a missing trait column, a value that is not a
            number, a video named twice, no rows).
    """
    path = os.fspath(path)
    if path.lower().endswith('.json'):
        rows = _json_rows(path)
        header = sorted(set().union(*(r.keys() for _, r in rows))) \
            if rows else []
    else:
        header, rows = _csv_rows(path)
    video = _video_column(header, path)
    missing = [t for t in TRAITS if t not in header]
    if missing:
        raise DeepImpressionError('{}: no {} column (columns: {})'.format(
            path, missing[0], ', '.join(header)))
    if not rows:
        raise DeepImpressionError('{}: no predictions'.format(path))
    has_labels = all(LABEL_PREFIX + t in header for t in TRAITS)
    predictions, labels = {}, ({} if has_labels else None)
    for key, (line, row) in _keyed(rows, path, video).items():
        predictions[key] = numpy.array(
            [_number(row.get(t), path, line, t) for t in TRAITS])
        if has_labels:
            labels[key] = numpy.array(
                [_number(row.get(LABEL_PREFIX + t), path, line,
                         LABEL_PREFIX + t) for t in TRAITS])
    return predictions, labels


def _json_rows(path):
    try:
        records = json.loads(_read_text(path))
    except ValueError as e:
        raise DeepImpressionError('{}: not valid JSON ({})'.format(path, e)) \
            from None
    if not isinstance(records, list) or not all(
            isinstance(r, dict) for r in records):
        raise DeepImpressionError('{}: expected a list of records with a '
                                  'video and the five traits'.format(path))
    return [(i + 1, {str(k).lower(): v for k, v in r.items()})
            for i, r in enumerate(records)]


def read_annotations(path):
    """``{ChaLearn name: (5,) float64}`` of an annotation pickle
    (``annotation_<split>.pkl``), read with the package's safe reader."""
    by_id = chalearn.labels_by_clip(chalearn.read_annotations(
        os.fspath(path)), dtype=numpy.float64)
    return {chalearn.clip_name(c): v for c, v in by_id.items()}


def read_groups(path):
    """A groups file: a video column and one or more group columns.

    Returns:
        ``(columns, {ChaLearn name: {column: group}})``; an empty cell
        leaves that video out of that column's groups.
    """
    path = os.fspath(path)
    header, rows = _csv_rows(path)
    video = _video_column(header, path)
    columns = [c for c in header if c != video and c]
    if not columns:
        raise DeepImpressionError('{}: no group column beside {}'.format(
            path, video))
    if not rows:
        raise DeepImpressionError('{}: no rows'.format(path))
    return columns, {key: {c: (row.get(c) or '').strip() for c in columns}
                     for key, (_, row) in _keyed(rows, path, video).items()}


# -- matching -----------------------------------------------------------------

class Matched(object):
    """Predictions and annotations of the clips both name.

    Attributes:
        names: sorted ChaLearn names of the N clips in both.
        predictions, labels: ``(N, 5)`` float64, TRAITS order.
        only_predictions: names in the predictions only.
        only_annotations: names in the annotations only.
    """

    def __init__(self, predictions, labels, source='predictions'):
        self.names = sorted(set(predictions) & set(labels))
        self.only_predictions = sorted(set(predictions) - set(labels))
        self.only_annotations = sorted(set(labels) - set(predictions))
        if not self.names:
            raise DeepImpressionError(
                '{}: none of its {} videos is in the annotations (names are '
                'matched as ID.NNN.mp4)'.format(source, len(predictions)))
        self.predictions = numpy.stack([predictions[n] for n in self.names])
        self.labels = numpy.stack([labels[n] for n in self.names])

    def unmatched_lines(self, predictions='predictions',
                        annotations='annotations'):
        """One line per video in one file and not the other."""
        return (['{}: not in {}'.format(n, annotations)
                 for n in self.only_predictions] +
                ['{}: not in {}'.format(n, predictions)
                 for n in self.only_annotations])


def constant_predictor(labels, train_labels=None):
    """The constant predictor and what it is the mean of.

    Returns:
        ``((5,) float64, description)``: the training labels' mean when
        ``train_labels`` (``(M, 5)``) is given, else the scored
        annotations' own mean (which flatters it: it has seen them).
    """
    if train_labels is not None and len(train_labels):
        from deep_impression.evaluation.reports import CONSTANT_LABEL
        return metrics.constant_prediction(train_labels), CONSTANT_LABEL
    return (metrics.constant_prediction(labels),
            'constant predictor (mean of the scored annotations)')


def training_annotations(annotations_path):
    """``annotation_training.pkl`` beside an annotation file, or None."""
    path = os.path.join(os.path.dirname(os.path.abspath(annotations_path)),
                        chalearn.ANNOTATION_FILES['train'])
    return path if os.path.isfile(path) else None


# -- groups -------------------------------------------------------------------

def group_scores(names, predictions, labels, groups, resamples=None,
                 seed=0):
    """Every metric per group, and the largest gap between groups.

    Args:
        names: ChaLearn names of the N scored clips.
        predictions, labels: ``(N, 5)``.
        groups: ``(columns, {name: {column: group}})`` of
            :func:`read_groups`.

    Returns:
        ``{column: {'groups': {group: score}, 'ungrouped': clips without a
        group, 'largest_gap': {metric: {trait column: {'gap', 'high',
        'low'}}}}}`` where each score is :func:`metrics.score`'s and
        ``high``/``low`` name the groups at either end.
    """
    resamples = metrics.RESAMPLES if resamples is None else resamples
    columns, table = groups
    out = {}
    for column in columns:
        members = {}
        for i, name in enumerate(names):
            group = table.get(name, {}).get(column, '')
            if group:
                members.setdefault(group, []).append(i)
        scores = {g: metrics.score(predictions[idx], labels[idx],
                                   resamples=resamples, seed=seed)
                  for g, idx in sorted(members.items())}
        out[column] = dict(
            groups=scores,
            ungrouped=len(names) - sum(len(v) for v in members.values()),
            largest_gap=_largest_gaps(scores))
    return out


def _largest_gaps(scores):
    gaps = {}
    for k in metrics.METRICS:
        gaps[k] = {}
        for column in metrics.SCORE_COLUMNS:
            values = [(s['metrics'][k][column]['value'], g)
                      for g, s in scores.items()
                      if s['metrics'][k][column]['value'] is not None]
            if len(values) < 2:
                gaps[k][column] = dict(gap=None, high=None, low=None)
                continue
            (low, low_group), (high, high_group) = min(values), max(values)
            gaps[k][column] = dict(gap=high - low, high=high_group,
                                   low=low_group)
    return gaps


# -- score and compare --------------------------------------------------------

def score_predictions(predictions, annotations, train_annotations=None,
                      groups=None, resamples=None, seed=0):
    """Score a predictions file against an annotation pickle.

    Args:
        predictions: a predictions file (:func:`read_predictions`).
        annotations: ``annotation_<split>.pkl``.
        train_annotations: ``annotation_training.pkl`` for the constant
            predictor (default: the one beside ``annotations``, if any;
            else the scored annotations' mean, and the report says so).
        groups: a groups file (:func:`read_groups`), or None.
        resamples, seed: of the bootstrap (default 1,000 resamples).

    Returns:
        ``(report, matched)``: a JSON-ready dict (``predictions``,
        ``annotations``, ``clips``, ``rows``: ``[{'label', 'score'}]`` for
        the model and the constant predictor, ``constant``: its
        prediction and source, ``unmatched``, ``groups``) and the
        :class:`Matched` arrays (for the figure).
    """
    resamples = metrics.RESAMPLES if resamples is None else resamples
    predicted, _ = read_predictions(predictions)
    matched = Matched(predicted, read_annotations(annotations),
                      source=predictions)
    train_annotations = (train_annotations or
                         training_annotations(annotations))
    train = (numpy.stack(list(read_annotations(train_annotations).values()))
             if train_annotations else None)
    constant, label = constant_predictor(matched.labels, train)
    report = dict(
        predictions=os.fspath(predictions), annotations=os.fspath(annotations),
        train_annotations=train_annotations, clips=len(matched.names),
        rows=[dict(label='model', score=metrics.score(
                  matched.predictions, matched.labels, resamples, seed)),
              dict(label=label, score=metrics.constant_score(
                  constant, matched.labels, resamples, seed))],
        constant=dict(label=label, prediction=dict(zip(TRAITS, map(
            float, constant)))),
        unmatched=dict(only_predictions=matched.only_predictions,
                       only_annotations=matched.only_annotations),
        groups=None)
    if groups:
        report['groups'] = dict(file=os.fspath(groups), columns=group_scores(
            matched.names, matched.predictions, matched.labels,
            read_groups(groups), resamples, seed))
    return report, matched


def run_predictions(path, split='validation'):
    """The per-clip predictions file of a run directory, or ``path`` itself
    if it is a file.

    Looks for ``predictions_<split>.csv`` (written by ``evaluate`` and
    ``make reproduce``) in the folder or its ``reports/``; for the
    validation split, a training run's last ``validation_epoch_NNNN.csv``
    otherwise.
    """
    path = os.fspath(path)
    if os.path.isfile(path):
        return path
    if not os.path.isdir(path):
        raise DeepImpressionError('{}: no such file or run directory'.format(
            path))
    from deep_impression.training.config import REPORTS_DIR
    for folder in (os.path.join(path, REPORTS_DIR), path):
        candidate = os.path.join(folder, 'predictions_{}.csv'.format(split))
        if os.path.isfile(candidate):
            return candidate
    if split == 'validation':
        epochs = sorted(
            (int(m.group(1)), f) for f in glob.glob(os.path.join(
                path, REPORTS_DIR, 'validation_epoch_*.csv'))
            for m in [_EPOCH_CSV.match(os.path.basename(f))] if m)
        if epochs:
            return epochs[-1][1]
    raise DeepImpressionError(
        '{}: no per-clip {} predictions in this run directory (expected {}; '
        'run `deep-impression evaluate` on it)'.format(
            path, split, os.path.join(REPORTS_DIR,
                                      'predictions_{}.csv'.format(split))))


def compare_predictions(a, b, annotations=None, split='validation',
                        resamples=None, seed=0):
    """Paired bootstrap comparison of two predictions files or run
    directories on the clips both predicted.

    Args:
        a, b: files or run directories (:func:`run_predictions`).
        annotations: an annotation pickle; default: the ``true_<trait>``
            labels of ``evaluate``'s per-clip files (A's, checked against
            B's).

    Returns:
        ``(report, lines)``: a JSON-ready dict (``a``, ``b``,
        ``annotations``, ``clips``, ``comparison`` of
        :func:`metrics.compare`, ``unmatched``) and one line per video that
        is in one input and not the other.
    """
    resamples = metrics.RESAMPLES if resamples is None else resamples
    path_a, path_b = run_predictions(a, split), run_predictions(b, split)
    pred_a, labels_a = read_predictions(path_a)
    pred_b, labels_b = read_predictions(path_b)
    if annotations is not None:
        labels = read_annotations(annotations)
    elif labels_a is not None:
        labels = labels_a
        for name in set(labels_a) & set(labels_b or {}):
            if numpy.abs(labels_a[name] - labels_b[name]).max() > 1e-5:
                raise DeepImpressionError(
                    '{}: labels of {} differ from {}\'s; give --annotations'
                    .format(path_b, name, path_a))
    else:
        raise DeepImpressionError('{}: has no true_<trait> columns; give '
                                  '--annotations'.format(path_a))
    both = {n: (pred_a[n], pred_b[n]) for n in set(pred_a) & set(pred_b)}
    lines = (['{}: in {}, not in {}'.format(n, path_a, path_b)
              for n in sorted(set(pred_a) - set(pred_b))] +
             ['{}: in {}, not in {}'.format(n, path_b, path_a)
              for n in sorted(set(pred_b) - set(pred_a))])
    if not both:
        raise DeepImpressionError('{} and {}: no video in common'.format(
            path_a, path_b))
    matched = Matched({n: v[0] for n, v in both.items()}, labels,
                      source=path_a)
    lines += ['{}: not in {}'.format(n, annotations or 'the labels')
              for n in matched.only_predictions]
    pb = numpy.stack([both[n][1] for n in matched.names])
    report = dict(a=path_a, b=path_b, annotations=annotations,
                  clips=len(matched.names),
                  comparison=metrics.compare(matched.predictions, pb,
                                             matched.labels, resamples,
                                             seed))
    return report, lines


def compare_evaluations(a, b, resamples=None, seed=0):
    """:func:`metrics.compare` of two
    :class:`~deep_impression.evaluation.Evaluation` on the clips both
    hold (by clip id), against A's labels.

    Raises:
        DeepImpressionError: no clip in common, or their labels differ.
    """
    resamples = metrics.RESAMPLES if resamples is None else resamples
    index_b = {c: i for i, c in enumerate(b.clip_ids)}
    pairs = [(i, index_b[c]) for i, c in enumerate(a.clip_ids)
             if c in index_b]
    if not pairs:
        raise DeepImpressionError('compare: the two evaluations share no '
                                  'clip')
    ia, ib = (list(x) for x in zip(*pairs))
    if numpy.abs(a.labels[ia] - b.labels[ib]).max() > 1e-5:
        raise DeepImpressionError('compare: the two evaluations have '
                                  'different labels for the same clips')
    return metrics.compare(a.predictions[ia], b.predictions[ib],
                           a.labels[ia], resamples, seed)
