"""Decoding as the authors' release did (``util.py``): every native frame,
and audio as ``librosa.load(path, 16000)`` with ``kaiser_best``; checked
against what the test files hold, computed here without ffmpeg."""

import os
import subprocess
import sys
import wave

import numpy
import pytest

from deep_impression import media
from deep_impression.errors import InputError
from deep_impression.inference.predict import predict_video

import clips

#: Grey level of coded frame i in the flat-frame clips: far enough apart
#: that a frame is known by its level after YUV rounding.
STEP = 8


def _grey_clip(path, count, rate=30, pts=None, audio=False):
    """``count`` flat frames of grey ``STEP * i``, coded losslessly (FFV1);
    ``pts``: an ffmpeg ``setpts`` expression for a variable rate."""
    frames = numpy.repeat(numpy.arange(count, dtype=numpy.uint8) * STEP,
                          24 * 40 * 3).tobytes()
    cmd = [media.ffmpeg_exe(), '-v', 'error', '-y', '-f', 'rawvideo',
           '-pix_fmt', 'rgb24', '-s', '40x24', '-r', str(rate), '-i', '-']
    if audio:
        cmd += ['-f', 'lavfi', '-i', 'sine=frequency=300:sample_rate=22050',
                '-shortest']
    if pts:
        cmd += ['-vf', 'setpts=' + pts, '-fps_mode', 'vfr']
    cmd += ['-c:v', 'ffv1', '-pix_fmt', 'yuv444p', str(path)]
    subprocess.run(cmd, input=frames, check=True)
    return str(path)


def _levels(frames):
    """Coded index of each decoded frame, from its mean grey level."""
    assert frames.shape[1:] == (256, 456, 3)
    return [int(round(float(f.mean()) / STEP)) for f in frames]


@pytest.mark.parametrize('rate', [30, 60])
def test_native_rate_keeps_every_frame_once(tmp_path, rate):
    count = rate // 2  # half a second
    path = _grey_clip(tmp_path / 'grey.mkv', count, rate)
    assert _levels(media.read_frames(path, fps=None)) == list(range(count))
    # The package's 25 frames/s drops frames of both.
    assert len(media.read_frames(path)) < count


def test_variable_rate_keeps_every_coded_frame_in_order(tmp_path):
    # 10 frames 1/30 s apart, then 6 frames 1/10 s apart.
    pts = '(if(lt(N\\,10)\\,N/30\\,1/3+(N-10)/10))/TB'
    path = _grey_clip(tmp_path / 'vfr.mkv', 16, pts=pts)
    levels = _levels(media.read_frames(path, fps=None))
    # As the release's command line (ffmpeg -vf scale=456:256 -f rawvideo)
    # gives it: frames at the nominal 30 frames/s, each coded frame held
    # until the next one is due, so none is lost and order is kept.
    assert sorted(set(levels)) == list(range(16))
    assert levels == sorted(levels)
    assert levels[:10] == list(range(10))
    # Each held about 1/10 s at 1/30 s per output frame (ffmpeg moves a
    # frame by up to a slot to the nearest one, and timestamps are rounded
    # to the container's millisecond).
    held = [levels.count(i) for i in range(10, 15)]
    assert all(2 <= n <= 4 for n in held) and abs(sum(held) - 15) <= 2


