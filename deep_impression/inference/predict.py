"""Traits of a whole video file: decode with ffmpeg, then ``model.predict``."""

import os
import sys

from deep_impression import media
from deep_impression.constants import FPS, TRAITS
from deep_impression.errors import DeepImpressionError, InputError, MediaError
from deep_impression.inference.clip import STREAM_CHUNK, prefetch
from deep_impression.inputs import even_indices
from deep_impression.progress import progress


def predict_video(path, model, backend=None, fps=FPS, max_frames=None,
                  decode='package', on_frames=None, fit='stretch',
                  strict=False, warn=None):
    """Predict the five traits of the person in a video file.

    Decodes the file with the bundled ffmpeg into 16 kHz mono audio and
    456x256 RGB frames at 25 frames/s, streams the frames through the model
    in small chunks, decoded while the network runs (see
    :mod:`deep_impression.inference.clip`), and returns ``model.predict``'s
    answer.

    Frame subsampling (both off by default, which is the release's
    every-frame-at-25-fps inference): ``fps`` decodes fewer frames per
    second; ``max_frames`` keeps at most that many frames, evenly spaced
    over the clip (a stream whose container gives no duration is counted
    first, by decoding it once more). The audio is always used whole.

    Args:
        path: any video file ffmpeg reads, with an audio track.
        model: a loaded :class:`~deep_impression.AudiovisualNetwork`
            or a :class:`~deep_impression.inference.backends.OnnxRuntimeModel`.
        backend: ``None`` runs ``model`` as given; ``'chainer'`` requires
            the Chainer network; ``'onnxruntime'`` runs a Chainer network
            through ONNX Runtime (exported once and cached).
        fps: frames per second to decode (25 as in the paper).
        max_frames: keep at most this many frames, evenly spaced; ``None``
            keeps all.
        decode: ``'package'`` (25 frames/s, soxr audio) or ``'release'``:
            every native frame and ``kaiser_best`` audio, as the authors'
            ``util.py`` (see :mod:`deep_impression.media`); ``fps`` must
            then stay at its default.
        on_frames: optional callable given the number of frames of each
            batch once the network has run it (progress within a clip).
        fit: how frames reach 456x256: ``'stretch'`` (the release's resize;
            a warning when the aspect ratio is far from 16:9), ``'pad'`` or
            ``'crop'`` (both keep faces undistorted).
        strict, warn: a damaged or truncated file is an error when
            ``strict``, else a warning
            (:func:`deep_impression.media.check_decoded`).

    Returns:
        float32 array of shape ``(5,)`` in :data:`~deep_impression.TRAITS`
        order.

    Raises:
        MediaError: missing or unreadable file, no audio track, under 1 s of
            audio, or no decodable frame (or damaged, when ``strict``).
        InputError: unknown backend or decoding, ``fps``/``max_frames`` not
            positive, or ``fps`` given with ``decode='release'``.

    (Over 60 lines with this docstring; its code is 26 lines.)
    """
    from deep_impression.inference.backends import as_backend
    if fps is None or not fps > 0:
        raise InputError('fps: must be a positive number, got {}'.format(fps))
    if max_frames is not None and (int(max_frames) != max_frames or
                                   max_frames < 1):
        raise InputError('max_frames: must be a positive integer, got {}'
                         .format(max_frames))
    if media.check_decoding(decode) == 'release' and fps != FPS:
        raise InputError('fps: the release decoding uses every native frame; '
                         'leave fps at its default')
    model = as_backend(model, backend)
    if decode == 'release':
        fps = None
    frames = media.iter_frames(path, fps=fps, chunk=STREAM_CHUNK, fit=fit,
                               strict=strict, warn=warn)
    if max_frames is not None:
        info = media.probe(path)
        total = media.expected_frames(info, fps or info.fps)
        if total is None:
            total = media.count_frames(path, fps)
        frames = select_frames(frames, total, int(max_frames))
    # The frames start decoding now, beside the audio's decoding.
    with prefetch(frames) as frames:
        audio = media.load_clip_audio(path, strict=strict, warn=warn,
                                      decode=decode)
        return model.predict(audio, frames, on_frames=on_frames)


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


