"""One configuration mechanism: the JSON files of experiments/configs, read
by ``experiments/reproduce.py`` and ``deep-impression train --config``, with
``--set section.key=value`` overrides; the run's config.json records the
result."""

import json
import os
import subprocess
import sys

import pytest

from deep_impression import training
from deep_impression.errors import InputError

CONFIGS = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'experiments', 'configs')
PAPER = os.path.join(CONFIGS, 'paper.json')
QUICK = os.path.join(CONFIGS, 'quick.json')


def test_paper_configuration_is_the_papers_recipe():
    # Güçlütürk et al. 2016, §2.2-2.3 and §3: 456x256 frames, batches of
    # 32, 900 epochs, 50176-sample audio crops, 224x224 frame crops, every
    # frame of a validation clip, Adam's alpha 2e-4.
    c = training.load_config(PAPER)
    assert c['preprocess'] == dict(width=456, height=256)
    t = c['train']
    assert (t['epochs'], t['batch_size'], t['audio_crop'],
            t['frame_crop'], t['validation_max_frames'], t['alpha']) == (
        900, 32, 50176, 224, None, 2e-4)
    assert c['evaluate']['max_frames'] is None
    # The synthetic stand-in at the challenge's size: 15-s 1280x720 clips.
    assert (c['synth']['seconds'], c['synth']['size']) == (15.0, [1280, 720])
    # The defaults are the same recipe.
    assert training.default_config()['train'] == dict(t, loaders=2)


def test_overrides_are_applied_in_order_and_typed():
    c = training.load_config(QUICK, ['train.epochs=3', 'synth.seconds=15',
                                     'synth.size=[1280, 720]',
                                     'train.validation_max_frames=null',
                                     'train.epochs=4'], seed=7)
    assert c['train']['epochs'] == 4
    assert c['synth']['seconds'] == 15
    assert c['synth']['size'] == [1280, 720]
    assert c['train']['validation_max_frames'] is None
    assert c['train']['seed'] == 7
    with open(QUICK) as f:
        stored = json.load(f)
    # What the override does not name comes from the file.
    assert c['train']['batch_size'] == stored['train']['batch_size']
    assert c['source'] == os.path.abspath(QUICK)


@pytest.mark.parametrize('override, message', [
    ('train.epoch=3', "unknown setting 'train.epoch'"),
    ('trian.epochs=3', "unknown setting 'trian'"),
    ('train.epochs', 'expected KEY=VALUE'),
])
def test_bad_overrides_are_named(override, message):
    with pytest.raises(InputError, match=message):
        training.load_config(QUICK, [override])


def test_unreadable_configuration_is_named(tmp_path):
    path = tmp_path / 'broken.json'
    path.write_text('{"train": ')
    with pytest.raises(InputError, match='broken.json: cannot read'):
        training.load_config(str(path))


def test_train_command_reads_the_same_files(tmp_path, synthetic_store):
    # deep-impression train --config quick.json with overrides and a flag:
    # the run's config.json holds the settings it ran with.
    run = str(tmp_path / 'run')
    cmd = [sys.executable, '-m', 'deep_impression', 'train', synthetic_store,
           '--out', run, '--config', QUICK, '--set', 'train.epochs=3',
           '--set', 'train.audio_crop=1024', '--set', 'train.frame_crop=32',
           '--batchsize', '2', '--device', '@numpy', '--no-validation']
    done = subprocess.run(cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=300)
    assert done.returncode == 0, done.stdout.decode()[-2000:]
    with open(os.path.join(run, training.CONFIG_FILE)) as f:
        recorded = json.load(f)
    assert (recorded['epochs'], recorded['batch_size'],
            recorded['audio_crop'], recorded['frame_crop']) == (3, 2, 1024, 32)
    with open(QUICK) as f:
        quick = json.load(f)
    assert recorded['validation_max_frames'] == (
        quick['train']['validation_max_frames'])
    experiment = recorded['experiment']
    assert experiment['source'] == os.path.abspath(QUICK)
    assert experiment['train']['batch_size'] == 2
    assert experiment['synth'] == quick['synth']


def test_quick_whole_clips_have_the_crops_geometry():
    # The quick configuration validates on whole clips (§2.3) what it
    # trained on crops; at its small sizes it keeps the two alike, so that
    # the residual network's last feature maps have the same positions
    # (whole 228x128 frames and 1.5-s clips had 5x8 and 24 against the
    # crops' 4x4 and 13, and lost 0.027-0.054 validation accuracy).
    from deep_impression.constants import SAMPLE_RATE
    from deep_impression.models.audiovisual import AudiovisualNetwork
    sys.path.insert(0, os.path.dirname(CONFIGS))
    from whole_clip_gap import map_length as _last_map
    c = training.load_config(QUICK)
    t, p = c['train'], c['preprocess']
    net = AudiovisualNetwork()
    whole_samples = int(round(c['synth']['seconds'] * SAMPLE_RATE))
    assert whole_samples >= t['audio_crop']
    assert (_last_map(net.aud, (1, 1, t['audio_crop']))
            == _last_map(net.aud, (1, 1, whole_samples)))
    assert p['height'] >= t['frame_crop'] and p['width'] >= t['frame_crop']
    assert (_last_map(net.vis, (3, t['frame_crop'], t['frame_crop']))
            == _last_map(net.vis, (3, p['height'], p['width'])))
    # The test is not vacuous: the previous sizes differ.
    assert (_last_map(net.vis, (3, 112, 112))
            != _last_map(net.vis, (3, 128, 228)))
    assert (_last_map(net.aud, (1, 1, 12544))
            != _last_map(net.aud, (1, 1, 24000)))
