"""The metrics the field reports (ACC, MAE, MSE, PCC, CCC, R²) against
independent computations, their bootstrap intervals' coverage on data of a
known distribution, and the paired comparison of two models."""

import math
import os
import sys

import numpy
import pytest
from scipy.stats import pearsonr
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from deep_impression.constants import TRAITS
from deep_impression.errors import InputError
from deep_impression.evaluation import metrics

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'experiments'))

import bootstrap_coverage  # noqa: E402


def _plain_ccc(p, y):
    """Lin's concordance correlation in plain Python (population moments):
    2 cov / (var_p + var_y + (mean_p - mean_y)²)."""
    n = len(p)
    mp, my = sum(p) / n, sum(y) / n
    vp = sum((a - mp) ** 2 for a in p) / n
    vy = sum((b - my) ** 2 for b in y) / n
    cov = sum((a - mp) * (b - my) for a, b in zip(p, y)) / n
    return 2 * cov / (vp + vy + (mp - my) ** 2)


def _pair(seed, n=60):
    rng = numpy.random.RandomState(seed)
    labels = rng.uniform(0.2, 0.8, (n, 5))
    predictions = numpy.clip(0.6 * labels + 0.2 + rng.normal(0, 0.08,
                                                             labels.shape),
                             0, 1)
    return predictions, labels


def test_point_metrics_against_scipy_sklearn_and_plain_python():
    predictions, labels = _pair(0)
    got = metrics.point_metrics(predictions, labels)
    for k, trait in enumerate(TRAITS):
        p, y = predictions[:, k], labels[:, k]
        mae = mean_absolute_error(y, p)
        expected = dict(
            accuracy=1 - mae, mae=mae, mse=mean_squared_error(y, p),
            pcc=pearsonr(p, y)[0], ccc=_plain_ccc(list(p), list(y)),
            r2=r2_score(y, p))
        for name, value in expected.items():
            assert got[name][1 + k] == pytest.approx(value, abs=1e-12), \
                (name, trait)
    for name in metrics.METRICS:   # the average is the mean of the five
        assert got[name][0] == pytest.approx(got[name][1:].mean(), abs=1e-15)


def test_score_point_values_sit_inside_their_intervals():
    predictions, labels = _pair(1, n=200)
    result = metrics.score(predictions, labels, resamples=300, seed=3)
    point = metrics.point_metrics(predictions, labels)
    assert result['clips'] == 200 and result['resamples'] == 300
    assert result['notes'] == []
    for name in metrics.METRICS:
        for j, column in enumerate(metrics.SCORE_COLUMNS):
            cell = result['metrics'][name][column]
            assert cell['value'] == pytest.approx(point[name][j], abs=1e-12)
            assert cell['low'] < cell['value'] < cell['high'], (name, column)
    # ACC and MAE are mirror images: 1 - MAE, interval ends swapped.
    for column in metrics.SCORE_COLUMNS:
        acc = result['metrics']['accuracy'][column]
        mae = result['metrics']['mae'][column]
        assert acc['low'] == pytest.approx(1 - mae['high'], abs=1e-12)


def test_score_is_seeded_and_the_interval_narrows_with_more_clips():
    predictions, labels = _pair(2, n=400)
    a = metrics.score(predictions, labels, resamples=200, seed=5)
    assert a == metrics.score(predictions, labels, resamples=200, seed=5)
    assert a != metrics.score(predictions, labels, resamples=200, seed=6)
    small = metrics.score(predictions[:50], labels[:50], resamples=200,
                          seed=5)

    def width(r):
        cell = r['metrics']['ccc']['average']
        return cell['high'] - cell['low']
    assert width(a) < width(small)


def test_constant_predictions_leave_pcc_undefined_not_a_crash():
    _, labels = _pair(3)
    constant = numpy.broadcast_to(labels.mean(axis=0), labels.shape)
    result = metrics.score(constant, labels, resamples=100)
    assert result['metrics']['pcc']['average']['value'] is None
    assert result['metrics']['pcc']['openness']['low'] is None
    assert any(n.startswith('PCC undefined') for n in result['notes'])
    # Lin's CCC is defined: zero covariance over a positive denominator.
    assert result['metrics']['ccc']['openness']['value'] == 0.0
    # R² of the annotations' own mean is exactly 0, MAE as plain NumPy.
    assert result['metrics']['r2']['openness']['value'] == pytest.approx(
        0.0, abs=1e-12)
    k = TRAITS.index('openness')
    assert result['metrics']['mae']['openness']['value'] == pytest.approx(
        numpy.abs(constant[:, k] - labels[:, k]).mean(), abs=1e-12)


def test_constant_annotations_leave_r2_and_pcc_undefined():
    predictions, _ = _pair(4)
    labels = numpy.full(predictions.shape, 0.5)
    got = metrics.point_metrics(predictions, labels)
    assert numpy.isnan(got['r2']).all() and numpy.isnan(got['pcc']).all()
    assert not numpy.isnan(got['ccc']).any()


