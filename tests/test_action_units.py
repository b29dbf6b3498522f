"""Action units and the traits (Ventura et al. 2017, §4.5): OpenFace CSV
files, correlations, the linear model and AU detectors among units."""

import json
import math
from fractions import Fraction

import numpy
import pytest

from deep_impression.cli import main
from deep_impression.constants import TRAITS
from deep_impression.interpret import action_units, openface
from deep_impression.interpret.openface import AUS, OpenFaceError

PRESENCE = ('AU01', 'AU02', 'AU04', 'AU05', 'AU06', 'AU07', 'AU09', 'AU10',
            'AU12', 'AU14', 'AU15', 'AU17', 'AU20', 'AU23', 'AU25', 'AU26',
            'AU28', 'AU45')


def write_openface_csv(path, au, timestamps=None, success=None,
                       landmarks=None):
    """A CSV laid out as OpenFace 2.x FeatureExtraction writes it (names
    padded with a space after each comma)."""
    n = len(au)
    timestamps = (numpy.arange(n) / 30.0 if timestamps is None
                  else timestamps)
    success = numpy.ones(n, int) if success is None else success
    landmarks = (numpy.zeros((n, 68, 2)) if landmarks is None
                 else landmarks)
    header = (['frame', 'face_id', 'timestamp', 'confidence', 'success'] +
              ['gaze_0_x', 'gaze_0_y', 'gaze_0_z'] +
              ['x_{}'.format(i) for i in range(68)] +
              ['y_{}'.format(i) for i in range(68)] +
              ['pose_Tx'] + [a + '_r' for a in AUS] +
              [a + '_c' for a in PRESENCE])
    lines = [', '.join(header)]
    for i in range(n):
        row = ([i + 1, 0, '{:.3f}'.format(timestamps[i]), 0.98, success[i],
                0.1, 0.2, -0.9] + list(landmarks[i, :, 0]) +
               list(landmarks[i, :, 1]) + [12.5] +
               ['{:.2f}'.format(v) for v in au[i]] + [1] * len(PRESENCE))
        lines.append(', '.join(str(v) for v in row))
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return str(path)


# -- significance (paper §4.5, Table 2: F = 2000, N = 50, U = 512) ----------

def _formula(k, F, N, U):
    """The paper's formula with exact binomials (independent of scipy)."""
    tail = sum(Fraction(math.comb(F - N, N - i) * math.comb(N, i),
                        math.comb(F, N)) for i in range(k, N + 1))
    return 1 - float((1 - tail) ** U)


@pytest.mark.parametrize('k,paper,rel', [
    (10, 9.32e-5, 1e-3),       # AU12, AU15
    (9, 1.10e-3, 0.03),        # AU23 (p < 1.10e-3; the formula gives 1.07e-3)
    (7, 0.086, 0.01),          # AU2, AU5, AU10, AU20, AU26
    (5, 0.974, 0.002),         # AU7
])
def test_significance_matches_paper_table2(k, paper, rel):
    assert action_units.significance(k, 2000, 50, 512) == pytest.approx(
        paper, rel=rel)


@pytest.mark.parametrize('k', [3, 6, 8, 12])
def test_significance_is_the_papers_formula(k):
    # k = 6 gives 0.469, where the paper's Table 2 prints 0.439.
    assert action_units.significance(k, 2000, 50, 512) == pytest.approx(
        _formula(k, 2000, 50, 512), rel=1e-9, abs=1e-15)


# -- OpenFace CSV files -----------------------------------------------------

def test_reads_openface_csv(tmp_path):
    rng = numpy.random.RandomState(0)
    au = rng.uniform(0, 5, (4, 17)).round(2)
    lm = rng.uniform(0, 720, (4, 68, 2)).round(3)
    path = write_openface_csv(tmp_path / 'c.csv', au,
                              success=numpy.array([1, 1, 0, 1]),
                              landmarks=lm)
    track = openface.read_csv(path, require_aus=True, require_landmarks=True)
    numpy.testing.assert_allclose(track.au, au)
    numpy.testing.assert_allclose(track.landmarks, lm, atol=1e-9)
    assert list(track.success) == [True, True, False, True]
    numpy.testing.assert_allclose(track.timestamp, [0, 0.033, 0.067, 0.1])
    # Clip features: mean over tracked frames only.
    numpy.testing.assert_allclose(action_units.clip_features(track),
                                  au[[0, 1, 3]].mean(axis=0))
    # Nearest tracked row within 0.1 s.
    rows = openface.nearest_rows(track, [0.0, 0.07, 0.5])
    assert list(rows) == [0, 3, -1]