#: Provenance fields of every prediction record, after ``video`` and the
#: five traits: the package version, the first
#: :data:`~deep_impression.models.weights.SHORT_DIGEST` hex digits of the
#: weight file's SHA-256, whether that file is byte for byte the authors'
#: release, the backend, frames per second and the frame limit (``None``:
#: all frames).
PROVENANCE = ('version', 'weights_sha256', 'release_weights', 'backend',
              'fps', 'max_frames', 'decode', 'fit')


def provenance(model, backend=None, fps=FPS, max_frames=None, weights=None,
               decode='package', fit='stretch'):
    """The provenance fields (:data:`PROVENANCE`) of predictions made with
    ``model`` and these settings.

    Args:
        weights: the file the weights came from (default: the
            ``weights_file`` that :func:`~deep_impression.load_model` and
            :func:`~deep_impression.inference.backends.load_backend` set);
            ``None`` for weights only in memory (digest ``None``).
    """
    from deep_impression import __version__
    from deep_impression.models.weights import (SHORT_DIGEST,
                                                identify_weights)
    weights = weights if weights is not None else getattr(
        model, 'weights_file', None)
    sha256, release = None, False
    if weights is not None:
        found = identify_weights(weights)
        sha256, release = found['sha256'][:SHORT_DIGEST], found['release']
    if backend is None:
        from deep_impression.inference.backends import OnnxRuntimeModel
        backend = ('onnxruntime' if isinstance(model, OnnxRuntimeModel)
                   else 'chainer')
    return dict(version=__version__, weights_sha256=sha256,
                release_weights=release, backend=backend,
                # The release's decoding keeps each file's own frame rate.
                fps=None if decode == 'release' else float(fps),
                max_frames=None if max_frames is None else int(max_frames),
                decode=decode, fit=fit)


def frames_to_run(path, fps=FPS, max_frames=None):
    """How many frames :func:`predict_video` will run for ``path`` (from
    the container's duration; ``None`` when unknown or unreadable)."""
    try:
        total = media.expected_frames(media.probe(path), fps)
    except MediaError:
        return None
    if max_frames is not None:
        total = int(max_frames) if total is None else min(total,
                                                          int(max_frames))
    return total


def iter_predictions(paths, model, backend=None, fps=FPS, max_frames=None,
                     weights=None, show_progress=None, decode='package',
                     fit='stretch', strict=False):
    """:func:`predict_videos`, one record at a time as each video finishes
    (the command line writes each row as it comes)."""
    info = provenance(model, backend, fps, max_frames, weights, decode, fit)
    paths, _ = media.find_videos(paths)
    disable = (not sys.stderr.isatty() if show_progress is None
               else not show_progress)
    for path in progress(paths, desc='predict', unit='video',
                         disable=disable):
        error = None
        # The bar's total costs one ffmpeg probe: only for a visible bar.
        total = None if disable else frames_to_run(path, fps, max_frames)
        with progress(total=total, desc=os.path.basename(path),
                      unit='frame', leave=False, disable=disable) as bar:
            try:
                y = predict_video(path, model, backend, fps, max_frames,
                                  decode=decode, on_frames=bar.update,
                                  fit=fit, strict=strict)
            except DeepImpressionError as e:
                y, error = None, str(e)
        values = [None] * len(TRAITS) if y is None else [float(v) for v in y]
        record = dict(video=path)
        record.update(zip(TRAITS, values))
        record['error'] = error
        record.update(info)
        yield record


def predict_videos(paths, model, backend=None, fps=FPS, max_frames=None,
                   weights=None, show_progress=None, decode='package',
                   fit='stretch', strict=False):
    """Predict the traits of many videos; one record per video.

    A video that cannot be used does not stop the others: its record has
    ``error`` (the one-line reason) and ``None`` for each trait.

    Args:
        paths: video files and folders (searched recursively for media
            files, as :func:`deep_impression.media.find_videos`; a folder
            without any gives no record).
        model, backend, fps, max_frames, decode, fit, strict: as
            :func:`predict_video`.
        weights: the weight file, for provenance (default: the file the
            model was loaded from).
        show_progress: progress bars over videos and over each clip's
            frames (default: when standard error is a terminal).

    Returns:
        list of dicts with keys ``video``, the five trait names
        (:data:`~deep_impression.TRAITS`; floats in [0, 1]), ``error``
        (``None`` on success) and :data:`PROVENANCE`.
    """
    return list(iter_predictions(paths, model, backend, fps, max_frames,
                                 weights, show_progress, decode, fit, strict))
