"""Every model of ``--model`` runs through ``predict``, on the command line
and from Python (issue 23, item 5: ``per-trait`` and ``rnn`` crashed on
``predict(..., on_frames=...)``), and gives what the model's own parts
compute for the same clip."""

import csv
import json
import os

import numpy
import pytest

from deep_impression import media
from deep_impression.cli import main
from deep_impression.constants import SAMPLE_RATE, TRAITS
from deep_impression.inference.predict import predict_video
from deep_impression.models import weights
from deep_impression.models.per_trait import trait_weights_path
from deep_impression.models.recurrent import RecurrentHead

import clips
import reference

#: Frames per clip for the per-trait ensemble (five networks: kept short).
PER_TRAIT_FRAMES = 1
#: Frames per second the RNN's features use (the middle of each half).
RNN_FRAMES_PER_STEP = 2


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """A clip, a per-trait run directory and an RNN run directory (with
    2 evenly spaced frames per 1-s time point, to keep it fast), all of
    random weights."""
    d = tmp_path_factory.mktemp('models')
    clip = clips.make_clip(d / 'person.mp4', seconds=1.1)
    params = reference.random_release_weights(seed=20)
    per_trait = d / 'per_trait'
    for k, trait in enumerate(TRAITS):
        # Five different networks: their own fc row and visual BN shift.
        own = dict(params, **{'fc/W': params['fc/W'][k:k + 1],
                              'fc/b': params['fc/b'][k:k + 1]})
        key = 'vis/conv1_relu/bn_conv/beta'
        own[key] = params[key] + numpy.float32(0.5 * k)
        path = trait_weights_path(str(per_trait), trait)
        os.makedirs(os.path.dirname(path))
        reference.write_release_file(path, own, compress=False)
    rnn = d / 'rnn'
    base = reference.write_release_file(str(d / 'base'), params,
                                        compress=False)
    numpy.random.seed(31)
    weights.save_weights(RecurrentHead(), str(rnn / 'model'))
    (rnn / 'config.json').write_text(json.dumps(dict(
        base=base, step_seconds=1.0, frames_per_step=RNN_FRAMES_PER_STEP)))
    return clip, str(per_trait), str(rnn), base


def _csv_traits(path):
    with open(path, encoding='utf-8') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1
    return numpy.array([float(rows[0][t]) for t in TRAITS])


def test_per_trait_predicts_each_trait_with_its_own_network(runs, tmp_path):
    clip, run, _, _ = runs
    ensemble = weights.load('per-trait', run)
    from_python = predict_video(clip, ensemble, max_frames=PER_TRAIT_FRAMES)
    # Each trait is its own one-output network's prediction of the clip:
    # all of its audio and its middle frame.
    audio = media.load_clip_audio(clip)
    frames = media.read_frames(clip)
    middle = frames[[len(frames) // 2]]
    own = [network.predict(audio, middle)[0] for network in ensemble]
    numpy.testing.assert_allclose(from_python, own, atol=1e-6)
    out = str(tmp_path / 'traits.csv')
    assert main(['predict', clip, '--model', 'per-trait', '--weights', run,
                 '--max-frames', str(PER_TRAIT_FRAMES), '--output', out]) == 0
    numpy.testing.assert_allclose(_csv_traits(out), own, atol=1e-5)


def test_rnn_predicts_the_mean_of_its_per_second_outputs(runs, tmp_path):
    clip, _, run, base = runs
    model = weights.load('rnn', run)
    from_python = predict_video(clip, model)
    # By hand: the 1.1-s clip has one whole second: the challenge network's
    # pooled audio features of its 16000 samples beside the mean visual
    # features of 2 of its 25 frames, the middle of each half (6 and 18);
    # the head's output there, clipped to [0, 1].
    network = weights.load_model(base)
    audio = media.load_clip_audio(clip)
    frames = media.read_frames(clip)
    step = numpy.concatenate([
        network.audio_features(audio[:SAMPLE_RATE]),
        numpy.asarray(network.frame_features(frames[[6, 18]]),
                      dtype=numpy.float64).mean(axis=0)]).astype(
                          numpy.float32)
    expected = numpy.clip(model.head.predict_sequence(step[None])[0], 0, 1)
    numpy.testing.assert_allclose(from_python, expected, atol=1e-5)
    out = str(tmp_path / 'traits.json')
    assert main(['predict', clip, '--model', 'rnn', '--weights', run,
                 '--output', out]) == 0
    with open(out, encoding='utf-8') as f:
        rows = json.load(f)
    numpy.testing.assert_allclose([rows[0][t] for t in TRAITS], expected,
                                  atol=1e-5)
