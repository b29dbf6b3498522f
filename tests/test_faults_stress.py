"""Odd names, damaged store files and bad training values from issue 23's
stress run (items 8, 9, 10 and 14): each ends in correct output or in one
line naming the file or the flag, before any work, with nothing lost."""

import csv
import os
import shutil

import numpy
import pytest

from deep_impression import cli
from deep_impression.constants import TRAITS
from deep_impression.data import store
from deep_impression.data.features import FeatureCache, SequenceDataset
from deep_impression.errors import DeepImpressionError

import clips
import reference


@pytest.fixture(scope='module')
def weights_file(tmp_path_factory):
    return reference.write_release_file(
        str(tmp_path_factory.mktemp('weights') / 'model'),
        reference.random_release_weights(seed=5), compress=False)


# -- 8. a file name that is not UTF-8 -----------------------------------------

def test_latin1_name_gets_its_row_and_the_next_video_too(tmp_path,
                                                         weights_file,
                                                         capsys):
    clip = clips.make_clip(tmp_path / 'clip.mp4', seconds=1.1)
    latin1 = os.path.join(str(tmp_path), os.fsdecode(b'caf\xe9.mp4'))
    shutil.copy(clip, latin1)
    after = os.path.join(str(tmp_path), 'next.mp4')
    shutil.copy(clip, after)
    out = str(tmp_path / 'x.csv')
    args = ['predict', latin1, after, '--weights', weights_file,
            '--max-frames', '1', '--output', out]
    assert cli.main(args) == 0
    with open(out, 'rb') as f:
        data = f.read()
    # The row names the file by its own bytes.
    assert os.fsencode(latin1) + b',' in data
    with open(out, encoding='utf-8', errors='surrogateescape') as f:
        rows = list(csv.DictReader(f))
    assert [r['video'] for r in rows] == [latin1, after]
    assert rows[0][TRAITS[0]] == rows[1][TRAITS[0]]   # the same clip
    # Read back, the name is the same: a second run skips both.
    capsys.readouterr()
    assert cli.main(args) == 0
    assert '2 of 2 videos already in' in capsys.readouterr().err


# -- 9. a truncated .frames file in the store ---------------------------------

def test_truncated_frames_file_is_one_line_in_evaluate(
        tmp_path, synthetic_store, weights_file, capsys, caplog):
    root = str(tmp_path / 'store')
    shutil.copytree(synthetic_store, root)
    clip_id = store.ClipStore(root).clip_ids('validation')[0]
    path = store.frames_path(root, clip_id)
    with open(path, 'r+b') as f:
        f.truncate(100)
    with pytest.raises(DeepImpressionError) as e:
        store.ClipStore(root).frames(clip_id, [0])
    assert str(e.value) == '{}: truncated frames file'.format(path)
    status = cli.main(['evaluate', root, '--weights', weights_file,
                       '--split', 'validation', '--max-frames', '1'])
    err = capsys.readouterr().err
    assert status == 0, err    # the other clip is evaluated
    assert 'Traceback' not in err and 'ValueError' not in err
    # One warning line (the log; the command line prints it) names it.
    assert [r.getMessage() for r in caplog.records if path in
            r.getMessage()] == [
        'evaluation: skipping clip {}: {}: truncated frames file'.format(
            clip_id, path)]


# -- 10. an RNN feature-cache file of the wrong shape -------------------------

def test_cached_features_of_the_wrong_shape_are_one_line(tmp_path,
                                                         synthetic_store,
                                                         weights_file):
    cache = FeatureCache(synthetic_store, weights_file)
    cache.root = str(tmp_path / 'features')   # not inside the shared store
    os.makedirs(cache.root)
    dataset = SequenceDataset(cache, 'train')
    clip_id = dataset.clip_ids[0]
    for bad in (numpy.zeros((3, 7), numpy.float32),
                numpy.zeros((3, 512), numpy.float64),
                numpy.zeros(512, numpy.float32)):
        numpy.save(cache.path(clip_id), bad)
        with pytest.raises(DeepImpressionError) as e:
            dataset[0]
        assert str(e.value) == (
            '{}: cached features are {} {}, expected (T, 512) float32; '
            'remove it to compute it again'.format(
                cache.path(clip_id), bad.dtype, bad.shape))
    good = numpy.ones((3, 512), numpy.float32)
    numpy.save(cache.path(clip_id), good)
    numpy.testing.assert_array_equal(dataset[0][0], good)


# -- 14. bad training values: refused before any work -------------------------

@pytest.mark.parametrize('alpha', ['-1', 'nan', 'inf', '0'])
def test_alpha_that_is_not_positive_and_finite_is_a_usage_error(
        tmp_path, alpha, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(['train', str(tmp_path), '--out', str(tmp_path / 'run'),
                  '--alpha=' + alpha])
    assert e.value.code == 2
    assert "--alpha: expected a positive finite number, got '{}'".format(
        alpha) in capsys.readouterr().err
    assert not os.path.exists(str(tmp_path / 'run'))


def _train_fails(args, capsys):
    assert cli.main(['train'] + args + ['--device', '@numpy',
                                        '--no-validation']) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and 'Traceback' not in err
    return err


def test_alpha_set_in_a_configuration_is_checked_too(tmp_path,
                                                     synthetic_store, capsys):
    run = str(tmp_path / 'run')
    err = _train_fails([synthetic_store, '--out', run, '--set',
                        'train.alpha=-1'], capsys)
    assert "alpha: Adam's alpha must be a positive finite number, got -1" \
        in err
    assert not os.path.exists(os.path.join(run, 'config.json'))


def test_batch_larger_than_the_training_set_is_refused(tmp_path,
                                                       synthetic_store,
                                                       weights_file, capsys):
    clips_in_store = len(store.ClipStore(synthetic_store).clip_ids('train'))
    run = str(tmp_path / 'run')
    err = _train_fails([synthetic_store, '--out', run, '--batchsize',
                        '100000'], capsys)
    assert err == (
        'deep-impression: error: {}: --batchsize 100000 is larger than its '
        '{} training clips (one update would span several epochs); use '
        '--batchsize {} or fewer\n'.format(synthetic_store, clips_in_store,
                                           clips_in_store))
    assert not os.path.exists(os.path.join(run, 'config.json'))
    # The RNN's default batch (32) on this store: refused before its
    # features are computed.
    cache_root = FeatureCache(synthetic_store, weights_file).root
    err = _train_fails([synthetic_store, '--out', run, '--model', 'rnn',
                        '--base', weights_file], capsys)
    assert '--batchsize 32 is larger than its {} training clips'.format(
        clips_in_store) in err
    assert not os.path.exists(cache_root)
    assert not os.path.exists(os.path.join(run, 'config.json'))


def test_batch_a_few_times_the_training_set_is_a_warning(capsys):
    """Up to MAX_EPOCHS_PER_UPDATE epochs per update (the paper-scale test's
    32 over 8 clips) is allowed with one warning line; one more clip's worth
    is refused."""
    from deep_impression.errors import InputError
    from deep_impression.training.config import (MAX_EPOCHS_PER_UPDATE,
                                                 check_batch_size)
    assert check_batch_size(8, 8, 'store') == 8
    assert capsys.readouterr().err == ''
    assert check_batch_size(4 * 8, 8, 'store') == 32
    assert capsys.readouterr().err == (
        'deep-impression: warning: store: --batchsize 32 is larger than its '
        '8 training clips: one update spans 4 epochs\n')
    with pytest.raises(InputError, match='--batchsize 33 is larger'):
        check_batch_size(MAX_EPOCHS_PER_UPDATE * 8 + 1, 8, 'store')