def _write_wav(path, samples, rate):
    """16-bit PCM WAV with Python's wave module; ``samples`` (n, ch) float."""
    pcm = numpy.round(samples * 32767).astype('<i2')
    with wave.open(str(path), 'wb') as w:
        w.setnchannels(pcm.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return pcm


@pytest.mark.parametrize('rate', [44100, 48000, 22050])
def test_kaiser_best_resampling_of_a_tone(rate):
    t = numpy.arange(rate) / rate  # 1 s
    audio = (0.5 * numpy.sin(2 * numpy.pi * 440 * t)).astype(numpy.float32)
    out = media.resample_kaiser_best(audio, rate, 16000)
    assert out.dtype == numpy.float32 and out.shape == (16000,)
    expected = 0.5 * numpy.sin(2 * numpy.pi * 440 * numpy.arange(16000)
                               / 16000)
    # Away from the ends, where the filter sees zeros beyond the signal.
    assert numpy.abs(out - expected)[200:-200].max() < 1e-4


def test_kaiser_best_removes_what_16_khz_cannot_hold():
    rate = 44100
    t = numpy.arange(rate) / rate
    audio = (0.5 * numpy.sin(2 * numpy.pi * 9000 * t)).astype(numpy.float32)
    out = media.resample_kaiser_best(audio, rate, 16000)
    # 9 kHz is above the new Nyquist frequency (8 kHz): nothing may fold
    # back as an alias at 7 kHz.
    assert numpy.sqrt(numpy.mean(out[200:-200] ** 2)) < 1e-3


def test_release_audio_is_the_mean_of_the_channels(tmp_path):
    rate = 44100
    t = numpy.arange(rate) / rate
    left = 0.4 * numpy.sin(2 * numpy.pi * 300 * t)
    right = 0.2 * numpy.sin(2 * numpy.pi * 700 * t)
    pcm = _write_wav(tmp_path / 'stereo.wav', numpy.stack([left, right], 1),
                     rate)
    out = media.decode_audio_release(str(tmp_path / 'stereo.wav'))
    assert out.shape == (16000,)
    u = numpy.arange(16000) / 16000
    expected = (numpy.round(0.4 * 32767) * numpy.sin(2 * numpy.pi * 300 * u) +
                numpy.round(0.2 * 32767) * numpy.sin(2 * numpy.pi * 700 * u)
                ) / 2 / 32768
    assert numpy.abs(out - expected)[200:-200].max() < 2e-4
    # librosa's mean, not ffmpeg's downmix (which weighs each by 1/sqrt 2).
    assert abs(numpy.abs(out).max() - numpy.abs(pcm.mean(1)).max() / 32768
               ) < 0.01


class _Recorder(object):
    """Stands in for the network: keeps what ``predict`` is given."""

    def predict(self, audio, frames, on_frames=None):
        self.audio = audio
        self.frames = numpy.concatenate(list(frames))
        return numpy.zeros(5, numpy.float32)


def test_predict_video_release_decoding(tmp_path):
    path = _grey_clip(tmp_path / 'grey.mkv', 31, rate=30, audio=True)
    model = _Recorder()
    predict_video(path, model, decode='release')
    assert _levels(model.frames) == list(range(31))
    numpy.testing.assert_array_equal(model.audio,
                                     media.decode_audio_release(path))
    predict_video(path, model)
    assert len(model.frames) < 31
    with pytest.raises(InputError, match='decode'):
        predict_video(path, model, decode='librosa')
    with pytest.raises(InputError, match='fps'):
        predict_video(path, model, fps=5, decode='release')


def test_cli_passes_decode_on(monkeypatch, tmp_path, capsys):
    from deep_impression.cli import main
    from deep_impression.inference import backends, predict
    seen = []
    monkeypatch.setattr(backends, 'load_backend', lambda *a, **k: None)
    monkeypatch.setattr(predict, 'predict_video', lambda path, model, *a, **k:
                        seen.append(k['decode']) or numpy.zeros(5))
    assert main(['predict', 'a.mp4', '--decode', 'release']) == 0
    assert main(['predict', 'a.mp4']) == 0
    assert seen == ['release', 'package']
    with pytest.raises(SystemExit):
        main(['predict', 'a.mp4', '--decode', 'librosa'])


RELEASE = os.environ.get('DEEP_IMPRESSION_RELEASE')


@pytest.mark.skipif(not RELEASE, reason='DEEP_IMPRESSION_RELEASE does not '
                    'point at a checkout of the authors\' release')
def test_release_network_predicts_as_this_package(tmp_path):
    script = os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), 'experiments', 'compare_release.py')
    clip = clips.make_clip(tmp_path / 'clip.mp4', seconds=1.2,
                           size=(160, 90), fps=30)
    proc = subprocess.run([sys.executable, script, '--release', RELEASE,
                           clip], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=600)
    out = proc.stdout.decode()
    assert proc.returncode == 0, out
    assert out.count('largest difference') >= 3, out
