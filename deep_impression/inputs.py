"""Validation and layout of the arrays the network takes.

User-facing arrays are NumPy: audio is a 1-D float32 array of 16 kHz samples
in [-1, 1]; frames are ``(T, H, W, 3)`` uint8 RGB (``H, W = 256, 456`` for
the release's preprocessing). The network takes channels-first float32.
"""

import numpy

from deep_impression.errors import InputError


def check_audio(audio, name='audio'):
    """Return ``audio`` as a contiguous 1-D float32 array, or raise."""
    audio = numpy.asarray(audio)
    if audio.dtype != numpy.float32:
        raise InputError('{}: expected float32 samples, got dtype {}'.format(
            name, audio.dtype))
    if audio.ndim != 1:
        raise InputError('{}: expected a 1-D array of samples, got shape {}'
                         .format(name, audio.shape))
    if audio.size == 0:
        raise InputError('{}: no samples'.format(name))
    if not numpy.isfinite(audio).all():
        raise InputError('{}: contains NaN or infinite samples'.format(name))
    return numpy.ascontiguousarray(audio)


def check_frames(frames, name='frames'):
    """Check one ``(T, H, W, 3)`` uint8 chunk of RGB frames and return it."""
    if not isinstance(frames, numpy.ndarray):
        raise InputError('{}: expected a NumPy array, got {}'.format(
            name, type(frames).__name__))
    if frames.dtype != numpy.uint8:
        raise InputError('{}: expected uint8 RGB frames, got dtype {}'.format(
            name, frames.dtype))
    if frames.ndim != 4 or frames.shape[3] != 3:
        raise InputError(
            '{}: expected shape (T, height, width, 3), got {}'.format(
                name, frames.shape))
    if frames.shape[1] < 32 or frames.shape[2] < 32:
        raise InputError('{}: frames of {}x{} pixels are too small'.format(
            name, frames.shape[2], frames.shape[1]))
    return frames


def frame_chunks(frames, size):
    """Yield chunks of at most ``size`` frames.

    ``frames`` is one ``(T, H, W, 3)`` array or an iterable of such arrays of
    any length; every chunk is validated.
    """
    if isinstance(frames, numpy.ndarray):
        frames = [frames]
    for i, chunk in enumerate(frames):
        chunk = check_frames(chunk, 'frames' if i == 0 else
                             'frames (chunk {})'.format(i))
        for start in range(0, len(chunk), size):
            yield chunk[start:start + size]


def frames_to_nchw(frames):
    """``(T, H, W, 3)`` uint8 -> ``(T, 3, H, W)`` float32, values 0-255.

    No mean subtraction or scaling, as in the release.
    """
    return numpy.ascontiguousarray(
        frames.transpose(0, 3, 1, 2), dtype=numpy.float32)


def even_indices(num_frames, max_frames=None):
    """Indices of at most ``max_frames`` frames spread evenly over a clip.

    The middle frame of each of ``max_frames`` equal parts of the clip; all
    ``num_frames`` frames when ``max_frames`` is None or not smaller.
    """
    if max_frames is None or max_frames >= num_frames:
        return numpy.arange(num_frames)
    if max_frames < 1:
        raise InputError('max_frames must be at least 1, got {}'.format(
            max_frames))
    return ((numpy.arange(max_frames) + 0.5) * num_frames
            / max_frames).astype(numpy.int64)
