"""Ventura et al. (2017) on DAN+ / CAM-DAN+: training as the paper (10
frames per video, the winners' loss), through the package's trainer, run
directory, resume and commands. Tiny networks (a sixteenth of VGG-16's
channels) on 32x32 inputs: about 40 s."""

import json
import os

import numpy
import pytest

from deep_impression import _compat  # noqa: F401  (before chainer)

import chainer

from deep_impression import training
from deep_impression.data import datasets
from deep_impression.inputs import even_indices
from deep_impression.models import weights

SMALL = dict(model='cam-dan-plus', width=16, input_size=32,
             frames_per_clip=10)


def test_training_frames_are_ten_evenly_spaced_per_clip():
    t = datasets.TrainingTransform(audio_crop=8, frame_crop=4,
                                   frames_per_clip=10)
    rng = numpy.random.default_rng(0)
    drawn = {t.sample(100, 375, 8, 8, rng)['frame_index']
             for _ in range(300)}
    assert drawn == set(even_indices(375, 10).tolist())


def test_distance_loss_is_the_mean_euclidean_distance():
    from deep_impression.training.updater import DistanceRegressor

    class Fixed(chainer.Link):
        def forward(self, audio, frames):
            return chainer.Variable(frames)
    p = numpy.random.RandomState(0).rand(4, 5).astype(numpy.float32)
    y = numpy.random.RandomState(1).rand(4, 5).astype(numpy.float32)
    loss = DistanceRegressor(Fixed())(None, p, y)
    want = numpy.sqrt(((p.astype(float) - y) ** 2).sum(axis=1)).mean()
    assert abs(float(loss.array) - want) < 1e-5


@pytest.fixture(scope='module')
def small_store(synthetic_raw, tmp_path_factory):
    """The session's synthetic clips, whole frames stored at 48x48."""
    from deep_impression.data.preprocess import preprocess
    path = str(tmp_path_factory.mktemp('ventura') / 'store')
    assert not preprocess(synthetic_raw, path, jobs=2, width=48,
                          height=48)['failed']
    return path


def _train(store, run, **kwargs):
    return training.train(store, run, epochs=3, batch_size=4,
                          device='@numpy', frame_crop=48, audio_crop=4000,
                          validation_max_frames=10, loaders=0,
                          snapshot_every=1, progress_bar=False,
                          **dict(SMALL, **kwargs))


def test_cam_dan_plus_trains_resumes_and_loads(small_store, tmp_path):
    run = str(tmp_path / 'run')
    result = _train(small_store, run)
    assert sorted(result['table1']) == [1, 2, 3]
    with open(os.path.join(run, training.CONFIG_FILE)) as f:
        config = json.load(f)
    assert config['model'] == 'cam-dan-plus' and config['width'] == 16
    assert os.path.exists(os.path.join(run, 'reports', 'table1.md'))
    model = weights.load('cam-dan-plus', result['model'])
    # The mean colour came from the training frames, not VGG-Face's.
    assert not numpy.allclose(model.mean, (129.1863, 104.7624, 93.5940))
    # A finished run resumes from its last snapshot and ends unchanged.
    again = _train(small_store, run, resume_run=True)
    assert again['resumed_from'] is not None
    numpy.testing.assert_array_equal(
        weights.load('cam-dan-plus', again['model']).fc.W.array,
        model.fc.W.array)
    # Other settings refuse to resume the run.
    with pytest.raises(training.DeepImpressionError, match='width'):
        _train(small_store, run, resume_run=True, width=8)


def test_commands_take_the_new_models(small_store, tmp_path, capsys):
    from deep_impression import cli
    run = str(tmp_path / 'run')
    assert cli.main(['train', small_store, '--out', run, '--model',
                     'dan-plus', '--epochs', '3', '--batchsize', '4',
                     '--frame-crop', '48', '--audio-crop', '4000',
                     '--val-max-frames', '10', '--loaders', '0',
                     '--no-validation', '--set', 'train.width=16',
                     '--set', 'train.input_size=32',
                     '--set', 'train.frames_per_clip=10']) == 0
    model = os.path.join(run, 'model')
    assert weights.load('dan-plus', model).feature_size == 4 * 32
    assert cli.main(['evaluate', small_store, '--model', 'dan-plus',
                     '--weights', model, '--split', 'test',
                     '--max-frames', '10']) == 0
    assert 'predictions_test.csv' in capsys.readouterr().out


