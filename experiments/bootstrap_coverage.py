"""How often the bootstrap intervals of ``evaluation.metrics.score`` hold
the true value, on data drawn from a known distribution.

Each trait of each simulated data set is ``(annotation, prediction)`` pairs
drawn from a bivariate normal distribution whose metrics are known in
closed form (:func:`true_values`); a 95% interval should hold the true
value in about 95% of the data sets. Prints the share per metric (per
trait intervals, and the interval of the mean over the five traits) and
writes it as JSON.

Usage::

    python experiments/bootstrap_coverage.py [--datasets 200] [--clips 200]
        [--resamples 1000] [--seed 0] [--json docs/results/FILE.json]
"""

import argparse
import math
import os
import platform
import shlex
import subprocess
import sys

import numpy

#: The simulated model: annotations ``N(0.5, 0.12²)``, predictions
#: ``N(0.52, 0.08²)`` with correlation 0.6 (shrunk, slightly biased
#: predictions of moderate quality, as trait regressors make them).
PARAMETERS = dict(mean_y=0.5, sd_y=0.12, mean_p=0.52, sd_p=0.08, rho=0.6)


#: The smaller run of tests/test_metrics.py, and the band its per-trait
#: shares must fall in: about four standard errors (sqrt(0.95 x 0.05 /
#: 500) = 0.0097 for 100 data sets x 5 traits) around 0.95, shifted down a
#: little for the percentile bootstrap's known under-coverage at small N.
CHECK = dict(datasets=100, clips=100, resamples=500, band=(0.90, 0.98))


def true_values(mean_y, sd_y, mean_p, sd_p, rho):
    """The population value of each metric of the simulated model.

    p - y is normal with mean ``mean_p - mean_y`` and variance ``sd_p² +
    sd_y² - 2 rho sd_p sd_y``; its absolute value has the folded normal's
    mean. Returns ``{metric: float}``.
    """
    mu = mean_p - mean_y
    var_d = sd_p ** 2 + sd_y ** 2 - 2 * rho * sd_p * sd_y
    sd_d = math.sqrt(var_d)
    phi = 0.5 * (1 + math.erf(-mu / sd_d / math.sqrt(2)))
    mae = (sd_d * math.sqrt(2 / math.pi) * math.exp(-mu ** 2 / (2 * var_d))
           + mu * (1 - 2 * phi))
    mse = mu ** 2 + var_d
    return dict(accuracy=1 - mae, mae=mae, mse=mse, pcc=rho,
                ccc=2 * rho * sd_p * sd_y / (sd_p ** 2 + sd_y ** 2 + mu ** 2),
                r2=1 - mse / sd_y ** 2)


def draw(rng, clips, mean_y, sd_y, mean_p, sd_p, rho, traits=5):
    """``(predictions, labels)``, each ``(clips, traits)``; traits are
    independent draws of the same model."""
    z1 = rng.standard_normal((clips, traits))
    z2 = rng.standard_normal((clips, traits))
    labels = mean_y + sd_y * z1
    predictions = mean_p + sd_p * (rho * z1 + math.sqrt(1 - rho ** 2) * z2)
    return predictions, labels


def coverage(datasets=200, clips=200, resamples=1000, seed=0,
             parameters=PARAMETERS):
    """Share of intervals that hold the true value, per metric.

    Returns:
        ``{metric: {'per_trait': share over datasets x 5 intervals,
        'average': share over datasets}}`` and the true values.
    """
    from deep_impression.constants import TRAITS
    from deep_impression.evaluation.metrics import METRICS, score
    truth = true_values(**parameters)
    rng = numpy.random.default_rng(seed)
    hits = {k: {'per_trait': 0, 'average': 0} for k in METRICS}
    for i in range(datasets):
        predictions, labels = draw(rng, clips, **parameters)
        result = score(predictions, labels, resamples=resamples,
                       seed=seed + 1 + i)
        for k in METRICS:
            for column, cell in result['metrics'][k].items():
                inside = cell['low'] <= truth[k] <= cell['high']
                key = 'average' if column == 'average' else 'per_trait'
                hits[k][key] += int(inside)
    shares = {k: {'per_trait': v['per_trait'] / (datasets * len(TRAITS)),
                  'average': v['average'] / datasets}
              for k, v in hits.items()}
    return shares, truth


def _commit():
    try:
        return subprocess.run(['git', 'rev-parse', 'HEAD'],
                              capture_output=True, text=True, timeout=10,
                              cwd=os.path.dirname(os.path.abspath(__file__))
                              ).stdout.strip() or None
    except OSError:
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--datasets', type=int, default=200)
    parser.add_argument('--clips', type=int, default=200)
    parser.add_argument('--resamples', type=int, default=1000)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--machine', default=None,
                        help='short description of the machine for the '
                             'JSON (default: the processor and cores)')
    parser.add_argument('--json', default=None, metavar='FILE',
                        help='also write the result here')
    args = parser.parse_args(argv)
    from deep_impression import fileio
    from deep_impression.evaluation.metrics import (CONFIDENCE, METRIC_LABELS,
                                                    RESAMPLES)
    shares, truth = coverage(args.datasets, args.clips, args.resamples,
                             args.seed)
    print('95% bootstrap intervals holding the true value ({} data sets of '
          '{} clips, {} resamples):'.format(args.datasets, args.clips,
                                            args.resamples))
    for k, share in shares.items():
        print('  {:<4} true {:.4f}: per trait {:.3f}, mean of the five '
              '{:.3f}'.format(METRIC_LABELS[k], truth[k], share['per_trait'],
                              share['average']))
    if args.json:
        machine = args.machine or '{}, {} cores'.format(
            platform.processor() or platform.machine(), os.cpu_count())
        fileio.write_json(args.json, dict(
            command=shlex.join(['python'] + sys.argv), commit=_commit(),
            machine=machine, datasets=args.datasets, clips=args.clips,
            resamples=args.resamples, seed=args.seed,
            interval='{:g}% percentile bootstrap: the {:g}th to {:g}th '
                     'percentile over the resamples'.format(
                         100 * CONFIDENCE, 50 * (1 - CONFIDENCE),
                         100 - 50 * (1 - CONFIDENCE)),
            confidence=CONFIDENCE,
            p_value_floor_at_default_resamples=2 / (RESAMPLES + 1),
            parameters=PARAMETERS, true_values=truth, coverage=shares,
            test_check=CHECK), indent=2)
        print('written: {}'.format(args.json))
    return 0


if __name__ == '__main__':
    sys.exit(main())
