"""Traits of a whole video file: decode with ffmpeg, then ``model.predict``."""

import math

from deep_impression import media
from deep_impression.inference.clip import STREAM_CHUNK, prefetch
from deep_impression.constants import FPS
from deep_impression.errors import InputError
from deep_impression.inputs import even_indices


def predict_video(path, model, backend=None, fps=FPS, max_frames=None):
    """Predict the five traits of the person in a video file.

    Decodes the file with the bundled ffmpeg into 16 kHz mono audio and
    456x256 RGB frames at 25 frames/s, streams the frames through the model
    in small chunks, decoded while the network runs (see
    :mod:`deep_impression.inference.clip`), and returns ``model.predict``'s
    answer.

    Frame subsampling (both off by default, which is the release's
    every-frame-at-25-fps inference): ``fps`` decodes fewer frames per
    second; ``max_frames`` keeps at most that many frames, evenly spaced
    over the clip. The audio is always used whole.

    Args:
        path: any video file ffmpeg reads, with an audio track.
        model: a loaded :class:`~deep_impression.models.audiovisual.AudiovisualNetwork`
            or a :class:`~deep_impression.inference.backends.OnnxRuntimeModel`.
        backend: ``None`` runs ``model`` as given; ``'chainer'`` requires
            the Chainer network; ``'onnxruntime'`` runs a Chainer network
            through ONNX Runtime (exported once and cached).
        fps: frames per second to decode (25 as in the paper).
        max_frames: keep at most this many frames, evenly spaced; ``None``
            keeps all.

    Returns:
        float32 array of shape ``(5,)`` in :data:`~deep_impression.TRAITS`
        order.

    Raises:
        MediaError: missing or unreadable file, no audio track, under 1 s of
            audio, or no decodable frame.
        InputError: unknown backend, or ``fps``/``max_frames`` not positive.
    """
    from deep_impression.inference.backends import as_backend
    if fps is None or not fps > 0:
        raise InputError('fps: must be a positive number, got {}'.format(fps))
    if max_frames is not None and (int(max_frames) != max_frames or
                                   max_frames < 1):
        raise InputError('max_frames: must be a positive integer, got {}'
                         .format(max_frames))
    model = as_backend(model, backend)
    frames = media.iter_frames(path, fps=fps, chunk=STREAM_CHUNK)
    if max_frames is not None:
        info = media.probe(path)
        frames = select_frames(frames, _expected_frames(info, fps),
                               int(max_frames))
    # The frames start decoding now, beside the audio's decoding.
    with prefetch(frames) as frames:
        audio = media.load_clip_audio(path)
        return model.predict(audio, frames)


def _expected_frames(info, fps):
    """Frames ffmpeg's ``fps`` filter makes of a clip (None if unknown)."""
    if info.duration is None:
        return None
    return max(1, int(math.ceil(info.duration * fps - 1e-6)))


def select_frames(chunks, total, count):
    """Keep ``count`` evenly spaced frames of a stream of frame chunks.

    Args:
        chunks: iterable of ``(k, H, W, 3)`` arrays.
        total: frames the stream holds (an estimate is fine); ``None`` keeps
            the first ``count``.
        count: frames to keep.

    Yields:
        the kept frames, as chunks.
    """
    wanted = even_indices(total if total is not None else count, count)
    start = 0
    kept = 0
    last = None
    for chunk in chunks:
        stop = start + len(chunk)
        idx = wanted[(wanted >= start) & (wanted < stop)] - start
        if len(idx):
            kept += len(idx)
            yield chunk[idx]
        start = stop
        if kept >= count:
            return
        if len(chunk):
            last = chunk[-1:]
    if kept == 0 and last is not None:
        # The video track ended long before the container's duration.
        yield last
