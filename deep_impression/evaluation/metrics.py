"""Accuracy as in the paper (§2.3): ``1 - mean absolute error`` per trait,
and the constant predictor (the training labels' mean) it is judged against;
and the metrics the field reports today (:func:`score`): accuracy, MAE,
MSE, Pearson's and Lin's concordance correlation, R², each with a bootstrap
confidence interval over clips, and a paired comparison of two models on
the same clips (:func:`compare`).

Every metric of a resample is a function of eight weighted means over
clips (of ``p``, ``y``, ``p²``, ``y²``, ``py``, ``p - y``, ``|p - y|`` and
``(p - y)²``, per trait), so
one matrix product of the ``(B, N)`` resample counts with the ``(N, 40)``
per-clip quantities gives all of them for all B resamples at once.

Arrays of traits are ``(N, 5)`` in :data:`~deep_impression.constants.TRAITS`
order.
"""

import numpy

from deep_impression.constants import BOOTSTRAP_RESAMPLES, TRAITS
from deep_impression.errors import InputError


def _check_pair(predictions, labels):
    predictions = numpy.asarray(predictions, dtype=numpy.float64)
    labels = numpy.asarray(labels, dtype=numpy.float64)
    if predictions.ndim != 2 or predictions.shape[1] != len(TRAITS):
        raise InputError('predictions: expected shape (N, {}), got {}'.format(
            len(TRAITS), predictions.shape))
    if labels.shape != predictions.shape:
        raise InputError('labels: shape {} differs from the predictions\' {}'
                         .format(labels.shape, predictions.shape))
    if len(labels) == 0:
        raise InputError('no clips to score')
    return predictions, labels


def accuracy(predictions, labels):
    """Per-trait accuracy, ``1 - mean absolute error`` over clips (§3).

    Args:
        predictions: ``(N, 5)`` predicted traits in [0, 1], TRAITS order.
        labels: ``(N, 5)`` annotated traits, same order.

    Returns:
        ``(5,)`` float64 accuracies in TRAITS order.
    """
    predictions, labels = _check_pair(predictions, labels)
    return 1.0 - numpy.abs(predictions - labels).mean(axis=0)


def accuracy_dict(per_trait):
    """``{'average': ..., trait: ...}`` of a ``(5,)`` TRAITS-order array.

    The average is the mean over the five traits, as the paper's tables.
    """
    per_trait = numpy.asarray(per_trait, dtype=numpy.float64)
    out = {'average': float(per_trait.mean())}
    out.update((t, float(v)) for t, v in zip(TRAITS, per_trait))
    return out


def constant_prediction(train_labels):
    """The constant predictor: the mean of the training labels, ``(5,)``."""
    train_labels = numpy.asarray(train_labels, dtype=numpy.float64)
    if train_labels.ndim != 2 or train_labels.shape[1] != len(TRAITS) \
            or len(train_labels) == 0:
        raise InputError('train_labels: expected shape (N, {}), got {}'.format(
            len(TRAITS), train_labels.shape))
    return train_labels.mean(axis=0)


def constant_accuracy(train_labels, labels):
    """Per-trait accuracy of always predicting the training labels' mean."""
    labels = numpy.asarray(labels, dtype=numpy.float64)
    mean = constant_prediction(train_labels)
    return accuracy(numpy.broadcast_to(mean, labels.shape), labels)


# -- the metrics the field reports today --------------------------------------

#: The metrics of :func:`score`, in report order: the challenge's accuracy
#: (1 - MAE), mean absolute and squared error, Pearson's correlation (PCC),
#: Lin's concordance correlation (CCC) and the coefficient of determination
#: (R²), as DeepPersonality's benchmark and recent papers report them.
METRICS = ('accuracy', 'mae', 'mse', 'pcc', 'ccc', 'r2')

#: How each metric is labelled in tables.
METRIC_LABELS = {'accuracy': 'ACC', 'mae': 'MAE', 'mse': 'MSE', 'pcc': 'PCC',
                 'ccc': 'CCC', 'r2': 'R²'}

#: Columns of a score: the mean over the five traits, then each trait.
SCORE_COLUMNS = ('average',) + TRAITS

#: Bootstrap defaults: 1,000 resamples of the clips, a 95% interval
#: (in constants, so the command line's defaults import no framework).
RESAMPLES = BOOTSTRAP_RESAMPLES
CONFIDENCE = 0.95

# Index entries drawn per block of resamples: bounds memory to tens of MB
# whatever the number of clips.
_BLOCK = 1 << 21


def _moments(weights, predictions, labels, differences):
    """Weighted means of the quantities every metric is made of.

    Args:
        weights: ``(B, N)`` float64, each row summing to 1 (one resample:
            how often each clip was drawn, over N).
        predictions, labels: ``(N, 5)`` float64, each column shifted by its
            first value (so a constant column is exactly zero and its
            variance exactly zero, not 1e-17; moments of values near zero
            also lose less to rounding).
        differences: ``(N, 5)`` float64, predictions - labels (unshifted).

    Returns:
        dict of ``(B, 5)`` arrays.
    """
    d = differences
    stacked = numpy.concatenate(
        [predictions, labels, predictions * predictions, labels * labels,
         predictions * labels, d, numpy.abs(d), d * d], axis=1)
    m = numpy.split(weights @ stacked, 8, axis=1)
    return dict(zip(('p', 'y', 'pp', 'yy', 'py', 'd', 'abs', 'sq'), m))


