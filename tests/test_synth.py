"""The synthetic release looks like the challenge's and its labels are
learnable from the picture and from the sound."""

import filecmp
import glob
import json
import os
import pickle
import subprocess

import numpy

from deep_impression.data import chalearn, synth
from deep_impression import media
from deep_impression.constants import TRAITS

from conftest import SYNTHETIC


def _clips(root):
    return sorted(glob.glob(os.path.join(root, '**', '*.mp4'),
                            recursive=True))


def test_layout_names_and_pickles(synthetic_raw):
    clips = _clips(synthetic_raw)
    assert len(clips) == SYNTHETIC['train'] + SYNTHETIC['val'] + \
        SYNTHETIC['test']
    folders = {os.path.relpath(os.path.dirname(c), synthetic_raw)
               for c in clips}
    assert folders == {os.path.join('train', 'training80_01'),
                       os.path.join('validation', 'validation80_01'),
                       os.path.join('test', 'test80_01')}
    names = {}
    for path in clips:
        name = os.path.basename(path)
        assert chalearn.CLIP_NAME.match(name), name
        names[name] = os.path.basename(os.path.dirname(path))
    for split, n in (('train', 6), ('validation', 2), ('test', 2)):
        path = os.path.join(synthetic_raw, chalearn.ANNOTATION_FILES[split])
        with open(path, 'rb') as f:
            table = pickle.load(f, encoding='latin1')
        assert set(table) == set(TRAITS) | {'interview'}
        for key, values in table.items():
            assert len(values) == n
            assert all(0.0 <= float(v) <= 1.0 for v in values.values())
            prefix = {'train': 'training', 'validation': 'validation',
                      'test': 'test'}[split]
            assert all(names[name].startswith(prefix) for name in values)


def test_clips_are_h264_aac_at_the_asked_size(synthetic_raw):
    path = _clips(synthetic_raw)[0]
    info = media.probe(path)
    assert (info.width, info.height) == SYNTHETIC['size']
    assert abs(info.fps - SYNTHETIC['fps']) < 1e-6
    assert abs(info.duration - SYNTHETIC['seconds']) < 0.1
    text = subprocess.run([media.ffmpeg_exe(), '-hide_banner', '-i', path],
                          stderr=subprocess.PIPE).stderr.decode()
    assert 'Video: h264' in text and 'Audio: aac' in text


def test_same_seed_same_bytes(tmp_path):
    kwargs = dict(train=1, val=0, test=1, seconds=0.5, size=(64, 36), fps=30)
    a = synth.make_dataset(str(tmp_path / 'a'), seed=3, **kwargs)
    synth.make_dataset(str(tmp_path / 'b'), seed=3, **kwargs)
    c = synth.make_dataset(str(tmp_path / 'c'), seed=4, **kwargs)
    files = [os.path.relpath(p, str(tmp_path / 'a'))
             for p in _clips(str(tmp_path / 'a'))] + [
        'annotation_training.pkl', 'annotation_test.pkl']
    match, mismatch, errors = filecmp.cmpfiles(
        str(tmp_path / 'a'), str(tmp_path / 'b'), files, shallow=False)
    assert match == files and not mismatch and not errors
    assert [x['name'] for x in a] != [x['name'] for x in c]


def _r2(x, y):
    design = numpy.column_stack([x, numpy.ones(len(x))])
    coef = numpy.linalg.lstsq(design, y, rcond=None)[0]
    residual = y - design @ coef
    return 1.0 - residual.var(axis=0) / y.var(axis=0)


def test_labels_need_both_streams():
    clips = synth.plan(train=3000, val=0, test=0, seed=1)
    x = numpy.array([c['features'] for c in clips])
    y = numpy.array([c['labels'] for c in clips])
    visual = [synth.FEATURES.index(f) for f in synth.VISUAL_FEATURES]
    audio = [synth.FEATURES.index(f) for f in synth.AUDIO_FEATURES]
    r2_visual, r2_audio, r2_both = _r2(x[:, visual], y), _r2(x[:, audio], y), \
        _r2(x, y)
    # Wide labels, mostly explained by the inputs...
    assert numpy.all(numpy.abs(y.std(axis=0) - 0.15) < 0.02)
    assert numpy.all(r2_both > 0.8)
    # ... by neither stream alone, the picture carrying most.
    assert numpy.all(r2_visual < 0.85) and numpy.all(r2_audio < 0.6)
    assert numpy.all(r2_audio > 0.05) and r2_visual.mean() > 0.45


def test_media_carry_the_features(synthetic_raw):
    with open(os.path.join(synthetic_raw, 'synth_info.json')) as f:
        info = json.load(f)
    brightness, measured = [], []
    for clip in info['clips']:
        folder = {'train': 'train', 'validation': 'validation',
                  'test': 'test'}[clip['split']]
        path = os.path.join(synthetic_raw, folder, clip['folder'],
                            clip['name'])
        audio = media.decode_audio(path, sample_rate=16000)
        # Pitch: the strongest spectral peak below 400 Hz (the fundamental
        # carries the most energy) against the feature's frequency.
        spectrum = numpy.abs(numpy.fft.rfft(audio * numpy.hanning(audio.size)))
        freqs = numpy.fft.rfftfreq(audio.size, 1 / 16000)
        band = (freqs > 60) & (freqs < 400)
        peak = freqs[band][numpy.argmax(spectrum[band])]
        expected = synth.pitch_hz(clip['features']['pitch'])
        assert abs(peak - expected) / expected < 0.05, (peak, expected)
        frame = media.read_frames(path, width=160, height=90)[0]
        measured.append(frame[:10, :10].astype(float).mean())
        brightness.append(clip['features']['brightness'])
    assert numpy.corrcoef(brightness, measured)[0, 1] > 0.9
