"""Validation and test as in §2.3 and §3: accuracy = 1 - mean absolute error
per trait, Average = their mean, whole clips."""

import csv
import json
import os
import subprocess
import sys

import numpy
import pytest

from deep_impression import evaluation
from deep_impression.constants import TRAITS
from deep_impression.errors import DeepImpressionError, InputError


def _independent_accuracy(predictions, labels):
    """Per trait, in plain Python: 1 - (sum of |p - t| over clips) / N."""
    n = len(predictions)
    out = []
    for k in range(5):
        total = 0.0
        for p, t in zip(predictions, labels):
            total += abs(float(p[k]) - float(t[k]))
        out.append(1.0 - total / n)
    return out


def test_accuracy_against_an_independent_computation():
    rng = numpy.random.RandomState(0)
    labels = rng.uniform(0, 1, (37, 5))
    predictions = numpy.clip(labels + rng.normal(0, 0.1, labels.shape), 0, 1)
    got = evaluation.accuracy(predictions, labels)
    assert got == pytest.approx(_independent_accuracy(predictions, labels),
                                abs=1e-12)
    scores = evaluation.accuracy_dict(got)
    assert scores['average'] == pytest.approx(sum(got) / 5, abs=1e-12)
    assert [scores[t] for t in TRAITS] == pytest.approx(list(got))


def test_accuracy_of_known_predictions():
    labels = numpy.full((4, 5), 0.5)
    predictions = labels.copy()
    predictions[:, 0] += 0.1          # extraversion off by 0.1 everywhere
    predictions[0, 4] -= 0.4          # openness off by 0.4 in one clip of 4
    got = evaluation.accuracy(predictions, labels)
    assert got == pytest.approx([0.9, 1.0, 1.0, 1.0, 0.9])
    assert evaluation.accuracy_dict(got)['average'] == pytest.approx(0.96)


def test_accuracy_refuses_mismatched_shapes():
    with pytest.raises(InputError, match='shape'):
        evaluation.accuracy(numpy.zeros((3, 5)), numpy.zeros((4, 5)))
    with pytest.raises(InputError, match='shape'):
        evaluation.accuracy(numpy.zeros((3, 4)), numpy.zeros((3, 4)))


def test_constant_predictor_is_the_training_mean():
    rng = numpy.random.RandomState(1)
    train = rng.uniform(0, 1, (20, 5))
    val = rng.uniform(0, 1, (8, 5))
    mean = [sum(row[k] for row in train) / 20 for k in range(5)]
    expected = _independent_accuracy([mean] * 8, val)
    assert evaluation.constant_accuracy(train, val) == pytest.approx(
        expected, abs=1e-12)


class FakeClips(object):
    """Examples as EvaluationDataset makes them; the third one is broken."""

    def __init__(self):
        rng = numpy.random.RandomState(2)
        self.clip_ids = ['clip{}'.format(i) for i in range(4)]
        self.labels = rng.uniform(0, 1, (4, 5)).astype(numpy.float32)
        self.brightness = rng.uniform(0, 255, 4)

    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 2:
            raise DeepImpressionError('clip2.frames: truncated')
        frames = numpy.full((7, 40, 60, 3), self.brightness[i],
                            dtype=numpy.uint8)
        audio = numpy.full(1600, i / 10, dtype=numpy.float32)

        def read():   # two chunks, as a store streams them
            yield frames[:4]
            yield frames[4:]
        return self.clip_ids[i], audio, read, self.labels[i]


class MeanPixelModel(object):
    """Predicts every trait as the mean pixel / 255 of all frames seen."""

    def __init__(self):
        self.frames_seen = []

    def predict(self, audio, frames):
        chunks = list(frames)
        self.frames_seen.append(sum(len(c) for c in chunks))
        value = numpy.concatenate(chunks).mean() / 255.0
        return numpy.full(5, value, dtype=numpy.float32)


def test_evaluate_predicts_whole_clips_and_skips_broken_ones():
    clips = FakeClips()
    model = MeanPixelModel()
    result = evaluation.evaluate(model, clips, show_progress=False)
    assert result.clip_ids == ['clip0', 'clip1', 'clip3']
    assert model.frames_seen == [7, 7, 7]        # every frame of each clip
    assert result.failed == [('clip2', 'clip2.frames: truncated')]
    expected_pred = [[numpy.floor(clips.brightness[i]) / 255.0] * 5
                     for i in (0, 1, 3)]
    numpy.testing.assert_allclose(result.predictions, expected_pred,
                                  rtol=1e-6)
    assert result.accuracy == pytest.approx(_independent_accuracy(
        expected_pred, clips.labels[[0, 1, 3]]), abs=1e-6)