# -- class activation maps (paper §3.1, eq. (1)-(2)) --------------------------

def test_cam_mean_is_the_fc_input_contribution():
    """The mean of trait t's map over positions is sum_i w_ti f_i (eq. (1)
    averaged, eq. (2) before F): the model's own logit less its bias."""
    from deep_impression.interpret import cam
    from deep_impression.models.dan import CAMDANPlus
    model = CAMDANPlus(width=16, input_size=64)
    frames = numpy.random.RandomState(0).randint(
        0, 256, (3, 50, 70, 3)).astype(numpy.uint8)
    maps, features = cam.visual_maps(model, frames)
    assert maps.shape == (3, 5, 4, 4)            # conv5_3 of a 64x64 input
    x = frames.transpose(0, 3, 1, 2).astype(numpy.float32)
    with chainer.using_config('train', False):
        logits = model.logits(x).array.astype(numpy.float64)
    numpy.testing.assert_allclose(
        maps.mean(axis=(2, 3)), logits - model.fc.b.array, atol=1e-5)
    # The per-frame predictions rank frames as the model predicts them.
    traits = cam.frame_predictions(model, numpy.zeros(0, numpy.float32),
                                   features)
    numpy.testing.assert_allclose(traits, 1 / (1 + numpy.exp(-logits)),
                                  atol=1e-5)


def test_dan_plus_has_no_cam_and_says_so():
    from deep_impression.errors import InputError
    from deep_impression.interpret import cam
    from deep_impression.models.dan import DANPlus
    with pytest.raises(InputError, match='cam-dan-plus'):
        cam.visual_maps(DANPlus(width=16, input_size=32),
                        numpy.zeros((1, 32, 32, 3), numpy.uint8))


def test_vgg_fields_tile_the_frame():
    """conv5_3's positions on a resized frame: cells of 16 input pixels,
    scaled back to the frame, centred on their cell."""
    from deep_impression.interpret.networks import vgg_fields
    f = vgg_fields(64, (128, 96))['conv5_3']
    assert f.jump == (32.0, 24.0)
    # Position 0 covers input pixels 0-15, centre 7.5 -> frame centre.
    assert f.start == pytest.approx((8.0 * 2 - 0.5, 8.0 * 1.5 - 0.5))


def test_interpretation_commands_take_cam_dan_plus(small_store, tmp_path,
                                                   synthetic_raw, capsys):
    from deep_impression import cli
    from deep_impression.models.dan import CAMDANPlus
    model = CAMDANPlus(width=16, input_size=32)
    path = str(tmp_path / 'model')
    weights.save_weights(model, path)
    common = ['--model', 'cam-dan-plus', '--weights', path, '--store',
              small_store, '--split', 'train', '--frames-per-clip', '2',
              '--top', '3']
    out = str(tmp_path / 'units')
    assert cli.main(['units'] + common + ['--out', out, '--layers',
                                          'conv5_3']) == 0
    with open(os.path.join(out, 'units.json')) as f:
        data = json.load(f)
    assert data['layers']['conv5_3']['grid'] == [2, 2]
    assert set(data['regions']) == {'eyebrows', 'eyes', 'nose', 'mouth'}
    out = str(tmp_path / 'overlap')
    assert cli.main(['face-overlap'] + common + ['--out', out]) == 0
    assert os.path.exists(os.path.join(out, 'face_overlap.json'))
    import glob
    video = sorted(glob.glob(os.path.join(synthetic_raw, 'test', '*',
                                          '*.mp4')))[0]
    out = str(tmp_path / 'explain')
    assert cli.main(['explain', video, '--model', 'cam-dan-plus',
                     '--weights', path, '--frames', '2', '--out', out]) == 0
    pngs = sorted(os.listdir(out))
    assert len(pngs) == 6 and not any('audio' in p for p in pngs), pngs
    # DAN+ has no maps: one line, exit status 1, before any video is read.
    dan_path = str(tmp_path / 'dan')
    from deep_impression.models.dan import DANPlus
    weights.save_weights(DANPlus(width=16, input_size=32), dan_path)
    assert cli.main(['explain', video, '--model', 'dan-plus', '--weights',
                     dan_path, '--out', out]) == 1
    assert 'cam-dan-plus' in capsys.readouterr().err