@pytest.mark.parametrize('content,message', [
    ('', 'empty file'),
    ('frame, timestamp, AU01_r\n1, 0.0, 1.0\n', 'missing column(s) AU02_r'),
    ('frame, face_id\n1, 0\n', 'missing column(s) timestamp'),
])
def test_malformed_csv_names_file_and_problem(tmp_path, content, message):
    path = tmp_path / 'bad.csv'
    path.write_text(content)
    with pytest.raises(OpenFaceError) as e:
        openface.read_csv(str(path), require_aus=True)
    assert str(path) in str(e.value) and message in str(e.value)


def test_bad_value_and_short_row_are_located(tmp_path):
    path = write_openface_csv(tmp_path / 'c.csv', numpy.ones((3, 17)))
    lines = open(path).read().splitlines()
    fields = lines[2].split(', ')
    fields[fields.index('1.00')] = 'n/a'
    bad = tmp_path / 'bad.csv'
    bad.write_text('\n'.join(lines[:2] + [', '.join(fields)] + lines[3:]))
    with pytest.raises(OpenFaceError,
                       match=r'bad\.csv, line 3, column AU01_r: not a '
                             r"number: 'n/a'"):
        openface.read_csv(str(bad), require_aus=True)
    short = tmp_path / 'short.csv'
    short.write_text('\n'.join(lines[:3] + [lines[3][:40]]))
    with pytest.raises(OpenFaceError, match=r'short\.csv, line 4: \d+ '
                                            r'fields, the header has'):
        openface.read_csv(str(short))
    with pytest.raises(OpenFaceError, match='no such OpenFace CSV'):
        openface.read_csv(str(tmp_path / 'none.csv'))


def test_find_csv_drops_the_video_suffix(tmp_path):
    (tmp_path / 'abc.003.csv').write_text('x')
    assert openface.find_csv(str(tmp_path), 'abc.003.mp4') == str(
        tmp_path / 'abc.003.csv')
    assert openface.find_csv(str(tmp_path), 'other.001.mp4') is None


# -- statistics -------------------------------------------------------------

def test_correlations_against_numpy_and_t_distribution():
    from scipy import stats
    rng = numpy.random.RandomState(1)
    X = rng.rand(40, 17)
    Y = 0.5 * X[:, :5] + rng.rand(40, 5)
    r, p = action_units.correlations(X, Y)
    full = numpy.corrcoef(X.T, Y.T)[:17, 17:]
    numpy.testing.assert_allclose(r, full, atol=1e-12)
    t = full * numpy.sqrt((40 - 2) / (1 - full ** 2))
    numpy.testing.assert_allclose(p, 2 * stats.t.sf(numpy.abs(t), 38),
                                  rtol=1e-6)


def test_linear_model_recovers_a_linear_relation():
    rng = numpy.random.RandomState(2)
    W = rng.uniform(-0.05, 0.05, (17, 5))
    X = rng.uniform(0, 5, (60, 17))
    Y = numpy.clip(0.5 + (X - 2.5) @ W, 0, 1)
    model = action_units.fit_linear_model(X[:40], Y[:40])
    acc = action_units.linear_model_accuracy(model, X[40:], Y[40:])
    numpy.testing.assert_allclose(acc, 1.0, atol=1e-9)
    # A constant guess scores 1 - MAE from the mean, computed by hand.
    const = type('C', (), {'predict': lambda self, X: numpy.full(
        (len(X), 5), 0.5)})()
    expected = 1 - numpy.abs(Y[40:] - 0.5).mean(axis=0)
    numpy.testing.assert_allclose(
        action_units.linear_model_accuracy(const, X[40:], Y[40:]), expected)


