"""The post-challenge models of paper §4 ("5 x DNN" and "DNN + RNN") and
Table 3."""

import json
import os
import shutil

import chainer
import numpy
import pytest

from deep_impression.constants import TRAITS
from deep_impression.data.features import FeatureCache
from deep_impression.evaluation import paper, reports
from deep_impression.models.audiovisual import AudiovisualNetwork
from deep_impression.models.per_trait import (PerTraitEnsemble,
                                              trait_network,
                                              trait_network_from)
from deep_impression.models.recurrent import RecurrentHead, step_bounds
from deep_impression.models.weights import save_weights
from deep_impression.training import bptt

from devices import every_device, on_device, to_cpu


def _sigmoid(x):
    return 1 / (1 + numpy.exp(-x))


def _numpy_lstm(x, h, c, W_x, b, W_h):
    """One LSTM step written out: the gate pre-activations of unit ``j``
    are rows ``4j .. 4j + 3`` of the weights (cell input, input, forget,
    output gate), as Chainer lays them out."""
    z = x @ W_x.T + b + h @ W_h.T
    z = z.reshape(len(x), -1, 4)
    a, i, f, o = (z[:, :, g] for g in range(4))
    c = numpy.tanh(a) * _sigmoid(i) + _sigmoid(f) * c
    return _sigmoid(o) * numpy.tanh(c), c


@every_device
def test_lstm_steps_match_an_independent_numpy_lstm(device):
    rng = numpy.random.RandomState(0)
    head = RecurrentHead(hidden=8)
    for _, p in head.namedparams():
        p.array[...] = rng.normal(0, 0.2, p.shape)
    moved = on_device(head, device)
    xs = rng.normal(0, 1, (4, 3, 512)).astype(numpy.float32)
    h = [numpy.zeros((3, 8)), numpy.zeros((3, 8))]
    c = [numpy.zeros((3, 8)), numpy.zeros((3, 8))]
    layers = [head.lstm1, head.lstm2]
    with chainer.using_config('train', False):
        for t in range(4):
            y = to_cpu(moved(moved.device.send(xs[t])))
            inp = xs[t].astype(numpy.float64)
            for k, lstm in enumerate(layers):
                h[k], c[k] = _numpy_lstm(inp, h[k], c[k], lstm.upward.W.array,
                                         lstm.upward.b.array,
                                         lstm.lateral.W.array)
                inp = h[k]
            expected = inp @ head.out.W.array.T + head.out.b.array
            numpy.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


def _input_gradient(bptt_length, steps=30):
    """Gradient of the loss of time points 15-29 with respect to every
    time point's input, backpropagated in windows of ``bptt_length``."""
    rng = numpy.random.RandomState(1)
    head = RecurrentHead(hidden=16, dropout=0)
    features = chainer.Variable(
        rng.normal(0, 1, (2, steps, 512)).astype(numpy.float32))
    labels = numpy.full((2, 5), 0.5, dtype=numpy.float32)
    lengths = numpy.array([steps, steps], dtype=numpy.int32)
    windows = []

    def step(loss):
        windows.append(loss)
        if len(windows) * bptt_length > 15:   # a window reaching t >= 15
            loss.backward()
    bptt.truncated_bptt(head, features, lengths, labels, step, bptt_length)
    return numpy.abs(features.grad).sum(axis=(0, 2))


def test_no_gradient_reaches_more_than_15_time_points_back():
    grad = _input_gradient(bptt.BPTT_LENGTH)
    assert bptt.BPTT_LENGTH == 15
    assert (grad[:15] == 0).all()
    assert (grad[15:] > 0).all()
    # Without truncation the same loss reaches the first time points.
    assert (_input_gradient(30)[:15] > 0).all()


def _clip(seconds=1.0, size=48):
    rng = numpy.random.RandomState(2)
    audio = rng.uniform(-1, 1, int(16000 * seconds)).astype(numpy.float32)
    frames = rng.randint(0, 256, (3, size, size, 3)).astype(numpy.uint8)
    return audio, frames


@every_device
def test_per_trait_outputs_are_assembled_in_traits_order(device):
    numpy.random.seed(0)
    networks = [trait_network() for _ in TRAITS]
    for k, net in enumerate(networks):
        # Unsaturated and distinct outputs (a random network's are 0 or 1).
        net.fc.W.array *= 1e-3
        net.fc.b.array[...] = 0.2 * k - 0.4
    audio, frames = _clip()
    ensemble = on_device(PerTraitEnsemble(networks), device)
    together = ensemble.predict(audio, frames)
    alone = [float(net.predict(audio, frames)[0]) for net in networks]
    assert together.shape == (len(TRAITS),)
    numpy.testing.assert_allclose(together, alone, rtol=1e-5)
    assert len(set(numpy.round(alone, 4))) == len(TRAITS)


