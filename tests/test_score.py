"""``deep-impression score`` and ``compare`` on hand-made prediction files:
name matching, bad input, the constant predictor's row, groups, paired
comparisons of files and run directories, and Table 3's comparisons."""

import csv
import json
import os
import sys

import numpy
import pytest
from sklearn.metrics import mean_absolute_error, mean_squared_error

from deep_impression import cli, evaluation
from deep_impression.constants import TRAITS
from deep_impression.data import chalearn
from deep_impression.errors import DeepImpressionError
from deep_impression.evaluation import scoring

N = 30
NAMES = ['clip{:07d}.{:03d}.mp4'.format(i // 3, i % 3) for i in range(N)]


@pytest.fixture
def data(tmp_path):
    """Annotations of N validation clips and 20 training clips, and
    predictions of N - 2 of the validation clips plus one stranger."""
    rng = numpy.random.RandomState(0)
    labels = rng.uniform(0.2, 0.8, (N, 5))
    train = rng.uniform(0.3, 0.7, (20, 5))
    predictions = numpy.clip(0.5 * labels + 0.25 +
                             rng.normal(0, 0.05, labels.shape), 0, 1)
    for name, values, split in (
            (NAMES, labels, 'validation'),
            (['train{:06d}.000.mp4'.format(i) for i in range(20)], train,
             'train')):
        table = {t: {n: float(v[k]) for n, v in zip(name, values)}
                 for k, t in enumerate(TRAITS)}
        table['interview'] = {n: 0.5 for n in name}
        chalearn.write_annotations(
            str(tmp_path / chalearn.ANNOTATION_FILES[split]), table)
    return dict(dir=tmp_path, labels=labels, train=train,
                predictions=predictions,
                annotations=str(tmp_path / 'annotation_validation.pkl'))


def _write_csv(path, header, rows):
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def _predictions_csv(path, predictions, names=NAMES[:-2], extra=True):
    """Trait columns shuffled, videos in some folder, a stranger last."""
    header = ['openness', 'Video', 'neuroticism', 'extraversion',
              'agreeableness', 'conscientiousness', 'backend']
    rows = []
    for name in names:
        p = predictions[NAMES.index(name)]
        rows.append([p[TRAITS.index(h.lower())] if h.lower() in TRAITS
                     else '/videos/val/' + name if h == 'Video'
                     else 'chainer' for h in header])
    if extra:
        rows.append(['0.5', 'elsewhere/stranger0.001.mp4', '0.5', '0.5',
                     '0.5', '0.5', 'chainer'])
    return _write_csv(path, header, rows)


def _main(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_score_json_matches_independent_metrics(data, capsys):
    path = _predictions_csv(data['dir'] / 'pred.csv', data['predictions'])
    code, out, _ = _main(capsys, 'score', path, '--annotations',
                         data['annotations'], '--format', 'json',
                         '--resamples', '200')
    assert code == 0
    report = json.loads(out)
    assert report['clips'] == N - 2
    assert report['unmatched'] == dict(
        only_predictions=['stranger0.001.mp4'],
        only_annotations=NAMES[-2:])
    model, constant = report['rows']
    y = data['labels'][:-2]
    p = data['predictions'][:-2]
    for k, trait in enumerate(TRAITS):
        cells = model['score']['metrics']
        assert cells['mae'][trait]['value'] == pytest.approx(
            mean_absolute_error(y[:, k], p[:, k]), abs=1e-9)
        assert cells['mse'][trait]['value'] == pytest.approx(
            mean_squared_error(y[:, k], p[:, k]), abs=1e-9)
    # The constant predictor is the training annotations' mean (the file
    # beside annotation_validation.pkl).
    assert constant['label'] == 'constant predictor (training mean)'
    mean = data['train'].mean(axis=0)
    assert [report['constant']['prediction'][t] for t in TRAITS] == \
        pytest.approx(list(mean))
    assert constant['score']['metrics']['mae']['average']['value'] == \
        pytest.approx(numpy.abs(y - mean).mean(), abs=1e-9)
    assert os.path.getsize(report['files']['scatter']) > 1000
    for fmt, written in report['files']['scores'].items():
        assert written.endswith('pred_scores.' + fmt)


def test_score_text_lists_each_unmatched_video_and_says_which_mean(
        data, capsys):
    os.remove(str(data['dir'] / 'annotation_training.pkl'))
    path = _predictions_csv(data['dir'] / 'pred.csv', data['predictions'])
    out_dir = str(data['dir'] / 'out')
    code, out, _ = _main(capsys, 'score', path, '--annotations',
                         data['annotations'], '--out', out_dir,
                         '--resamples', '50')
    assert code == 0
    lines = out.splitlines()
    assert 'stranger0.001.mp4: not in {}'.format(data['annotations']) \
        in lines
    for name in NAMES[-2:]:
        assert '{}: not in {}'.format(name, path) in lines
    assert any('| constant predictor (mean of the scored annotations) | CCC'
               in line for line in lines)
    assert sorted(os.listdir(out_dir)) == [
        'pred_scatter.png', 'pred_scores.csv', 'pred_scores.json',
        'pred_scores.md']


def test_predict_json_and_evaluate_csv_are_read_as_the_same_clips(
        data, tmp_path):
    p = data['predictions']
    records = [dict(video='/a/b/' + n, weights_sha256='x',
                    **{t: float(p[i, k]) for k, t in enumerate(TRAITS)})
               for i, n in enumerate(NAMES)]
    path = tmp_path / 'pred.json'
    path.write_text(json.dumps(records))
    from_json, labels = scoring.read_predictions(str(path))
    assert labels is None
    ev = evaluation.Evaluation([chalearn.clip_id(n) for n in NAMES], p,
                               data['labels'])
    csv_path = evaluation.write_predictions_csv(str(tmp_path / 'e.csv'), ev)
    from_csv, labels = scoring.read_predictions(csv_path)
    assert sorted(from_json) == sorted(from_csv) == sorted(NAMES)
    for name in NAMES:   # the CSV keeps 6 decimals
        numpy.testing.assert_allclose(from_json[name], from_csv[name],
                                      atol=1e-6)
        numpy.testing.assert_allclose(
            labels[name], data['labels'][NAMES.index(name)], atol=1e-6)


@pytest.mark.parametrize('header, row, message', [
    (['video', 'extraversion', 'agreeableness', 'conscientiousness',
      'neuroticism'], [NAMES[0], 0.5, 0.5, 0.5, 0.5],
     'no openness column'),
    (['name'] + list(TRAITS), ['x'] + [0.5] * 5, 'no video column'),
    (['video'] + list(TRAITS), [NAMES[0], 0.5, 'high', 0.5, 0.5, 0.5],
     "line 2: agreeableness is 'high', not a number"),
    (['video'] + list(TRAITS), [NAMES[0], 0.5, 'nan', 0.5, 0.5, 0.5],
     'not a number'),
])
def test_bad_prediction_files_fail_in_one_line(data, capsys, header, row,
                                               message):
    path = _write_csv(data['dir'] / 'bad.csv', header, [row])
    code, out, err = _main(capsys, 'score', path, '--annotations',
                           data['annotations'])
    assert code == 1 and out == ''
    assert err.count('\n') == 1 and path in err and message in err


def test_a_video_named_twice_or_none_in_common_is_refused(data):
    path = _write_csv(data['dir'] / 'twice.csv', ['video'] + list(TRAITS),
                      [['a/' + NAMES[0]] + [0.5] * 5,
                       ['b/' + chalearn.clip_id(NAMES[0])] + [0.5] * 5])
    with pytest.raises(DeepImpressionError, match='line 3: {} appears twice '
                       r'\(also line 2\)'.format(NAMES[0])):
        scoring.read_predictions(path)
    stranger = _write_csv(data['dir'] / 'none.csv', ['video'] + list(TRAITS),
                          [['zzzzzzzzzzz.001.mp4'] + [0.5] * 5])
    with pytest.raises(DeepImpressionError, match='none of its 1 videos'):
        scoring.score_predictions(stranger, data['annotations'])


def test_groups_scores_and_largest_gap(data, capsys):
    path = _predictions_csv(data['dir'] / 'pred.csv', data['predictions'],
                            names=NAMES, extra=False)
    groups = _write_csv(data['dir'] / 'groups.csv',
                        ['video', 'gender', 'ethnicity'],
                        [[n, 'f' if i % 2 else 'm', 'abc'[i % 3] if i else '']
                         for i, n in enumerate(NAMES)])
    code, out, _ = _main(capsys, 'score', path, '--annotations',
                         data['annotations'], '--groups', groups,
                         '--format', 'json', '--resamples', '50')
    assert code == 0
    columns = json.loads(out)['groups']['columns']
    assert sorted(columns) == ['ethnicity', 'gender']
    assert columns['ethnicity']['ungrouped'] == 1   # clip 0 has no group
    y, p = data['labels'], data['predictions']
    maes = {}
    for group, parity in (('m', 0), ('f', 1)):
        idx = [i for i in range(N) if i % 2 == parity]
        score = columns['gender']['groups'][group]
        assert score['clips'] == len(idx)
        maes[group] = numpy.mean([mean_absolute_error(y[idx, k], p[idx, k])
                                  for k in range(5)])
        assert score['metrics']['mae']['average']['value'] == \
            pytest.approx(maes[group], abs=1e-9)
    gap = columns['gender']['largest_gap']['mae']['average']
    assert gap['gap'] == pytest.approx(abs(maes['f'] - maes['m']), abs=1e-9)
    assert {gap['high'], gap['low']} == {'f', 'm'}
    assert maes[gap['high']] > maes[gap['low']]


def test_compare_files_against_annotations(data, capsys):
    a = _predictions_csv(data['dir'] / 'a.csv', data['predictions'])
    noisy = numpy.clip(data['predictions'] + numpy.random.RandomState(1)
                       .normal(0, 0.1, data['predictions'].shape), 0, 1)
    b = _predictions_csv(data['dir'] / 'b.csv', noisy, names=NAMES[1:],
                         extra=False)
    code, out, _ = _main(capsys, 'compare', a, b, '--annotations',
                         data['annotations'], '--format', 'json',
                         '--resamples', '300')
    assert code == 0
    report = json.loads(out)
    both = list(range(1, N - 2))   # A lacks the last two, B the first
    assert report['clips'] == len(both)
    y = data['labels'][both]
    mse = report['comparison']['metrics']['mse']
    for k, trait in enumerate(TRAITS):
        expected = (mean_squared_error(y[:, k], data['predictions'][both, k])
                    - mean_squared_error(y[:, k], noisy[both, k]))
        assert mse[trait]['difference'] == pytest.approx(expected, abs=1e-9)
    assert mse['average']['high'] < 0 and mse['average']['p'] < 0.05
    assert '{}: in {}, not in {}'.format(NAMES[0], a, b) in \
        report['unmatched']
    assert '{}: in {}, not in {}'.format(NAMES[-1], b, a) in \
        report['unmatched']
    assert 'stranger0.001.mp4: in {}, not in {}'.format(a, b) in \
        report['unmatched']


def test_compare_run_directories_uses_their_per_clip_predictions(
        data, capsys, tmp_path):
    ids = [chalearn.clip_id(n) for n in NAMES]
    runs = []
    for name, shift in (('run_a', 0.0), ('run_b', 0.05)):
        reports = tmp_path / name / 'reports'
        reports.mkdir(parents=True)
        evaluation.write_predictions_csv(
            str(reports / 'predictions_validation.csv'),
            evaluation.Evaluation(ids, data['predictions'] + shift,
                                  data['labels']))
        runs.append(str(tmp_path / name))
    out_dir = str(tmp_path / 'cmp')
    code, out, _ = _main(capsys, 'compare', *runs, '--out', out_dir,
                         '--resamples', '100')
    assert code == 0
    assert '| ACC |' in out and '| CCC |' in out
    with open(os.path.join(out_dir, 'compare.json')) as f:
        result = json.load(f)['comparisons'][0]['result']
    assert result['clips'] == N
    # Shifting every prediction moves neither correlation.
    assert result['metrics']['pcc']['average']['difference'] == \
        pytest.approx(0.0, abs=1e-6)
    code, _, err = _main(capsys, 'compare', runs[0], str(tmp_path / 'cmp'))
    assert code == 1 and 'no per-clip validation predictions' in err


def test_table3_prints_paired_comparisons_with_the_dnn(tmp_path, capsys):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), 'experiments'))
    import reproduce
    rng = numpy.random.RandomState(2)
    labels = rng.uniform(0.2, 0.8, (40, 5))
    ids = ['c{:02d}'.format(i) for i in range(40)]

    def model(noise):
        return evaluation.Evaluation(ids, labels + rng.normal(
            0, noise, labels.shape), labels)
    dnn = model(0.1)
    post = {'5 x DNN': model(0.1), 'DNN + RNN': model(0.02)}
    constant = labels.mean(axis=0)
    scores = {'validation': dict(
        model=dnn.as_dict(), constant=evaluation.accuracy_dict(
            evaluation.accuracy(numpy.broadcast_to(constant, labels.shape),
                                labels)))}
    passed, comparisons = reproduce.report_table3(str(tmp_path), scores,
                                                  post, dnn, constant)
    out = capsys.readouterr().out
    assert passed is True
    assert sorted(comparisons) == ['5 x DNN vs DNN', 'DNN + RNN vs DNN']
    assert '*5 x DNN vs DNN*' in out and '*DNN + RNN vs DNN*' in out
    rnn = comparisons['DNN + RNN vs DNN']['metrics']['mae']['average']
    assert rnn['high'] < 0 and rnn['p'] < 0.01   # clearly better
    for name in ('table3', 'table3_metrics', 'table3_compare'):
        for fmt in ('md', 'csv', 'json'):
            assert os.path.exists(str(tmp_path / '{}.{}'.format(name, fmt)))
