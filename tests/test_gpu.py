"""The commands end to end on a GPU (``@cupy:0``): ``train`` (and a SIGKILL
then ``--resume`` against an uninterrupted run), ``evaluate`` and
``predict`` against the same work on the CPU, ``explain`` and a short
``reproduce``.

Marked ``gpu``: run only by ``make test-gpu`` (which sets
``DEEP_IMPRESSION_TEST_DEVICE=@cupy:0``) and skipped without a GPU, with
the reason (tests/devices.py). Commands run as ``python -m
deep_impression`` in a process of their own, bounded in time, as a user
runs them.
"""

import csv
import json
import os
import signal
import sys

import numpy
import pytest

from deep_impression import training

import clips
import reference
import test_resume
from devices import GPU, gpu_run
from processes import kill_when, run_bounded, snapshot_path

pytestmark = gpu_run

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
#: Seconds any one command may take here before the test fails.
TIMEOUT = 300
#: GPU and CPU sum in other orders: results agree to float32 rounding of
#: the features' scale, not bit for bit.
ATOL = 1e-4


def _env():
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [ROOT] + [p for p in [env.get('PYTHONPATH')] if p])
    return env


def _command(args, what):
    """Run ``python -m deep_impression ARGS``; returns its output (str),
    failing the test with that output on a non-zero exit."""
    code, out, _ = run_bounded([sys.executable, '-m', 'deep_impression']
                               + list(args), TIMEOUT, what, env=_env())
    out = out.decode('utf-8', 'replace')
    assert code == 0, out
    return out


def _float_rows(path):
    with open(path, newline='') as f:
        rows = list(csv.reader(f))
    return rows[0], {row[0]: [float(v) for v in row[1:] if _is_float(v)]
                     for row in rows[1:]}


def _is_float(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


@pytest.fixture(scope='module')
def gpu_run_dir(synthetic_store, tmp_path_factory):
    """A short training run on the GPU (tiny crops, 3 epochs, validation
    on 4 frames per clip) through the command line."""
    run = str(tmp_path_factory.mktemp('gpu') / 'run')
    out = _command(['train', synthetic_store, '--out', run, '--epochs', '3',
                    '--batchsize', '2', '--audio-crop', '1024',
                    '--frame-crop', '32', '--val-max-frames', '4',
                    '--loaders', '0', '--device', GPU], 'train on the GPU')
    return run, out


def test_train_names_the_gpu_first_and_writes_a_finite_model(gpu_run_dir):
    run, out = gpu_run_dir
    first = out.strip().splitlines()[0]
    assert first.startswith('train: device {} ('.format(GPU)), first
    with numpy.load(os.path.join(run, training.MODEL_FILE)) as npz:
        assert all(numpy.isfinite(npz[k]).all() for k in npz.files)


def test_evaluate_on_the_gpu_equals_the_cpu(gpu_run_dir, synthetic_store,
                                            tmp_path):
    run, _ = gpu_run_dir
    tables = {}
    for name, device in (('cpu', '@numpy'), ('gpu', GPU)):
        out = str(tmp_path / name)
        _command(['evaluate', synthetic_store, '--weights',
                  os.path.join(run, training.MODEL_FILE), '--split',
                  'validation', '--max-frames', '4', '--out', out,
                  '--device', device], 'evaluate on ' + device)
        tables[name] = _float_rows(os.path.join(out,
                                                'predictions_validation.csv'))
    header, cpu = tables['cpu']
    assert tables['gpu'][0] == header and sorted(tables['gpu'][1]) == \
        sorted(cpu) and cpu
    for clip_id, values in cpu.items():
        numpy.testing.assert_allclose(tables['gpu'][1][clip_id], values,
                                      atol=ATOL, err_msg=clip_id)


@pytest.fixture(scope='module')
def weights_and_clip(tmp_path_factory):
    d = tmp_path_factory.mktemp('gpu-predict')
    weights = reference.write_release_file(
        str(d / 'model'), reference.random_release_weights(seed=11))
    return weights, clips.make_clip(d / 'person.mp4', seconds=1.1,
                                    size=(320, 180))


def test_predict_on_the_gpu_equals_the_cpu(weights_and_clip, tmp_path):
    # The CPU's answer is the one tests/test_model.py checks against the
    # independent NumPy network.
    from deep_impression.constants import TRAITS
    from deep_impression.inference.predict import predict_video
    from deep_impression.models.weights import load_model
    weights, clip = weights_and_clip
    out = str(tmp_path / 'traits.json')
    _command(['predict', clip, '--weights', weights, '--format', 'json',
              '--output', out, '--device', GPU], 'predict on the GPU')
    with open(out) as f:
        row = json.load(f)[0]
    numpy.testing.assert_allclose([row[t] for t in TRAITS],
                                  predict_video(clip, load_model(weights)),
                                  atol=ATOL)


def test_explain_on_the_gpu_writes_its_figures(weights_and_clip, tmp_path):
    weights, clip = weights_and_clip
    out = tmp_path / 'explain'
    _command(['explain', clip, '--weights', weights, '--out', str(out),
              '--frames', '2', '--device', GPU], 'explain on the GPU')
    sheet = out / 'person_contact_sheet.png'
    assert sheet.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_sigkill_then_resume_on_the_gpu(tmp_path, synthetic_store):
    """tests/test_resume.py's check with the killed run and the reference
    on the GPU."""
    settings = test_resume.SETTINGS
    reference_run = str(tmp_path / 'reference')
    done = training.train(synthetic_store, reference_run, device=GPU,
                          validate=False, progress_bar=False, **settings)
    run = str(tmp_path / 'run')
    args = test_resume._cli_args(synthetic_store, run)
    args[args.index('@numpy')] = GPU
    proc = kill_when(args, snapshot_path(run, 2), TIMEOUT, env=_env())
    assert proc.returncode == -signal.SIGKILL
    last = training.list_snapshots(run)[-1]
    resumed = training.train(synthetic_store, run, device=GPU,
                             validate=False, progress_bar=False,
                             resume_run=True, **test_resume.LOADERS)
    assert resumed['resumed_from'] == last
    a = test_resume._weights(done['model'])
    b = test_resume._weights(resumed['model'])
    assert sorted(a) == sorted(b)
    for key in a:
        numpy.testing.assert_allclose(b[key], a[key], rtol=1e-4, atol=1e-5,
                                      err_msg=key)


def test_short_reproduce_on_the_gpu(tmp_path):
    """experiments/reproduce.py, shortened (8/4/4 synthetic clips, 3
    epochs, per-trait networks of one epoch, the RNN of three: the least
    its schedule takes): it names the GPU first and runs every stage to its
    results."""
    out = str(tmp_path / 'reproduce')
    settings = ['synth.train=8', 'synth.val=4', 'synth.test=4',
                'train.epochs=3', 'train.snapshot_every=3',
                'per_trait.epochs=1', 'rnn.epochs=3', 'rnn.snapshot_every=3']
    cmd = [sys.executable, os.path.join(ROOT, 'experiments', 'reproduce.py'),
           '--out', out, '--device', GPU]
    for s in settings:
        cmd += ['--set', s]
    code, text, _ = run_bounded(cmd, TIMEOUT, 'short reproduce on the GPU',
                                env=_env())
    text = text.decode('utf-8', 'replace')
    # 3 epochs on 8 clips need not beat the constant predictor (exit 1);
    # a crash or a setup error (exit 2) fails.
    assert code in (0, 1), text
    assert text.strip().splitlines()[0].startswith(
        'reproduce: device {} ('.format(GPU)), text
    assert 'Trained network (release format)' in text, text
