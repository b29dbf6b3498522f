"""Per-trait fine-tuning and the RNN's training, killed with SIGKILL,
continue with --resume and end where uninterrupted runs end."""

import json
import os
import shutil
import signal
import sys

import numpy
import pytest

from deep_impression import training

from processes import kill_when
from deep_impression.constants import TRAITS

# A tiny challenge run: 3 epochs of 3 updates (batches of 2 of the 6
# training clips), tiny crops, a snapshot after every epoch.
CHALLENGE = dict(epochs=3, batch_size=2, audio_crop=1024, frame_crop=32,
                 snapshot_every=1, loaders=0, seed=3)
# The RNN: 4 epochs of 3 updates, 2 frames per second.
RNN = dict(epochs=4, batch_size=2, frames_per_step=2, snapshot_every=1,
           seed=3)


@pytest.fixture(scope='module')
def challenge_run(tmp_path_factory, synthetic_store):
    """``(store copy, challenge run directory)``."""
    root = tmp_path_factory.mktemp('post_challenge')
    store = str(root / 'store')
    shutil.copytree(synthetic_store, store)
    run = str(root / 'challenge')
    training.train(store, run, device='@numpy', validate=False,
                   progress_bar=False, **CHALLENGE)
    return store, run


def _kill_when(args, path):
    """Run the CLI with ``args`` in its own process group; SIGKILL it once
    the snapshot ``path`` is written."""
    proc = kill_when([sys.executable, '-m', 'deep_impression', 'train'] +
                     args + ['--device', '@numpy'], path, 480)
    assert proc.returncode == -signal.SIGKILL


def _assert_same_weights(a, b):
    with numpy.load(a) as x, numpy.load(b) as y:
        assert sorted(x.files) == sorted(y.files)
        for key in x.files:
            numpy.testing.assert_array_equal(y[key], x[key], err_msg=key)


def test_per_trait_fine_tuning_resumes_after_sigkill(tmp_path,
                                                     challenge_run):
    store, run = challenge_run
    init = os.path.join(run, 'model_epoch_0001')
    # The first two traits suffice: the run is killed during the second.
    traits = TRAITS[:2]
    reference = training.train_per_trait(store, str(tmp_path / 'reference'),
                                         init, device='@numpy', loaders=0,
                                         progress_bar=False, traits=traits)
    out = str(tmp_path / 'per_trait')
    # Killed during the second trait, after its first snapshot.
    second = os.path.join(out, TRAITS[1])
    _kill_when([store, '--out', out, '--model', 'per-trait', '--init', init,
                '--loaders', '0'],
               os.path.join(second, 'snapshot_epoch_0001'))
    assert os.path.exists(os.path.join(out, TRAITS[0], 'model'))
    assert not os.path.exists(os.path.join(second, 'model'))
    resumed = training.train_per_trait(store, out, init, device='@numpy',
                                       loaders=0, progress_bar=False,
                                       resume_run=True, traits=traits)
    # The second trait's alpha after the resume is the decayed one.
    with open(os.path.join(second, 'log')) as f:
        assert [e['alpha'] for e in json.load(f)] == pytest.approx(
            [2e-5, 2e-6])
    for trait in traits:
        _assert_same_weights(reference['traits'][trait],
                             resumed['traits'][trait])


def test_per_trait_schedule_is_the_rest_of_the_challenge_schedule():
    epochs, ends, alpha = training.fine_tuning_schedule(900, 300)
    assert (epochs, ends) == (600, (300, 600))
    assert alpha == pytest.approx(2e-5)
    assert training.fine_tuning_schedule(24, 8, epochs=4)[:2] == (4, (2, 4))


def test_rnn_training_resumes_after_sigkill(tmp_path, challenge_run):
    store, run = challenge_run
    base = os.path.join(run, 'model')
    reference = training.train_recurrent(
        store, str(tmp_path / 'reference'), base, device='@numpy',
        validate=False, progress_bar=False, **RNN)
    out = str(tmp_path / 'rnn')
    _kill_when([store, '--out', out, '--model', 'rnn', '--base', base,
                '--epochs', str(RNN['epochs']), '--batchsize', '2',
                '--frames-per-step', '2', '--snapshot-every', '1',
                '--seed', '3', '--no-validation'],
               os.path.join(out, 'snapshot_epoch_0002'))
    assert not os.path.exists(os.path.join(out, 'model'))
    resumed = training.train_recurrent(
        store, out, base, device='@numpy', validate=False,
        progress_bar=False, resume_run=True, **RNN)
    assert resumed['resumed_from'] is not None
    assert resumed['features']['clips'] == 0    # all cached already
    _assert_same_weights(reference['model'], resumed['model'])