@every_device
def test_a_trait_network_starts_as_the_challenge_networks_trait(device):
    numpy.random.seed(1)
    challenge = AudiovisualNetwork()
    challenge.fc.W.array *= 1e-3    # unsaturated outputs
    challenge.fc.b.array[...] = numpy.linspace(-0.5, 0.5, len(TRAITS))
    audio, frames = _clip()
    expected = challenge.predict(audio, frames)
    for k, trait in enumerate(TRAITS):
        net = on_device(trait_network_from(challenge, trait), device)
        numpy.testing.assert_allclose(net.predict(audio, frames),
                                      expected[k:k + 1], rtol=1e-5)


def test_per_trait_weights_are_release_format_files(tmp_path):
    from deep_impression.models import weights
    numpy.random.seed(2)
    for trait in TRAITS:
        save_weights(trait_network(), str(tmp_path / trait / 'model'))
    with numpy.load(str(tmp_path / TRAITS[0] / 'model')) as npz:
        keys = set(npz.files)
        assert npz['fc/W'].shape == (1, 512)
    assert keys == set(weights.expected_arrays())
    ensemble = weights.load('per-trait', str(tmp_path))
    assert isinstance(ensemble, PerTraitEnsemble)


def test_step_bounds_of_a_15_second_clip():
    bounds = step_bounds(15 * 16000 + 123, 15 * 25 + 2)
    assert len(bounds) == 15
    assert bounds[3] == ((48000, 64000), (75, 100))


def test_per_second_features_equal_the_streams_on_that_second_alone(
        tmp_path, synthetic_store):
    store = str(tmp_path / 'store')
    shutil.copytree(synthetic_store, store)
    numpy.random.seed(3)
    net = AudiovisualNetwork()
    base = save_weights(net, str(tmp_path / 'model'))
    cache = FeatureCache(store, base)
    clip_id = cache.store.clip_ids('validation')[0]
    assert cache.fill([clip_id], model=net, show_progress=False) == 1
    features = cache.get(clip_id)
    assert cache.path(clip_id).startswith(os.path.join(store, 'features'))
    audio = cache.store.audio(clip_id)
    frames = cache.store.frames(clip_id, range(cache.store.num_frames(
        clip_id)))
    assert features.shape == (2, 512)    # a 2-s clip
    for s in range(2):
        a, v = net.clip_features(audio[16000 * s:16000 * (s + 1)],
                                 frames[25 * s:25 * (s + 1)])
        numpy.testing.assert_allclose(features[s], numpy.concatenate([a, v]),
                                      rtol=1e-4, atol=1e-5)


def _scores(base):
    return dict(zip(reports.COLUMNS, base + 0.001 * numpy.arange(6)))


def test_table3_as_markdown_csv_and_json_beside_the_paper(tmp_path):
    results = {'DNN': _scores(0.9), '5 x DNN': _scores(0.8),
               'DNN + RNN': _scores(0.7)}
    paths = reports.write_table3(str(tmp_path), results,
                                 baseline=_scores(0.5))
    with open(paths['md'], encoding='utf-8') as f:
        rows = dict(reports.parse_markdown(f.read()))
    assert list(rows)[:4] == ['DNN', '5 x DNN', 'DNN + RNN',
                              'constant predictor (training mean)']
    assert rows['5 x DNN']['openness'] == pytest.approx(0.801)
    assert rows['paper: DNN + RNN']['average'] == 0.912158
    assert rows['paper: 5 x DNN']['extraversion'] == 0.910727
    with open(paths['json'], encoding='utf-8') as f:
        table = json.load(f)
    assert table['rows'][2]['model'] == 'DNN + RNN'
    assert table['rows'][2]['average'] == pytest.approx(0.7)
    with open(paths['csv'], encoding='utf-8') as f:
        lines = f.read().splitlines()
    assert lines[0] == 'model,' + ','.join(reports.COLUMNS)
    assert len(lines) == 1 + 4 + len(paper.TABLE3)
    with pytest.raises(reports.InputError, match='unknown model'):
        reports.table3_rows({'LSTM': _scores(0.1)})


def test_per_trait_crops_change_with_the_epoch(synthetic_store):
    # The fine-tuning examples are the challenge run's, seeded from the
    # seed, the epoch and the example (the trainer then hands out indices
    # that name the epoch), with one trait's label.
    from deep_impression.data.datasets import training_dataset
    from deep_impression.training.per_trait import trait_training_data
    config = dict(audio_crop=2048, frame_crop=32, seed=3)
    data = trait_training_data(synthetic_store, config, 2)
    assert data.epoch_indices
    n = len(data)
    first, again, later = data[1], data[1], data[1 + n]
    assert all(numpy.array_equal(a, b) for a, b in zip(first, again))
    assert not (numpy.array_equal(first[0], later[0])
                and numpy.array_equal(first[1], later[1]))
    whole = training_dataset(synthetic_store, audio_crop=2048, frame_crop=32,
                             seed=3)[1 + n]
    assert numpy.array_equal(later[0], whole[0])
    assert numpy.array_equal(later[1], whole[1])
    assert later[2].tolist() == whole[2][2:3].tolist()
