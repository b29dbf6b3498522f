"""The log-mel spectrogram under explain's auditory map, against NumPy."""

import numpy

from deep_impression.visualizations.interpretation import (
    MEL, log_mel_spectrogram)


def _slaney_hz_to_mel(f):
    # Slaney's Auditory Toolbox: linear below 1 kHz, logarithmic above.
    f = numpy.asarray(f, dtype=numpy.float64)
    log_step = numpy.log(6.4) / 27.0
    return numpy.where(f < 1000, f / (200.0 / 3),
                       15 + numpy.log(numpy.maximum(f, 1e-9) / 1000)
                       / log_step)


def _slaney_mel_to_hz(m):
    m = numpy.asarray(m, dtype=numpy.float64)
    log_step = numpy.log(6.4) / 27.0
    return numpy.where(m < 15, m * 200.0 / 3, 1000 * numpy.exp(
        log_step * (m - 15)))


def _numpy_power_stft(x, n_fft, hop):
    """Centred, zero-padded, periodic-Hann power STFT: (1 + n_fft/2, T)."""
    padded = numpy.pad(x.astype(numpy.float64), n_fft // 2)
    count = 1 + len(x) // hop
    window = 0.5 - 0.5 * numpy.cos(2 * numpy.pi * numpy.arange(n_fft) / n_fft)
    frames = numpy.stack([padded[j * hop:j * hop + n_fft] * window
                          for j in range(count)], axis=1)
    return numpy.abs(numpy.fft.rfft(frames, axis=0)) ** 2


def test_log_mel_of_a_sine_matches_numpy_stft():
    import librosa
    sr, freq = 16000, 1000.0
    t = numpy.arange(int(1.5 * sr)) / sr
    x = (0.5 * numpy.sin(2 * numpy.pi * freq * t)).astype(numpy.float32)
    got = log_mel_spectrogram(x, sr)
    n_fft, hop, n_mels = MEL['n_fft'], MEL['hop_length'], MEL['n_mels']
    assert got.shape == (n_mels, 1 + len(x) // hop)
    assert got.dtype == numpy.float32
    # The filter bank is librosa's; the framing, window, power and decibel
    # scale are recomputed here.
    bank = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)
    mel = bank @ _numpy_power_stft(x, n_fft, hop)
    db = 10 * numpy.log10(numpy.maximum(mel, 1e-10))
    db = numpy.maximum(db - db.max(), -80.0)
    numpy.testing.assert_allclose(got, db, atol=0.05)
    # The loudest band is the one whose centre is nearest 1 kHz.
    centres = _slaney_mel_to_hz(numpy.linspace(
        0, _slaney_hz_to_mel(sr / 2), n_mels + 2))[1:-1]
    middle = got[:, got.shape[1] // 2]
    assert middle.argmax() == numpy.abs(centres - freq).argmin()
    assert middle.max() > -0.01 and got.min() >= -80.0
