"""Decoding with the bundled ffmpeg, and predict_video on whole files."""

import os

import numpy
import pytest

from deep_impression import media
from deep_impression.constants import SAMPLE_RATE
from deep_impression.errors import MediaError
from deep_impression.inference.predict import predict_video
from deep_impression.models.weights import load_model

import clips
import reference


@pytest.fixture(scope='module')
def clip(tmp_path_factory):
    # 1.2 s at 30 fps, 44.1 kHz: decoding must resample both.
    return clips.make_clip(tmp_path_factory.mktemp('media') / 'clip.mp4',
                           seconds=1.2, size=(320, 180), fps=30)


@pytest.fixture(scope='module')
def net(tmp_path_factory):
    path = tmp_path_factory.mktemp('w') / 'model'
    reference.write_release_file(str(path),
                                 reference.random_release_weights(seed=7))
    return load_model(str(path))


def test_audio_is_16khz_mono_float32_in_range(clip):
    audio = media.decode_audio(clip)
    assert audio.dtype == numpy.float32 and audio.ndim == 1
    # 1.2 s at 16 kHz; AAC adds at most a frame of priming/padding.
    assert abs(audio.size - 19200) <= 1024
    assert -1 <= audio.min() and audio.max() <= 1
    # The 220 Hz tone survives resampling: its spectrum peaks there.
    segment = audio[2000:18000]
    spectrum = numpy.abs(numpy.fft.rfft(segment))
    peak_hz = numpy.argmax(spectrum) * 16000 / len(segment)
    assert abs(peak_hz - 220) < 3


def test_frames_are_456x256_rgb_at_25_fps(clip):
    chunks = list(media.iter_frames(clip, chunk=8))
    assert all(c.dtype == numpy.uint8 and c.shape[1:] == (256, 456, 3)
               for c in chunks)
    assert all(len(c) == 8 for c in chunks[:-1])
    assert sum(len(c) for c in chunks) == 30  # 1.2 s x 25 frames/s


def test_probe_reports_tracks(clip):
    info = media.probe(clip)
    assert info.has_audio and info.has_video
    assert (info.width, info.height) == (320, 180)
    assert abs(info.duration - 1.2) < 0.1


def _count_probes(monkeypatch):
    probes = []
    run = media.run_ffmpeg

    def counting(args, path, **kwargs):
        if list(args[:1]) == ['-i'] and len(args) == 2:
            probes.append(path)
        return run(args, path, **kwargs)
    monkeypatch.setattr(media, 'run_ffmpeg', counting)
    return probes


def test_predict_video_probes_a_file_once(tmp_path, net, monkeypatch):
    # The frames' decoder, the audio's and max_frames' frame count each
    # need the file's streams and duration: one ffmpeg probe serves them.
    path = clips.make_clip(tmp_path / 'once.mp4', seconds=1.2,
                           size=(160, 90), fps=30)
    probes = _count_probes(monkeypatch)
    first = predict_video(path, net, max_frames=3)
    assert probes == [str(path)]
    # Asked again, the unchanged file is not probed again.
    assert numpy.array_equal(predict_video(path, net, max_frames=3), first)
    assert probes == [str(path)]


def test_a_replaced_file_is_probed_again(tmp_path, monkeypatch):
    path = str(clips.make_clip(tmp_path / 'clip.mp4', seconds=1.2,
                               size=(160, 90), fps=30))
    other = clips.make_clip(tmp_path / 'other.mp4', seconds=2.0,
                            size=(320, 180), fps=30)
    assert (media.probe(path).width, media.probe(path).height) == (160, 90)
    probes = _count_probes(monkeypatch)
    os.replace(str(other), path)
    info = media.probe(path)
    assert probes == [path]
    assert (info.width, info.height) == (320, 180)
    assert abs(info.duration - 2.0) < 0.1


def test_predict_video_equals_predict_on_decoded_arrays(clip, net):
    got = predict_video(clip, net)
    want = net.predict(media.decode_audio(clip), media.read_frames(clip))
    numpy.testing.assert_allclose(got, want, atol=1e-6)
    assert got.shape == (5,)


def test_missing_file(tmp_path, net):
    with pytest.raises(MediaError, match='nope.mp4: no such file'):
        predict_video(str(tmp_path / 'nope.mp4'), net)


@pytest.mark.parametrize('make', ['fifo', 'device'])
def test_a_fifo_or_device_is_named_not_empty(tmp_path, net, make):
    """A FIFO would block ffmpeg and /dev/zero never ends: both are refused
    before ffmpeg starts, with what they are (issue 23, item 6)."""
    path = str(tmp_path / 'clip.mp4')
    if make == 'fifo':
        os.mkfifo(path)
    else:
        os.symlink('/dev/zero', path)
    with pytest.raises(MediaError) as e:
        predict_video(path, net)
    assert str(e.value).startswith(path + ': not a regular file (a ')
    assert ('FIFO' if make == 'fifo' else 'character device') in str(e.value)


def test_not_a_media_file(tmp_path, net):
    path = tmp_path / 'notes.mp4'
    path.write_text('this is not a video\n' * 50)
    with pytest.raises(MediaError, match='notes.mp4: not a media file'):
        predict_video(str(path), net)


def test_truncated_file(tmp_path, clip, net):
    data = open(clip, 'rb').read()
    path = tmp_path / 'cut.mp4'
    path.write_bytes(data[:len(data) // 3])
    with pytest.raises(MediaError, match='cut.mp4'):
        predict_video(str(path), net)


def test_no_audio_track(tmp_path, net):
    path = clips.make_clip(tmp_path / 'silent.mp4', seconds=1.2, audio=False)
    with pytest.raises(MediaError, match='silent.mp4: no audio track'):
        predict_video(path, net)


def test_too_little_audio(tmp_path, net):
    path = clips.make_clip(tmp_path / 'short.mp4', seconds=0.5)
    with pytest.raises(MediaError, match=r'short.mp4: only 0\.\d+ s of audio'):
        predict_video(path, net)


def test_no_decodable_frame(tmp_path, net):
    path = clips.make_clip(tmp_path / 'voice.m4a', seconds=1.5, video=False)
    with pytest.raises(MediaError, match='voice.m4a: no video track'):
        predict_video(path, net)


def test_empty_file(tmp_path, net):
    path = tmp_path / 'empty.mp4'
    path.write_bytes(b'')
    with pytest.raises(MediaError, match='empty.mp4: empty file'):
        predict_video(str(path), net)


def test_stereo_is_the_mean_of_its_channels(tmp_path):
    # As the release's librosa.load made mono (ffmpeg's own -ac 1 weighs
    # each channel of a stereo file by 1/sqrt(2) instead).
    import wave
    rate = SAMPLE_RATE
    t = numpy.arange(2 * rate) / rate
    left = 0.5 * numpy.sin(2 * numpy.pi * 440 * t)
    right = 0.2 * numpy.sin(2 * numpy.pi * 1000 * t)
    pcm = numpy.round(numpy.stack([left, right], 1) * 32767).astype('<i2')
    path = str(tmp_path / 'stereo.wav')
    with wave.open(path, 'wb') as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    audio = media.decode_audio(path)
    expected = pcm.astype(numpy.float64).mean(axis=1) / 32768
    assert audio.shape == expected.shape
    numpy.testing.assert_allclose(audio, expected, atol=1e-4)