def test_unit_matches_against_set_intersection():
    rng = numpy.random.RandomState(3)
    F, U, N = 200, 30, 20
    au = rng.rand(F, 17)
    unit = rng.rand(F, U)
    unit[:, 7] = au[:, 4] + 0.05 * rng.rand(F)       # unit 7 tracks AU06
    matches = action_units.unit_matches(au, unit, N)
    for a, m in enumerate(matches):
        top_au = set(numpy.argsort(-au[:, a])[:N])
        shared = [len(top_au & set(numpy.argsort(-unit[:, u])[:N]))
                  for u in range(U)]
        assert m['k'] == max(shared) and shared[m['unit']] == m['k']
        assert m['p'] == pytest.approx(_formula(m['k'], F, N, U), rel=1e-9)
    assert matches[4]['au'] == 'AU06' and matches[4]['unit'] == 7
    assert matches[4]['k'] >= 15 and matches[4]['p'] < 1e-10


# -- the command on the synthetic store -------------------------------------

def test_action_units_command(synthetic_store, tmp_path, capsys):
    from deep_impression.data.store import ClipStore
    store = ClipStore(synthetic_store)
    csv_dir = tmp_path / 'openface'
    csv_dir.mkdir()
    rng = numpy.random.RandomState(4)
    for clip_id in store.clip_ids():
        y = store.labels(clip_id)
        # AU intensities that carry the traits, plus noise.
        base = numpy.concatenate([y * 4, y[:5] * 2, y[:5], y[:2]])[:17]
        n = store.num_frames(clip_id) * 30 // 25
        au = numpy.clip(base + rng.normal(0, 0.05, (n, 17)), 0, 5)
        write_openface_csv(csv_dir / '{}.csv'.format(clip_id), au)
    out = tmp_path / 'out'
    status = main(['action-units', str(csv_dir), '--store', synthetic_store,
                   '--out', str(out), '--no-units'])
    assert status == 0
    result = json.loads((out / 'action_units.json').read_text())
    lin = result['linear_model']
    assert lin['fit_clips'] == len(store.clip_ids('train'))
    assert set(lin['accuracy']) == {'average'} | set(TRAITS)
    # The AUs built to carry the traits are found: AU k (k < 5) is 4 times
    # trait k plus noise, so it correlates with trait k, significantly and
    # more than with any other trait; and the linear model from the AUs
    # predicts the held-out clips better than the constant predictor.
    r, p = numpy.array(result['r']), numpy.array(result['p'])
    assert r.shape == p.shape == (17, len(TRAITS))
    for k in range(len(TRAITS)):
        assert numpy.argmax(r[k]) == k and r[k, k] > 0.9, r[k]
        assert p[k, k] < 1e-3, p[k]
    assert (lin['accuracy']['average']
            > lin['constant_accuracy']['average'] + 0.02)
    assert (out / 'action_units_correlations.png').read_bytes()[:4] == \
        b'\x89PNG'
    assert 'Linear model' in (out / 'action_units.md').read_text()
    # With a network: the best unit per AU over the test split's frames.
    from deep_impression.models.audiovisual import AudiovisualNetwork
    from deep_impression.models.weights import save_weights
    weights = save_weights(AudiovisualNetwork(), str(tmp_path / 'model'))
    assert main(['action-units', str(csv_dir), '--store', synthetic_store,
                 '--out', str(out), '--weights', weights,
                 '--frames-per-clip', '2', '--top', '2']) == 0
    units = json.loads((out / 'action_units.json').read_text())['units']
    assert units['frames'] == 2 * len(store.clip_ids('test'))
    assert units['units'] == 256 and units['n'] == 2
    assert [m['au'] for m in units['matches']] == list(AUS)
    for m in units['matches']:
        assert 0 <= m['k'] <= 2 and 0 <= m['p'] <= 1
    assert (out / 'action_units_units.png').exists()
    # A malformed CSV stops it with one line naming the file.
    (csv_dir / '{}.csv'.format(store.clip_ids('test')[0])).write_text(
        'frame, timestamp\n1, 0\n')
    assert main(['action-units', str(csv_dir), '--store', synthetic_store,
                 '--out', str(out), '--no-units']) == 1
    err = capsys.readouterr().err
    assert 'missing column(s) AU01_r' in err and '.csv' in err
