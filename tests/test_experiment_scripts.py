"""The issue-15 experiment scripts: the seed sweep's table and the
crops-against-whole-clips measurement."""

import json
import os
import subprocess
import sys

import numpy
import pytest

from deep_impression import _compat  # noqa: F401

EXPERIMENTS = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'experiments')
sys.path.insert(0, EXPERIMENTS)

import seed_sweep  # noqa: E402
import whole_clip_gap  # noqa: E402

from deep_impression.constants import PAPER_TRAIT_ORDER, TRAITS  # noqa: E402


def _summary(network, constant):
    def scores(values):
        d = dict(zip(TRAITS, values))
        d['average'] = float(numpy.mean(values))
        return d
    return {'scores': {'validation': {'model': scores(network),
                                      'constant': scores(constant)}}}


def test_sweep_rows_are_margins_over_the_constant_predictor():
    summaries = {3: _summary([0.9, 0.8, 0.95, 0.85, 0.7],
                             [0.85, 0.85, 0.85, 0.85, 0.85]),
                 1: _summary([0.86] * 5, [0.85] * 5)}
    rows = seed_sweep.sweep_rows(summaries)
    assert [r['seed'] for r in rows] == [1, 3]
    assert rows[1]['network'] == pytest.approx(0.84)
    assert rows[1]['margin'] == pytest.approx(-0.01)
    assert rows[1]['agreeableness'] == pytest.approx(-0.05)
    assert rows[1]['openness'] == pytest.approx(-0.15)
    assert rows[0]['margin'] == pytest.approx(0.01)
    table = seed_sweep.to_markdown(rows)
    lines = table.splitlines()
    # Header in the paper's trait order; one line per seed.
    header = lines[1].split()
    assert header[:4] == ['Seed', 'Network', 'Constant', 'Margin']
    assert [h.lower() for h in header[4::2]] == list(PAPER_TRAIT_ORDER)
    assert lines[4].split()[:4] == ['3', '0.8400', '0.8500', '-0.0100']


def test_sweep_trains_the_challenge_network_only(tmp_path):
    source = tmp_path / 'quick.json'
    source.write_text(json.dumps({'train': {'epochs': 3},
                                  'per_trait': {'epochs': 2},
                                  'rnn': {'epochs': 4}}))
    path = seed_sweep.challenge_only(str(source), str(tmp_path))
    with open(path) as f:
        assert json.load(f) == {'train': {'epochs': 3}}


def test_whole_clip_way_is_the_validation_of_the_package(
        tmp_path, synthetic_store):
    # The script's "whole clip" predictions, taken apart into streams and
    # fused by hand, give the evaluator's validation accuracy; its other
    # ways differ from it (crops are not whole clips at these sizes).
    from deep_impression import evaluation, training
    from deep_impression.models.weights import load_model
    run = str(tmp_path / 'run')
    training.train(synthetic_store, run, epochs=3, batch_size=2,
                   device='@numpy', audio_crop=2048, frame_crop=64,
                   validate=False, loaders=0, progress_bar=False)
    result = whole_clip_gap.measure(run, frames=2, crops=3,
                                    progress_bar=False)
    expected, constant = evaluation.evaluate_split(
        load_model(os.path.join(run, 'model')), synthetic_store,
        'validation', max_frames=2, show_progress=False)
    whole = result['ways']['whole clip']
    assert whole['accuracy'] == pytest.approx(
        expected.accuracy.tolist(), abs=1e-5)
    assert result['constant']['accuracy'] == pytest.approx(
        constant.tolist(), abs=1e-12)
    assert result['ways']['crops']['accuracy'] != pytest.approx(
        whole['accuracy'], abs=1e-4)
    g = result['geometry']
    assert g['audio_crop'][0] == 2048 and g['frame_crop'][0] == [64, 64]
    # The stored frames are larger than the crops, so are their maps.
    assert g['frame_whole'][1] != g['frame_crop'][1]
    plot = whole_clip_gap.plot(result, str(tmp_path / 'gap.png'))
    assert plot is None and os.path.getsize(str(tmp_path / 'gap.png')) > 0


def test_result_files_name_their_command_commit_and_machine(tmp_path):
    import provenance
    path = str(tmp_path / 'out' / 'result.json')
    provenance.write_result(path, dict(figure=1.5, machine={'cpus': 2}))
    with open(path) as f:
        data = json.load(f)
    assert list(data)[:3] == ['command', 'commit', 'machine']
    assert data['command'].startswith('python ')
    # The checkout's commit, as git names it (with + for local changes).
    head = subprocess.run(['git', '-C', provenance.ROOT, 'rev-parse',
                           '--short', 'HEAD'], capture_output=True,
                          text=True, timeout=30).stdout.strip()
    assert (data['commit'] or '').rstrip('+') == head
    assert ' cores, ' in data['machine']
    assert data['machine_details'] == {'cpus': 2} and data['figure'] == 1.5