def test_predictions_csv_round_trip(tmp_path):
    result = evaluation.evaluate(MeanPixelModel(), FakeClips(),
                                 show_progress=False)
    path = str(tmp_path / 'p.csv')
    evaluation.write_predictions_csv(path, result)
    with open(path, newline='') as f:
        rows = list(csv.reader(f))
    assert rows[0] == ['clip'] + list(TRAITS) + ['true_' + t for t in TRAITS]
    assert [r[0] for r in rows[1:]] == result.clip_ids
    back = evaluation.read_predictions_csv(path)
    numpy.testing.assert_allclose(back.predictions, result.predictions,
                                  atol=1e-6)
    numpy.testing.assert_allclose(back.labels, result.labels, atol=1e-6)


def test_evaluate_split_on_a_store(synthetic_store):
    model = MeanPixelModel()
    result, baseline = evaluation.evaluate_split(
        model, synthetic_store, 'validation', max_frames=3,
        show_progress=False)
    from deep_impression.data.store import ClipStore
    store = ClipStore(synthetic_store)
    ids = store.clip_ids('validation')
    assert result.clip_ids == ids
    assert model.frames_seen == [3] * len(ids)
    labels = numpy.stack([store.labels(c) for c in ids])
    numpy.testing.assert_array_equal(result.labels, labels)
    train = numpy.stack([store.labels(c) for c in store.clip_ids('train')])
    assert baseline == pytest.approx(_independent_accuracy(
        [train.mean(axis=0)] * len(ids), labels), abs=1e-6)


def test_evaluate_command(tmp_path, synthetic_store):
    from deep_impression.models.audiovisual import AudiovisualNetwork
    from deep_impression.models.weights import save_weights
    numpy.random.seed(0)
    weights = save_weights(AudiovisualNetwork(), str(tmp_path / 'model'))
    out = str(tmp_path / 'reports')
    from deep_impression.data.store import ClipStore
    test_ids = ClipStore(synthetic_store).clip_ids('test')
    groups = tmp_path / 'groups.csv'
    groups.write_text('video,gender\n{}.mp4,f\n{}.mp4,m\n'.format(
        *test_ids))
    proc = subprocess.run(
        [sys.executable, '-m', 'deep_impression', 'evaluate', synthetic_store,
         '--weights', weights, '--split', 'test', '--max-frames', '2',
         '--out', out, '--groups', str(groups), '--resamples', '50'],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert 'this model (test)' in proc.stdout
    assert 'paper Table 2, rank 3 (ours)' in proc.stdout
    assert '| constant predictor (training mean) | CCC |' in proc.stdout
    assert '*Groups by gender*' in proc.stdout
    assert sorted(os.listdir(out)) == [
        'groups_test.csv', 'groups_test.json', 'groups_test.md',
        'metrics_test.csv', 'metrics_test.json', 'metrics_test.md',
        'predictions_test.csv', 'scatter_test.png', 'table2_test.csv',
        'table2_test.json', 'table2_test.md']
    back = evaluation.read_predictions_csv(
        os.path.join(out, 'predictions_test.csv'))
    # Each row is the network's prediction for that clip, in TRAITS order,
    # from the whole audio and the middle frames of 2 equal halves of the
    # clip (as --max-frames 2 says), with the clip's own labels beside it.
    from deep_impression.data.store import ClipStore
    from deep_impression.models.weights import load_model
    store = ClipStore(synthetic_store)
    assert sorted(back.clip_ids) == sorted(store.clip_ids('test'))
    model = load_model(weights, device='@numpy')
    for row, clip_id in enumerate(back.clip_ids):
        n = store.num_frames(clip_id)
        middles = [int((2 * k + 1) * n // 4) for k in range(2)]
        expected = model.predict(store.audio(clip_id),
                                 store.frames(clip_id, middles))
        numpy.testing.assert_allclose(back.predictions[row], expected,
                                      atol=1e-5, err_msg=clip_id)
        numpy.testing.assert_allclose(back.labels[row],
                                      store.labels(clip_id), atol=1e-6)
    with open(os.path.join(out, 'metrics_test.json')) as f:
        rows = json.load(f)['rows']
    mae = rows[0]['score']['metrics']['mae']['average']['value']
    assert mae == pytest.approx(
        numpy.abs(back.predictions - back.labels).mean(), abs=1e-5)


def test_evaluate_command_bad_weights(tmp_path, synthetic_store):
    bad = tmp_path / 'model'
    bad.write_bytes(b'not weights')
    proc = subprocess.run(
        [sys.executable, '-m', 'deep_impression', 'evaluate', synthetic_store,
         '--weights', str(bad), '--split', 'test'],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith('deep-impression: error: ')
    assert str(bad) in proc.stderr and 'Traceback' not in proc.stderr
