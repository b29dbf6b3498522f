"""Facial action units and the traits (paper §4.5).

Inputs are OpenFace 2.x ``FeatureExtraction`` CSV files, one per clip
(``<clip_id>.csv``), with the intensities (0-5) of the 17 action units in
:data:`~deep_impression.interpret.openface.AUS`.

* Per clip, the mean intensity of each AU over the frames OpenFace tracked;
  per trait and AU, Pearson's correlation with its p-value.
* A linear model (least squares, scikit-learn) from the 17 mean intensities
  to the five traits, fitted on one split and scored on another with the
  challenge's accuracy, ``1 - mean absolute error`` (paper: about 0.886).
  Its predictions are clipped to [0, 1], the labels' range.
* AU detectors among units: over F frames, the N frames with the highest
  intensity of an AU and, per unit, the N frames with its highest response;
  the unit sharing most frames with the AU (``k`` of N), and the chance of
  such a match, ``p = 1 - (1 - P(X >= k))^U`` with ``X`` hypergeometric
  (F frames, N marked, N drawn) and U units in the layer.
"""

import collections

import numpy

from deep_impression.errors import DeepImpressionError
from deep_impression.interpret import openface
from deep_impression.interpret.openface import AUS

#: Paper §4.5 and Table 2: frames per AU and unit, the accuracy of the
#: linear model, and the best matches they found on conv5_3 (U = 512) over
#: the test set (F = 2000): AU -> (unit, k of N = 50, p).
TOP_FRAMES = 50
PAPER_LINEAR_ACCURACY = 0.886
PAPER_TABLE2 = collections.OrderedDict([
    ('AU01', (159, 6, 0.439)), ('AU02', (344, 7, 0.086)),
    ('AU04', (35, 6, 0.439)), ('AU05', (261, 7, 0.086)),
    ('AU06', (380, 6, 0.439)), ('AU07', (7, 5, 0.974)),
    ('AU09', (350, 6, 0.439)), ('AU10', (397, 7, 0.086)),
    ('AU12', (108, 10, 9.32e-5)), ('AU14', (254, 6, 0.439)),
    ('AU15', (220, 10, 9.32e-5)), ('AU17', (77, 6, 0.439)),
    ('AU20', (74, 7, 0.086)), ('AU23', (475, 9, 1.10e-3)),
    ('AU25', (146, 6, 0.439)), ('AU26', (55, 7, 0.086)),
    ('AU45', (302, 6, 0.439)),
])


def clip_features(track):
    """``(17,)`` mean AU intensities of a clip over its tracked frames."""
    if track.au is None:
        raise openface.OpenFaceError('{}: no AU intensity columns'.format(
            track.path))
    ok = track.success
    if not ok.any():
        raise openface.OpenFaceError('{}: OpenFace tracked no face in any '
                                     'frame'.format(track.path))
    return track.au[ok].mean(axis=0)


def read_clip_features(directory, clip_ids):
    """Mean AU intensities of clips whose CSV is in ``directory``.

    Returns:
        ``(X (n, 17), found clip ids, missing clip ids)``.

    Raises:
        OpenFaceError: a malformed CSV (named).
    """
    rows, found, missing = [], [], []
    for clip_id in clip_ids:
        path = openface.find_csv(directory, clip_id)
        if path is None:
            missing.append(clip_id)
            continue
        rows.append(clip_features(openface.read_csv(path, require_aus=True)))
        found.append(clip_id)
    X = numpy.array(rows).reshape(-1, len(AUS))
    return X, found, missing


def correlations(X, Y):
    """Pearson correlation of each AU with each trait.

    Args:
        X: ``(n, 17)`` AU intensities; Y: ``(n, 5)`` traits.

    Returns:
        ``(r, p)``, each ``(17, 5)``; NaN where an AU or trait is constant.
    """
    from scipy import stats
    X = numpy.asarray(X, numpy.float64)
    Y = numpy.asarray(Y, numpy.float64)
    if len(X) != len(Y) or len(X) < 3:
        raise DeepImpressionError('correlations: need at least 3 clips with '
                                  'both AUs and traits, got {}'.format(
                                      min(len(X), len(Y))))
    r = numpy.full((X.shape[1], Y.shape[1]), numpy.nan)
    p = numpy.full_like(r, numpy.nan)
    for i in range(X.shape[1]):
        for j in range(Y.shape[1]):
            if numpy.ptp(X[:, i]) > 0 and numpy.ptp(Y[:, j]) > 0:
                res = stats.pearsonr(X[:, i], Y[:, j])
                r[i, j], p[i, j] = res[0], res[1]
    return r, p