# -- the synthetic stand-in with faces ---------------------------------------

def test_face_clips_carry_known_movements_and_openface_csvs(tmp_path):
    from deep_impression import media
    from deep_impression.data import synth, synth_faces
    from deep_impression.interpret import openface
    from deep_impression.interpret.faces import FaceDetector
    raw = str(tmp_path / 'raw')
    clips = synth.make_dataset(raw, train=2, val=0, test=0, seconds=1.0,
                               size=(320, 180), fps=25, seed=3, look='face')
    clip = clips[0]
    # Labels follow the face mixing, face features after the others.
    f = numpy.concatenate([clip['features'], clip['face_features']])
    z = synth.FACE_MIXING @ f
    assert numpy.corrcoef(z, clip['labels'])[0, 1] > 0.5
    # The CSV holds the true intensities: AU12 = 4 x smile, AU45 = 4 x
    # blink, AU26 = 3.5 x jaw; AUs no movement stands for stay 0.
    track = openface.read_csv(openface.find_csv(
        os.path.join(raw, 'openface'), clip['name']), require_aus=True)
    assert track.au.shape == (25, 17)
    au = dict(zip(openface.AUS, track.au.T))
    assert (au['AU04'] == 0).all() and (au['AU15'] == 0).all()
    assert au['AU12'].min() >= 4.0 * (clip['face_features'][0] + 1) / 2 \
        - 4.0 * 0.15 - 0.01
    assert (au['AU01'] == au['AU02']).all()
    # Smiling more lifts the mouth corners in the picture: the drawn face
    # differs where the mouth is.
    a = synth_faces.draw_face(numpy.zeros((100, 100, 3), numpy.uint8),
                              50, 50, 30, smile=0.0)
    b = synth_faces.draw_face(numpy.zeros((100, 100, 3), numpy.uint8),
                              50, 50, 30, smile=1.0)
    rows = numpy.nonzero((a != b).any(axis=(1, 2)))[0]
    assert rows.min() > 50 + 0.3 * 30                    # below the nose
    # The package's detector finds the face in sampled frames.
    frames = numpy.concatenate(list(media.iter_frames(clip['path'])))
    d = FaceDetector()
    assert sum(d.face(x) is not None for x in frames[::5]) >= 4


def test_ellipse_look_is_unchanged():
    from deep_impression.data import synth
    a = synth.plan(3, 1, 1, seed=5)
    b = synth.plan(3, 1, 1, seed=5, look='face')
    for x, y in zip(a, b):
        numpy.testing.assert_array_equal(x['features'], y['features'])
        assert x['face_features'] is None and y['face_features'] is not None
    # The ellipse look's labels: MIXING of the five features, as before.
    with pytest.raises(Exception, match='look'):
        synth.plan(1, 0, 0, look='cartoon')


def test_ventura_quick_config_loads_with_every_setting_the_script_reads():
    config = training.load_config(os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        'experiments', 'configs', 'ventura-quick.json'))
    t = config['train']
    assert t['model'] == 'cam-dan-plus' and t['frames_per_clip'] == 10
    assert t['frame_crop'] == config['preprocess']['width'] == \
        config['preprocess']['height']          # the crop is the frame
    assert config['synth']['seconds'] * config['ventura']['store_fps'] == 10
    for key in ('face_size', 'wide_size', 'overlap_top', 'units_top',
                'au_top'):
        assert key in config['ventura']
    assert 'GFLOP' in config['about']