def test_bad_input_is_refused():
    predictions, labels = _pair(5)
    with pytest.raises(InputError, match='shape'):
        metrics.score(predictions[:, :4], labels[:, :4])
    with pytest.raises(InputError, match='resamples'):
        metrics.score(predictions, labels, resamples=0)
    with pytest.raises(InputError, match='confidence'):
        metrics.compare(predictions, predictions, labels, confidence=95)


def test_true_values_of_the_coverage_model_by_monte_carlo():
    """The closed forms the coverage check relies on, against a million
    draws measured with scikit-learn and NumPy."""
    params = bootstrap_coverage.PARAMETERS
    truth = bootstrap_coverage.true_values(**params)
    rng = numpy.random.default_rng(11)
    p, y = bootstrap_coverage.draw(rng, 1000000, traits=1, **params)
    p, y = p[:, 0], y[:, 0]
    assert truth['mae'] == pytest.approx(mean_absolute_error(y, p), abs=5e-4)
    assert truth['mse'] == pytest.approx(mean_squared_error(y, p), abs=1e-4)
    assert truth['r2'] == pytest.approx(r2_score(y, p), abs=5e-3)
    assert truth['pcc'] == pytest.approx(numpy.corrcoef(p, y)[0, 1],
                                         abs=5e-3)
    assert truth['ccc'] == pytest.approx(_plain_ccc(p[:20000].tolist(),
                                                    y[:20000].tolist()),
                                         abs=2e-2)


def test_interval_coverage_is_about_95_percent():
    """A smaller run of the coverage experiment (bootstrap_coverage.CHECK:
    100 data sets of 100 clips, 500 per-trait intervals per metric): each
    metric's share must lie in the stated band around 0.95."""
    check = bootstrap_coverage.CHECK
    shares, _ = bootstrap_coverage.coverage(
        datasets=check['datasets'], clips=check['clips'],
        resamples=check['resamples'], seed=0)
    low, high = check['band']
    for name, share in shares.items():
        assert low <= share['per_trait'] <= high, (name, share)


def test_compare_identical_models_differ_by_nothing():
    predictions, labels = _pair(6)
    result = metrics.compare(predictions, predictions, labels,
                             resamples=200)
    for name in metrics.METRICS:
        for cell in result['metrics'][name].values():
            assert cell['difference'] == 0.0
            assert cell['low'] == cell['high'] == 0.0
            assert cell['p'] == 1.0


def test_compare_finds_a_real_difference_and_reports_both_sides():
    predictions, labels = _pair(7, n=300)
    worse = numpy.clip(predictions + numpy.random.RandomState(8).normal(
        0, 0.1, predictions.shape), 0, 1)
    result = metrics.compare(predictions, worse, labels, resamples=500)
    a = metrics.point_metrics(predictions, labels)
    b = metrics.point_metrics(worse, labels)
    for name in metrics.METRICS:
        for j, column in enumerate(metrics.SCORE_COLUMNS):
            cell = result['metrics'][name][column]
            assert cell['a'] == pytest.approx(a[name][j], abs=1e-12)
            assert cell['b'] == pytest.approx(b[name][j], abs=1e-12)
            assert cell['difference'] == pytest.approx(
                a[name][j] - b[name][j], abs=1e-12)
            assert cell['low'] <= cell['difference'] <= cell['high']
    ccc = result['metrics']['ccc']['average']
    assert ccc['difference'] > 0 and ccc['low'] > 0
    assert ccc['p'] == pytest.approx(2 / 501)   # no resample at or below 0


def test_compare_p_values_are_not_too_small_when_models_are_alike():
    """Two models of the same quality (independent noise): a 5% test
    should reject in about 5% of 100 data sets, not far more."""
    rng = numpy.random.default_rng(9)
    rejected = 0
    for i in range(100):
        labels = rng.uniform(0.2, 0.8, (80, 5))
        a = labels + rng.normal(0, 0.1, labels.shape)
        b = labels + rng.normal(0, 0.1, labels.shape)
        result = metrics.compare(a, b, labels, resamples=200, seed=i)
        rejected += result['metrics']['mae']['average']['p'] < 0.05
    assert rejected <= 12   # binomial(100, 0.05) exceeds 12 with p < 0.001


def test_independent_ccc_matches_numpy_on_a_known_case():
    # Sanity of the reference itself: perfect agreement gives 1, a shifted
    # copy less than 1 by the closed form.
    y = [0.1, 0.4, 0.5, 0.9]
    assert _plain_ccc(y, y) == pytest.approx(1.0)
    shifted = [v + 0.1 for v in y]
    var = numpy.var(y)
    assert _plain_ccc(shifted, y) == pytest.approx(2 * var / (2 * var + 0.01))
    assert not math.isnan(_plain_ccc(shifted, y))
