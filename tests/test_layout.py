"""Claims of the package's layout: one mechanism per job, used everywhere.

* evaluation with ``max_frames`` K and the interpretation analyses look at
  the same frames of a clip (one evenly-spaced-frames formula);
* every file the package writes gets the permissions a plain ``open()``
  would give under the user's umask;
* a wheel built from the checkout and installed elsewhere still knows the
  paper's published numbers (they are part of the package).
"""

import glob
import os
import subprocess
import sys

import numpy
import pytest

from deep_impression import fileio
from deep_impression.data.datasets import EvaluationDataset
from deep_impression.inputs import even_indices
from deep_impression.interpret import units
from deep_impression.interpret.sources import StoreSource
from deep_impression.models.audiovisual import AudiovisualNetwork

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_middle_frame_of_each_equal_part():
    # Independent statement of the formula: part i of k covers frames
    # [i n / k, (i + 1) n / k); its middle is (i + 1/2) n / k, rounded down.
    for n, k in [(4, 2), (375, 10), (100, 4), (7, 3), (50, 49)]:
        expected = [int((2 * i + 1) * n // (2 * k)) for i in range(k)]
        assert list(even_indices(n, k)) == expected
    assert list(even_indices(4, 2)) == [1, 3]
    assert list(even_indices(3, 8)) == [0, 1, 2]


def test_evaluation_and_unit_analysis_pick_the_same_frames(synthetic_store):
    k = 3
    dataset = EvaluationDataset(synthetic_store, 'test', max_frames=k)
    evaluated = {}
    for i in range(len(dataset)):
        clip_id, _, frames, _ = dataset[i]
        evaluated[clip_id] = list(frames.indices)
    numpy.random.seed(0)
    responses = units.unit_responses(AudiovisualNetwork(),
                                     StoreSource(synthetic_store, 'test'),
                                     ['pool1'], frames_per_clip=k)
    analysed = {}
    for clip_id, index in zip(responses.clip_ids, responses.frame_indices):
        analysed.setdefault(str(clip_id), []).append(int(index))
    assert analysed == evaluated
    assert all(len(v) == k for v in evaluated.values())


@pytest.mark.parametrize('umask', [0o022, 0o027, 0o002])
def test_written_files_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        path = fileio.write_text(str(tmp_path / 'report.md'), 'text\n')
        with open(str(tmp_path / 'plain'), 'w') as f:
            f.write('text\n')
    finally:
        os.umask(old)
    mode = os.stat(path).st_mode & 0o777
    assert mode == 0o666 & ~umask
    assert mode == os.stat(str(tmp_path / 'plain')).st_mode & 0o777
    assert not [n for n in os.listdir(str(tmp_path))
                if fileio.is_temporary(n)]


def test_installed_wheel_reports_the_papers_columns(tmp_path):
    wheels = tmp_path / 'wheels'
    target = tmp_path / 'site'
    pip = [sys.executable, '-m', 'pip', '-q', '--disable-pip-version-check']
    subprocess.run(pip + ['wheel', '--no-deps', '--no-build-isolation',
                          '-w', str(wheels), ROOT],
                   check=True, capture_output=True, timeout=300)
    wheel, = glob.glob(str(wheels / 'deep_impression-*.whl'))
    subprocess.run(pip + ['install', '--no-deps', '--target', str(target),
                          wheel], check=True, capture_output=True,
                   timeout=300)
    # Run from an empty folder with the installed copy first on the path:
    # no checkout, no experiments/ folder beside the package.
    script = (
        'import deep_impression, numpy\n'
        'from deep_impression import evaluation\n'
        'from deep_impression.evaluation import reports\n'
        'print(deep_impression.__file__)\n'
        'e = evaluation.Evaluation(["a", "b"], numpy.full((2, 5), 0.5),\n'
        '                          numpy.full((2, 5), 0.6))\n'
        'print(reports.write_split_report("out", "test", e)["markdown"])\n')
    work = tmp_path / 'elsewhere'
    work.mkdir()
    env = dict(os.environ, PYTHONPATH=str(target), MPLBACKEND='Agg')
    result = subprocess.run([sys.executable, '-c', script], cwd=str(work),
                            env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    first, rest = result.stdout.split('\n', 1)
    assert first.startswith(str(target))
    # The paper's Table 2, from the installed package: its own network
    # ranked 3rd with an average of 0.910933, the winner 0.912968.
    assert 'paper Table 2, rank 3 (ours)' in rest
    assert '0.910933' in rest and '0.912968' in rest


def test_models_are_built_by_name(tmp_path):
    from deep_impression.errors import InputError
    from deep_impression.models import (ARCHITECTURE_NAMES, ARCHITECTURES,
                                        get_architecture)
    from deep_impression.models import weights
    assert tuple(ARCHITECTURES) == ARCHITECTURE_NAMES
    assert get_architecture('challenge') is AudiovisualNetwork
    with pytest.raises(InputError, match='challenge'):
        get_architecture('no-such-model')
    numpy.random.seed(1)
    net = AudiovisualNetwork()
    path = weights.save_weights(net, str(tmp_path / 'model'))
    for loaded in (weights.load_model(path),
                   weights.load('challenge', path)):
        numpy.testing.assert_array_equal(loaded.fc.W.array, net.fc.W.array)
    with pytest.raises(InputError, match='no-such-model'):
        weights.load('no-such-model', path)