def fit_linear_model(X, Y):
    """Least-squares linear model from AU intensities ``(n, 17)`` to traits
    ``(n, 5)`` (scikit-learn's ``LinearRegression``)."""
    from sklearn.linear_model import LinearRegression
    if len(X) < 2:
        raise DeepImpressionError('linear model: need at least 2 training '
                                  'clips, got {}'.format(len(X)))
    return LinearRegression().fit(numpy.asarray(X, numpy.float64),
                                  numpy.asarray(Y, numpy.float64))


def linear_model_accuracy(model, X, Y):
    """Per-trait accuracy (``1 - MAE``, TRAITS order) of the linear model's
    predictions, clipped to [0, 1]."""
    from deep_impression.evaluation import accuracy
    prediction = numpy.clip(model.predict(numpy.asarray(X, numpy.float64)),
                            0, 1)
    return accuracy(prediction, Y)


def significance(k, frames, n, units):
    """Chance that some unit of ``units`` shares at least ``k`` of its top
    ``n`` frames with an AU's top ``n`` of ``frames`` frames (paper §4.5):
    ``1 - (1 - P(X >= k))^U``, X hypergeometric."""
    from scipy.stats import hypergeom
    if not 0 < n <= frames:
        raise DeepImpressionError('significance: need 0 < N <= F, got N={} '
                                  'F={}'.format(n, frames))
    tail = hypergeom.sf(k - 1, frames, n, n)        # P(X >= k)
    # 1 - (1 - tail)^U without losing the small values.
    return float(-numpy.expm1(units * numpy.log1p(-min(tail, 1.0)))
                 if tail < 1 else 1.0)


def frame_au_values(track, frame_indices, fps):
    """``(k, 17)`` AU intensities at frames (nearest tracked OpenFace row
    within 0.1 s of ``index / fps``; NaN where none)."""
    if track.au is None:
        raise openface.OpenFaceError('{}: no AU intensity columns'.format(
            track.path))
    rows = openface.nearest_rows(track, numpy.asarray(frame_indices) / fps)
    out = numpy.full((len(rows), len(AUS)), numpy.nan)
    out[rows >= 0] = track.au[rows[rows >= 0]]
    return out


def unit_matches(au_values, unit_values, n=TOP_FRAMES):
    """Per AU, the unit whose top-``n`` frames share most with the AU's.

    Args:
        au_values: ``(F, 17)`` AU intensities per frame (no NaN).
        unit_values: ``(F, U)`` unit responses per frame (maximum over
            positions).
        n: top frames per AU and unit.

    Returns:
        list of dicts per AU: ``au``, ``unit``, ``k`` (shared frames), ``n``,
        ``p`` (:func:`significance`), in :data:`AUS` order.
    """
    au_values = numpy.asarray(au_values, numpy.float64)
    unit_values = numpy.asarray(unit_values, numpy.float64)
    F = len(au_values)
    if len(unit_values) != F:
        raise DeepImpressionError('unit matches: {} frames of AUs but {} of '
                                  'units'.format(F, len(unit_values)))
    n = min(n, F)
    if n < 1:
        raise DeepImpressionError('unit matches: no frame')
    U = unit_values.shape[1]

    def top_mask(values):
        order = numpy.argsort(-values, axis=0, kind='stable')[:n]
        mask = numpy.zeros(values.shape, bool)
        numpy.put_along_axis(mask, order, True, axis=0)
        return mask
    au_top = top_mask(au_values)                     # (F, 17)
    unit_top = top_mask(unit_values)                 # (F, U)
    shared = au_top.T.astype(int) @ unit_top.astype(int)   # (17, U)
    out = []
    for a, au in enumerate(AUS):
        u = int(numpy.argmax(shared[a]))
        k = int(shared[a, u])
        out.append({'au': au, 'unit': u, 'k': k, 'n': n, 'frames': F,
                    'units': U, 'p': significance(k, F, n, U)})
    return out