def _divide(numerator, denominator):
    # NaN where the metric is undefined (a zero variance), without warnings.
    out = numpy.full(numerator.shape, numpy.nan)
    ok = denominator > 0
    numpy.divide(numerator, denominator, out=out, where=ok)
    return out


def _metrics_of(m):
    """``{metric: (B, 6)}`` (the average, then TRAITS order) of
    :func:`_moments`; variances and covariances are population ones (over
    N, as Lin's CCC is defined)."""
    var_p = _variance(m['pp'], m['p'])
    var_y = _variance(m['yy'], m['y'])
    cov = m['py'] - m['p'] * m['y']
    per_trait = {
        'accuracy': 1.0 - m['abs'],
        'mae': m['abs'],
        'mse': m['sq'],
        'pcc': _divide(cov, numpy.sqrt(var_p * var_y)),
        'ccc': _divide(2.0 * cov, var_p + var_y + m['d'] ** 2),
        'r2': 1.0 - _divide(m['sq'], var_y),
    }
    return {k: numpy.concatenate([v.mean(axis=1, keepdims=True), v], axis=1)
            for k, v in per_trait.items()}


def _variance(mean_square, mean):
    # Traits live in [0, 1]: a variance below 1e-14 (a standard deviation
    # of 1e-7) is rounding of a constant column (a resample that drew one
    # clip only), not spread.
    var = mean_square - mean ** 2
    return numpy.where(var > 1e-14, var, 0.0)


def _shifted(predictions, labels):
    """The three arrays :func:`_moments` takes."""
    return (predictions - predictions[:1], labels - labels[:1],
            predictions - labels)


