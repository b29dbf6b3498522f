"""A training run killed with SIGKILL continues with --resume from its last
snapshot, and ends exactly where an uninterrupted run ends; loader
processes draw the same crops as the training process (each example's
crops are seeded from the run's seed, the epoch and the example)."""

import json
import os
import signal
import sys

import numpy
import pytest

from deep_impression import training

from processes import kill_when, snapshot_path

# Tiny crops, batches of 2 (3 updates per epoch on the 6 training clips),
# snapshots after epochs 2, 4 and 6 (the thirds); the reference run loads
# examples in the training process (loaders=0).
SETTINGS = dict(epochs=6, batch_size=2, audio_crop=1024, frame_crop=32,
                snapshot_every=2, loaders=0, seed=3)
#: The interrupted run: two loader processes.
LOADERS = dict(SETTINGS, loaders=2)


def _cli_args(store, run):
    s = LOADERS
    return [sys.executable, '-m', 'deep_impression', 'train', store,
            '--out', run, '--epochs', str(s['epochs']),
            '--batchsize', str(s['batch_size']),
            '--audio-crop', str(s['audio_crop']),
            '--frame-crop', str(s['frame_crop']),
            '--snapshot-every', str(s['snapshot_every']),
            '--loaders', str(s['loaders']), '--seed', str(s['seed']),
            '--device', '@numpy', '--no-validation']


def _weights(path):
    with numpy.load(path) as npz:
        return {k: npz[k] for k in npz.files}


def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path,
                                                          synthetic_store):
    # The uninterrupted run.
    reference = str(tmp_path / 'reference')
    done = training.train(synthetic_store, reference, device='@numpy',
                          validate=False, progress_bar=False, **SETTINGS)

    # The same run with two loader processes, in its own process group,
    # killed with SIGKILL right after it has written the snapshot of epoch 2.
    run = str(tmp_path / 'run')
    proc = kill_when(_cli_args(synthetic_store, run),
                     snapshot_path(run, 2), 240)
    assert proc.returncode == -signal.SIGKILL
    assert not os.path.exists(os.path.join(run, training.MODEL_FILE))
    last = training.list_snapshots(run)[-1]
    assert last == snapshot_path(run, 2)

    # Resuming continues from that snapshot ...
    resumed = training.train(synthetic_store, run, device='@numpy',
                             validate=False, progress_bar=False,
                             resume_run=True, **LOADERS)
    assert resumed['resumed_from'] == last
    # ... with the same epochs logged once each ...
    with open(os.path.join(run, 'log')) as f:
        log = json.load(f)
    assert [e['epoch'] for e in log] == list(range(1, 7))
    assert [e['iteration'] for e in log] == [3 * k for k in range(1, 7)]
    # ... the same learning rate in each epoch ...
    with open(os.path.join(reference, 'log')) as f:
        reference_log = json.load(f)
    assert [e['alpha'] for e in log] == pytest.approx(
        [e['alpha'] for e in reference_log], rel=1e-9)
    # ... and exactly the same weights in the end (same optimizer state,
    # example order and crops), as the training guide says.
    a = _weights(done['model'])
    b = _weights(resumed['model'])
    assert sorted(a) == sorted(b)
    for key in a:
        numpy.testing.assert_array_equal(b[key], a[key], err_msg=key)


def test_loader_processes_give_the_same_weights(tmp_path, synthetic_store):
    # Twice with two loader processes, once in the training process: the
    # crops do not depend on which process draws them.
    runs = [training.train(synthetic_store, str(tmp_path / name),
                           device='@numpy', validate=False,
                           progress_bar=False,
                           **dict(SETTINGS, epochs=3, loaders=loaders))
            for name, loaders in (('a', 2), ('b', 2), ('c', 0))]
    weights = [_weights(r['model']) for r in runs]
    for key in weights[0]:
        for other in weights[1:]:
            numpy.testing.assert_array_equal(other[key], weights[0][key],
                                             err_msg=key)


def test_resume_with_other_settings_is_refused(tmp_path, synthetic_store):
    run = str(tmp_path / 'run')
    settings = dict(SETTINGS, epochs=3)
    training.train(synthetic_store, run, device='@numpy', validate=False,
                   progress_bar=False, **settings)
    settings['batch_size'] = 3
    with pytest.raises(training.DeepImpressionError, match='batch_size'):
        training.train(synthetic_store, run, device='@numpy',
                       validate=False, progress_bar=False, resume_run=True,
                       **settings)
