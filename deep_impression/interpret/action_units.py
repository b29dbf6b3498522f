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
import os

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


def _labels(store, clip_ids):
    return numpy.array([store.labels(c) for c in clip_ids]).reshape(-1, 5)


def unit_frames(model, source, openface_dir, layer, frames_per_clip):
    """AU intensities and unit responses of frames sampled from each clip
    that has an OpenFace CSV; frames OpenFace did not track are left out."""
    from deep_impression.interpret import units
    from deep_impression.inputs import even_indices
    from deep_impression.progress import progress
    au_rows, unit_rows = [], []
    for clip_id in progress(source.clip_ids, desc='AU frames', unit='clip'):
        path = openface.find_csv(openface_dir, clip_id)
        if path is None:
            continue
        track = openface.read_csv(path, require_aus=True)
        idx = even_indices(source.num_frames(clip_id), frames_per_clip)
        au = frame_au_values(track, idx, source.fps)
        keep = numpy.isfinite(au).all(axis=1)
        if not keep.any():
            continue
        frames = source.frames(clip_id, idx[keep])
        maxima, _, _ = units.layer_responses(model, frames, [layer])[layer]
        au_rows.append(au[keep])
        unit_rows.append(maxima)
    if not au_rows:
        raise DeepImpressionError('{}: no tracked frame of any clip of the '
                                  'split'.format(openface_dir))
    return numpy.concatenate(au_rows), numpy.concatenate(unit_rows)


def report_markdown(result):
    """``action_units.md``: the result of :func:`analyse` as Markdown."""
    from deep_impression.constants import TRAITS
    from deep_impression.interpret.openface import AU_NAMES
    lin = result['linear_model']
    lines = ['# Action units and traits (Ventura et al. 2017, §4.5)', '',
             'OpenFace CSVs: {}; clips with a CSV: {} ({} split), {} ({} '
             'split); without: {}.'.format(
                 result['openface_dir'], lin['fit_clips'], lin['fit_split'],
                 lin['eval_clips'], lin['eval_split'],
                 len(result['missing'])), '',
             '## Linear model, 17 AU intensities -> traits', '',
             '| | average | ' + ' | '.join(TRAITS) + ' |',
             '|---|---|' + '---|' * len(TRAITS)]
    for name, acc in (('linear model', lin['accuracy']),
                      ('training mean', lin['constant_accuracy'])):
        lines.append('| {} | {:.4f} | {} |'.format(
            name, acc['average'], ' | '.join(
                '{:.4f}'.format(acc[t]) for t in TRAITS)))
    lines += ['', 'Paper: about {:.3f}.'.format(PAPER_LINEAR_ACCURACY), '',
              '## Pearson correlation (r, p) over {} clips'.format(
                  result['correlation_clips']), '',
              '| AU | ' + ' | '.join(TRAITS) + ' |',
              '|---|' + '---|' * len(TRAITS)]
    for i, au in enumerate(AUS):
        lines.append('| {} {} | {} |'.format(au, AU_NAMES[au], ' | '.join(
            '{:.3f} ({:.2g})'.format(r, p) if r is not None else '-'
            for r, p in zip(result['r'][i], result['p'][i]))))
    if result.get('units'):
        u = result['units']
        lines += ['', '## Best unit per AU ({}, U={}, F={} frames, N={})'
                  .format(u['layer'], u['units'], u['frames'], u['n']), '',
                  '| AU | unit | shared | p | paper (unit, shared, p) |',
                  '|---|---|---|---|---|']
        for m in u['matches']:
            pu, pk, pp = PAPER_TABLE2[m['au']]
            lines.append('| {} | {} | {}/{} | {:.3g} | {}, {}/50, {:.3g} |'
                         .format(m['au'], m['unit'], m['k'], m['n'], m['p'],
                                 pu, pk, pp))
    return '\n'.join(lines) + '\n'


def analyse(source, openface_dir, fit_split, out, model=None,
            layer='res5b_relu', frames_per_clip=1, top=50):
    """The whole §4.5 analysis of one store split (``deep-impression
    action-units``): the linear model from the 17 AU intensities of each
    clip to its traits (fitted on ``fit_split``), their correlations, and,
    given the network ``model``, the unit of ``layer`` that best matches
    each AU; the figures are written to ``out``.

    Returns:
        ``(result, figure paths)``; ``result`` is what
        :func:`report_markdown` and ``action_units.json`` show. (Over 60
        lines: one straight sequence of the paper's steps.)
    """
    from deep_impression.evaluation import accuracy_dict, constant_accuracy
    from deep_impression.visualizations import interpretation as figures
    store = source.store
    fit_ids = store.clip_ids(fit_split)
    X_fit, fit_found, fit_missing = read_clip_features(
        openface_dir, fit_ids)
    X_eval, eval_found, eval_missing = read_clip_features(
        openface_dir, source.clip_ids)
    if not eval_found or not fit_found:
        raise DeepImpressionError(
            '{}: no OpenFace CSV for any clip of the {} split'.format(
                openface_dir,
                source.split if not eval_found else fit_split))
    Y_fit, Y_eval = _labels(store, fit_found), _labels(store, eval_found)
    linear = fit_linear_model(X_fit, Y_fit)
    X_all = numpy.concatenate([X_fit, X_eval]) if fit_split != \
        source.split else X_eval
    Y_all = numpy.concatenate([Y_fit, Y_eval]) if fit_split != \
        source.split else Y_eval
    r, p = correlations(X_all, Y_all)
    result = {
        'openface_dir': openface_dir, 'store': source.store.root,
        'missing': sorted(set(fit_missing + eval_missing)),
        'linear_model': {
            'fit_split': fit_split, 'eval_split': source.split,
            'fit_clips': len(fit_found), 'eval_clips': len(eval_found),
            'accuracy': accuracy_dict(linear_model_accuracy(
                linear, X_eval, Y_eval)),
            'constant_accuracy': accuracy_dict(constant_accuracy(Y_fit,
                                                                 Y_eval)),
            'coefficients': linear.coef_.tolist(),
            'intercept': linear.intercept_.tolist()},
        'correlation_clips': len(X_all), 'r': _nan_none(r), 'p': _nan_none(p),
    }
    paths = [figures.au_correlation_figure(
        r, p, os.path.join(out, 'action_units_correlations.png'))]
    if model is not None:
        au, unit_values = unit_frames(model, source, openface_dir,
                                      layer, frames_per_clip)
        matches = unit_matches(au, unit_values, top)
        result['units'] = {'layer': layer, 'frames': len(au),
                           'units': unit_values.shape[1],
                           'n': matches[0]['n'], 'matches': matches}
        paths.append(figures.au_units_figure(
            matches, os.path.join(out, 'action_units_units.png'),
            PAPER_TABLE2))
    return result, paths


def _nan_none(a):
    return [[None if not numpy.isfinite(v) else float(v) for v in row]
            for row in a]
