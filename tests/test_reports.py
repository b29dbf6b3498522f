"""Reports laid out as the paper's Tables 1 and 2, read back from each
format, and the paper's own numbers as transcribed."""

import csv
import json
import os

import numpy
import pytest

from deep_impression import evaluation
from deep_impression.evaluation import reports
from deep_impression.visualizations import reports as visual_reports
from deep_impression.constants import PAPER_TRAIT_ORDER, TRAITS

HEADER = ['Epoch', 'Average', 'Openness', 'Agreeableness',
          'Conscientiousness', 'Neuroticism', 'Extraversion']


def _scores(seed):
    rng = numpy.random.RandomState(seed)
    per_trait = rng.uniform(0.8, 0.95, 5)
    return evaluation.accuracy_dict(per_trait)


def test_table1_in_three_formats(tmp_path):
    results = {600: _scores(2), 300: _scores(1), 900: _scores(3)}
    paths = reports.write_table1(str(tmp_path), results, note='a note')
    assert sorted(os.path.basename(p) for p in paths.values()) == [
        'table1.csv', 'table1.json', 'table1.md']

    with open(paths['md'], encoding='utf-8') as f:
        md = f.read()
    header = [line for line in md.splitlines() if line.startswith('| Epoch')]
    assert header == ['| ' + ' | '.join(HEADER) + ' |']
    assert 'a note' in md
    rows = reports.parse_markdown(md)
    assert [label for label, _ in rows] == ['300', '600', '900']
    for (label, scores) in rows:
        for column in reports.COLUMNS:
            assert scores[column] == pytest.approx(
                results[int(label)][column], abs=5e-7)

    with open(paths['csv'], newline='') as f:
        table = list(csv.reader(f))
    assert table[0] == [h.lower() for h in HEADER]
    for row in table[1:]:
        expected = results[int(row[0])]
        assert [float(v) for v in row[1:]] == [
            expected[c] for c in ['average'] + list(PAPER_TRAIT_ORDER)]

    with open(paths['json']) as f:
        data = json.load(f)
    assert data['columns'] == [h.lower() for h in HEADER]
    assert [r['epoch'] for r in data['rows']] == [300, 600, 900]
    for r in data['rows']:
        for column in reports.COLUMNS:
            assert r[column] == results[r['epoch']][column]


def test_average_column_is_the_mean_of_the_traits(tmp_path):
    per_trait = numpy.array([0.91, 0.92, 0.93, 0.94, 0.95])   # TRAITS order
    scores = evaluation.accuracy_dict(per_trait)
    reports.write_table1(str(tmp_path), {1: scores})
    with open(str(tmp_path / 'table1.json')) as f:
        row = json.load(f)['rows'][0]
    assert row['average'] == pytest.approx(0.93)
    # Columns follow the paper's order, values stay with their trait.
    assert row['extraversion'] == pytest.approx(0.91)
    assert row['openness'] == pytest.approx(0.95)


def test_table2_beside_the_paper(tmp_path):
    paper = reports.load_paper_results()
    assert paper is not None
    model, constant = _scores(4), _scores(5)
    paths = reports.write_table2(str(tmp_path), 'test', model, constant,
                                 paper)
    with open(paths['md'], encoding='utf-8') as f:
        md = f.read()
    assert paper.SOURCE in md
    rows = dict(reports.parse_markdown(md))
    assert rows['this model (test)']['average'] == pytest.approx(
        model['average'], abs=5e-7)
    assert rows['constant predictor (training mean)']['openness'] == \
        pytest.approx(constant['openness'], abs=5e-7)
    ours = rows['paper Table 2, rank 3 (ours)']
    assert ours['average'] == pytest.approx(0.910933, abs=5e-7)
    assert ours['conscientiousness'] == pytest.approx(0.913777, abs=5e-7)

    paths = reports.write_table2(str(tmp_path), 'validation', model, None,
                                 paper)
    with open(paths['json']) as f:
        data = json.load(f)
    assert [r['model'] for r in data['rows']] == [
        'this model (validation)', 'paper Table 1, 900 epochs']
    assert data['rows'][1]['average'] == 0.912132


def test_paper_numbers_as_transcribed():
    paper = reports.load_paper_results()
    assert paper.COLUMNS == ('average',) + PAPER_TRAIT_ORDER
    # The numbers quoted in the paper's text.
    assert paper.TABLE1[900]['average'] == 0.912132
    assert paper.TABLE2[paper.OURS]['average'] == pytest.approx(0.9109,
                                                                abs=1e-4)
    # Each printed Average is the mean of its five traits (a check of the
    # transcription, digit by digit).
    for table in (paper.TABLE1, paper.TABLE2, paper.TABLE3):
        for row in table.values():
            mean = sum(row[t] for t in PAPER_TRAIT_ORDER) / 5
            assert row['average'] == pytest.approx(mean, abs=2e-6)


def test_scatter_plot_is_a_png(tmp_path):
    import matplotlib.image
    rng = numpy.random.RandomState(0)
    labels = rng.uniform(0, 1, (10, len(TRAITS)))
    path = visual_reports.scatter_plot(str(tmp_path / 'scatter.png'),
                                labels * 0.5 + 0.25, labels, title='t')
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[1] > 3 * image.shape[0]
    assert os.listdir(str(tmp_path)) == ['scatter.png']


def test_split_report(tmp_path):
    rng = numpy.random.RandomState(0)
    labels = rng.uniform(0, 1, (6, 5))
    ev = evaluation.Evaluation(['c{}'.format(i) for i in range(6)],
                               labels * 0.9, labels, failed=[('c6', 'bad')])
    baseline = evaluation.constant_accuracy(labels, labels)
    paths = reports.write_split_report(str(tmp_path), 'validation', ev,
                                       baseline)
    assert '1 clip(s) could not be read' in paths['markdown']
    rows = dict(reports.parse_markdown(paths['markdown']))
    assert rows['this model (validation)']['average'] == pytest.approx(
        ev.average, abs=5e-7)
    assert os.path.exists(paths['scatter'])
    assert evaluation.read_predictions_csv(paths['predictions']).clip_ids \
        == ev.clip_ids
