"""`deep-impression predict` end to end on short H.264 + AAC clips."""

import csv
import io
import json
import os
import subprocess
import sys

import numpy
import pytest

from deep_impression.cli import main
from deep_impression.constants import TRAITS
from deep_impression.inference.predict import predict_video
from deep_impression.models.weights import load_model

import clips
import reference


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp('cli')
    weights = reference.write_release_file(
        str(d / 'model'), reference.random_release_weights(seed=11))
    clip = clips.make_clip(d / 'person.mp4', seconds=1.1, size=(320, 180))
    expected = predict_video(clip, load_model(weights))
    return d, weights, clip, expected


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as e:
        main(['--help'])
    assert e.value.code == 0
    assert 'predict' in capsys.readouterr().out


def test_json_output_file(setup, tmp_path):
    d, weights, clip, expected = setup
    out = tmp_path / 'traits.json'
    status = main(['predict', clip, '--weights', weights, '--format', 'json',
                   '--output', str(out)])
    assert status == 0
    rows = json.loads(out.read_text())
    assert len(rows) == 1 and rows[0]['video'] == clip
    numpy.testing.assert_allclose([rows[0][t] for t in TRAITS], expected,
                                  atol=1e-5)


def test_failed_video_reported_others_go_on(setup, capsys, tmp_path):
    d, weights, clip, expected = setup
    broken = tmp_path / 'broken.mp4'
    broken.write_bytes(b'\x00' * 1000)
    status = main(['predict', str(broken), clip, '--weights', weights,
                   '--format', 'csv'])
    captured = capsys.readouterr()
    assert status != 0
    assert 'broken.mp4' in captured.err and 'Traceback' not in captured.err
    rows = list(csv.reader(io.StringIO(captured.out)))
    assert rows[0][:6] == ['video'] + list(TRAITS)
    assert [r[0] for r in rows[1:]] == [clip]
    numpy.testing.assert_allclose([float(v) for v in rows[1][1:6]], expected,
                                  atol=1e-5)


def test_bad_weights_is_one_line_not_a_traceback(setup, tmp_path):
    d, weights, clip, expected = setup
    bad = tmp_path / 'model'
    bad.write_bytes(b'PK\x03\x04 truncated')
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    out = subprocess.run([sys.executable, '-m', 'deep_impression', 'predict',
                          clip, '--weights', str(bad)], capture_output=True,
                         text=True, env=env)
    assert out.returncode != 0
    assert 'Traceback' not in out.stderr
    lines = [l for l in out.stderr.splitlines() if 'error' in l]
    assert len(lines) == 1 and str(bad) in lines[0]


def test_missing_weights_message_points_to_readme(setup, tmp_path, capsys):
    d, weights, clip, expected = setup
    status = main(['predict', clip, '--weights', str(tmp_path / 'none')])
    assert status != 0
    err = capsys.readouterr().err
    assert 'no such weight file' in err and 'weights/README.md' in err