def _resample_weights(rng, n, resamples):
    """``(resamples, n)`` float64: how often each of ``n`` clips is drawn
    in each resample (with replacement, ``n`` draws), over ``n``; in
    blocks so that memory stays bounded."""
    per_block = max(1, _BLOCK // n)
    for start in range(0, resamples, per_block):
        b = min(per_block, resamples - start)
        drawn = rng.integers(0, n, size=(b, n))
        drawn += numpy.arange(b)[:, None] * n
        counts = numpy.bincount(drawn.ravel(), minlength=b * n)
        yield counts.reshape(b, n) / float(n)


def _bootstrap(arrays, labels, resamples, seed):
    """Point values and bootstrap replicates of every metric for each
    predictions array of ``arrays``, all resampled with the same clips
    (paired).

    Returns:
        list (one per array) of ``(point, replicates)``: dicts of
        ``(6,)`` and ``(resamples, 6)`` arrays.
    """
    n = len(labels)
    shifted = [_shifted(p, labels) for p in arrays]
    points = [{k: v[0] for k, v in _metrics_of(_moments(
        numpy.full((1, n), 1.0 / n), *s)).items()} for s in shifted]
    blocks = [[] for _ in arrays]
    rng = numpy.random.default_rng(seed)
    for w in _resample_weights(rng, n, resamples):
        for out, s in zip(blocks, shifted):
            out.append(_metrics_of(_moments(w, *s)))
    replicates = [{k: numpy.concatenate([b[k] for b in out])
                   for k in METRICS} for out in blocks]
    return list(zip(points, replicates))


def _interval(replicates, confidence):
    """Percentile interval of each column of ``(B, 6)`` replicates; a
    resample where the metric is undefined is left out (NaN if all are)."""
    tail = 50.0 * (1.0 - confidence)
    out = numpy.full((2, replicates.shape[1]), numpy.nan)
    for j in range(replicates.shape[1]):
        r = replicates[:, j]
        r = r[~numpy.isnan(r)]
        if len(r):
            out[:, j] = numpy.percentile(r, [tail, 100.0 - tail])
    return out


def _check_bootstrap(resamples, confidence):
    if int(resamples) < 1:
        raise InputError('resamples: expected at least 1, got {}'.format(
            resamples))
    if not 0.0 < confidence < 1.0:
        raise InputError('confidence: expected a level in (0, 1), got {}'
                         .format(confidence))


def _cells(values, low=None, high=None):
    out = {}
    for j, column in enumerate(SCORE_COLUMNS):
        cell = {'value': _number(values[j])}
        if low is not None:
            cell.update(low=_number(low[j]), high=_number(high[j]))
        out[column] = cell
    return out


def _number(x):
    # JSON has no NaN: an undefined value is None there.
    x = float(x)
    return None if numpy.isnan(x) else x


def _undefined_notes(point):
    notes = []
    for metric, values in point.items():
        bad = [t for t, v in zip(TRAITS, values[1:]) if numpy.isnan(v)]
        if bad:
            notes.append(
                '{} undefined for {}: a constant column (zero variance) of '
                'predictions or annotations'.format(
                    METRIC_LABELS[metric], ', '.join(bad)))
    return notes


def point_metrics(predictions, labels):
    """Every metric of :data:`METRICS` without intervals.

    Args:
        predictions, labels: ``(N, 5)`` traits in TRAITS order.

    Returns:
        ``{metric: (6,) float64}``: the mean over the five traits, then
        TRAITS order. PCC is NaN for a trait whose predictions or
        annotations are constant, R² when the annotations are; CCC only
        when both are (Lin's formula gives 0 for constant predictions of
        varying annotations: their covariance is zero).
    """
    predictions, labels = _check_pair(predictions, labels)
    n = len(labels)
    m = _metrics_of(_moments(numpy.full((1, n), 1.0 / n),
                             *_shifted(predictions, labels)))
    return {k: v[0] for k, v in m.items()}


def score(predictions, labels, resamples=RESAMPLES, seed=0,
          confidence=CONFIDENCE):
    """Every metric with a bootstrap confidence interval over clips.

    The clips are resampled with replacement ``resamples`` times (seeded);
    the interval is the percentile interval of the metric over the
    resamples (2.5th to 97.5th percentile for 95%). The average's interval
    is that of the per-resample mean over the traits, so it accounts for
    the traits of a clip moving together.

    Args:
        predictions, labels: ``(N, 5)`` traits in TRAITS order.
        resamples: bootstrap resamples (default 1,000).
        seed: seed of the resampling.
        confidence: the interval's level (default 0.95).

    Returns:
        JSON-ready dict: ``clips``, ``resamples``, ``seed``,
        ``confidence``, ``metrics`` (``{metric: {column: {'value', 'low',
        'high'}}}``, columns ``'average'`` then TRAITS; None where
        undefined) and ``notes`` (lines saying what is undefined and why).
    """
    predictions, labels = _check_pair(predictions, labels)
    _check_bootstrap(resamples, confidence)
    (point, replicates), = _bootstrap([predictions], labels, int(resamples),
                                      seed)
    metrics = {}
    for k in METRICS:
        low, high = _interval(replicates[k], confidence)
        metrics[k] = _cells(point[k], low, high)
    return dict(clips=len(labels), resamples=int(resamples), seed=seed,
                confidence=confidence, metrics=metrics,
                notes=_undefined_notes(point))


def constant_score(constant, labels, resamples=RESAMPLES, seed=0,
                   confidence=CONFIDENCE):
    """:func:`score` of the constant predictor: ``constant`` (``(5,)``,
    e.g. the training labels' mean) for every clip of ``labels``."""
    labels = numpy.asarray(labels, dtype=numpy.float64)
    return score(numpy.broadcast_to(numpy.asarray(constant, numpy.float64),
                                    labels.shape), labels, resamples, seed,
                 confidence)


def compare(predictions_a, predictions_b, labels, resamples=RESAMPLES,
            seed=0, confidence=CONFIDENCE):
    """Paired bootstrap comparison of two models on the same clips.

    Each resample draws the same clips for both models; the difference
    ``metric(A) - metric(B)`` is computed on each. The interval is the
    percentile interval of the differences; the two-sided p-value is
    ``min(1, 2 * min(k_le, k_ge) / B')`` where ``k_le`` (``k_ge``) counts
    resampled differences at most (at least) zero, each plus one, and
    ``B' = B + 1``, so that it is never exactly zero after B resamples.

    Args:
        predictions_a, predictions_b, labels: ``(N, 5)``, the same clips
            in the same order, TRAITS order.

    Returns:
        JSON-ready dict as :func:`score` with, per metric and column,
        ``a``, ``b``, ``difference``, ``low``, ``high`` and ``p``.
    """
    predictions_a, labels = _check_pair(predictions_a, labels)
    predictions_b, _ = _check_pair(predictions_b, labels)
    _check_bootstrap(resamples, confidence)
    resamples = int(resamples)
    (pa, ra), (pb, rb) = _bootstrap([predictions_a, predictions_b], labels,
                                    resamples, seed)
    metrics = {}
    for k in METRICS:
        delta = ra[k] - rb[k]
        low, high = _interval(delta, confidence)
        cells = {}
        for j, column in enumerate(SCORE_COLUMNS):
            d = delta[:, j][~numpy.isnan(delta[:, j])]
            if len(d) and not numpy.isnan(pa[k][j] - pb[k][j]):
                tails = min((d <= 0).sum(), (d >= 0).sum()) + 1
                p = min(1.0, 2.0 * tails / (len(d) + 1))
            else:
                p = numpy.nan
            cells[column] = dict(
                a=_number(pa[k][j]), b=_number(pb[k][j]),
                difference=_number(pa[k][j] - pb[k][j]),
                low=_number(low[j]), high=_number(high[j]), p=_number(p))
        metrics[k] = cells
    notes = (['A: ' + n for n in _undefined_notes(pa)] +
             ['B: ' + n for n in _undefined_notes(pb)])
    return dict(clips=len(labels), resamples=resamples, seed=seed,
                confidence=confidence, metrics=metrics, notes=notes)
