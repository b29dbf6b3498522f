"""The whole-clip computation of the authors' release, written once.

A clip's traits (paper §2.1, §2.3): all of its audio through the auditory
stream at once; its frames through the visual stream in chunks of
:data:`~deep_impression.constants.FRAME_CHUNK` (the release's 256), each
chunk in batches of the backend's ``frame_batch``; the pooled visual
features averaged over every frame; the two 256-d vectors fused (audio
first) into the five traits.

Every backend runs this loop. A backend is any object with

* ``audio_features(audio)``: ``(n,)`` float32 samples -> ``(256,)`` float32;
* ``frame_features(frames)``: ``(N, H, W, 3)`` uint8 RGB -> ``(N, 256)``;
* ``fuse_features(audio_features, visual_features)``: ``(B, 256)`` twice ->
  ``(B, 5)`` traits in [0, 1], TRAITS order;
* ``frame_batch``: frames per ``frame_features`` call.

All three take and return NumPy arrays. Test-mode batch normalisation treats
frames independently, so ``frame_batch`` changes memory and speed, never
results.

Decoding overlaps with the network: frames that come as a stream of chunks
(from :func:`deep_impression.media.iter_frames`) are pulled by a background
thread into a queue of at most :data:`PREFETCH_DEPTH` chunks
(:class:`Prefetch`) while the network runs on the previous batch, from the
moment the clip's computation starts (so also during the auditory stream).
The decoder is a separate ffmpeg process, and ONNX Runtime and Chainer's
NumPy release the GIL, so both cores stay busy; memory grows by at most a
few chunks.
"""

import queue
import threading

import numpy

from deep_impression import inputs
from deep_impression.constants import FRAME_CHUNK
from deep_impression.errors import InputError

#: Frames per chunk when a clip is streamed from the decoder: small, so the
#: network starts after the first 32 frames (about 0.2 s of decoding), not
#: after a whole 256-frame chunk; 32 frames of 456x256 are 11 MB.
STREAM_CHUNK = 32

#: Decoded chunks waiting for the network at most (plus one being decoded):
#: with :data:`STREAM_CHUNK` frames each, under 60 MB of frames.
PREFETCH_DEPTH = 4


class Prefetch(object):
    """Iterate over ``chunks`` while a background thread pulls them ahead.

    At most ``depth`` chunks wait in the queue, plus the one the thread is
    pulling. An exception raised by ``chunks`` is raised again here, at the
    point of the stream where it happened. :meth:`close` (also at the end
    of a ``with`` block, or when the stream is exhausted) stops the thread
    and closes ``chunks`` (which stops an ffmpeg decoder). The thread is a
    daemon and only ever waits with a timeout, so nothing hangs.

    Args:
        chunks: any iterable (typically a generator of frame arrays).
        depth: chunks the queue holds at most.
    """

    _END = object()

    def __init__(self, chunks, depth=PREFETCH_DEPTH):
        self._queue = queue.Queue(maxsize=max(1, int(depth)))
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(
            target=self._pull, args=(chunks,), name='deep-impression-prefetch',
            daemon=True)
        self._thread.start()

    def _put(self, item):
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _pull(self, chunks):
        iterator = iter(chunks)
        try:
            for chunk in iterator:
                if not self._put(chunk):
                    break
            else:
                self._put(self._END)
        except BaseException as e:  # handed to the consumer
            self._put(e)
        finally:
            close = getattr(iterator, 'close', None)
            if close is not None:
                close()

    def __iter__(self):
        return self

    def __next__(self):
        if self._done:
            raise StopIteration
        item = self._queue.get()
        if item is self._END:
            self.close()
            raise StopIteration
        if isinstance(item, BaseException):
            self.close()
            raise item
        return item

    def close(self, timeout=10.0):
        """Stop pulling, let the thread close the source, and wait for it
        (at most ``timeout`` seconds: one chunk's decoding)."""
        self._done = True
        self._stop.set()
        while True:  # unblock a thread waiting on a full queue
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def prefetch(frames, depth=PREFETCH_DEPTH):
    """``frames`` as :func:`mean_frame_features` takes them, pulled ahead by
    a :class:`Prefetch` thread if they are a stream (an iterator such as a
    decoder's generator); arrays and lists, already in memory, are returned
    as they are, and so is a :class:`Prefetch`."""
    if isinstance(frames, (numpy.ndarray, list, tuple, Prefetch)):
        return frames
    return Prefetch(frames, depth)


def frame_batches(frames, frame_batch):
    """Batches of exactly ``frame_batch`` frames (the last one may be
    shorter), whatever the sizes of the incoming chunks.

    Args:
        frames: as :func:`mean_frame_features` takes them.
        frame_batch: frames per batch.

    Yields:
        ``(k, H, W, 3)`` uint8 arrays, ``k <= frame_batch``.
    """
    pending, count = [], 0
    for chunk in inputs.frame_chunks(frames, FRAME_CHUNK):
        while len(chunk):
            piece = chunk[:frame_batch - count]
            chunk = chunk[len(piece):]
            pending.append(piece)
            count += len(piece)
            if count == frame_batch:
                yield _join(pending)
                pending, count = [], 0
    if count:
        yield _join(pending)


def _join(pieces):
    return pieces[0] if len(pieces) == 1 else numpy.concatenate(pieces)


def mean_frame_features(frame_features, frames, frame_batch,
                        on_frames=None):
    """Mean of ``frame_features`` over every frame of a clip.

    Args:
        frame_features: callable ``(N, H, W, 3)`` uint8 -> ``(N, D)``.
        frames: ``(T, H, W, 3)`` uint8 RGB array, or an iterable of such
            chunks of any sizes (a long video need not sit in memory at
            once); a stream is pulled ahead by :func:`prefetch`.
        frame_batch: frames per call of ``frame_features`` (batches are
            formed across chunk boundaries).
        on_frames: optional callable given the number of frames of each
            batch once it has run (for progress bars).

    Returns:
        ``(D,)`` float32: the mean, summed in float64.

    Raises:
        InputError: no frame at all.
    """
    frame_batch = int(frame_batch)
    if frame_batch < 1:
        raise InputError('frame_batch: must be at least 1, got {}'.format(
            frame_batch))
    total = None
    count = 0
    frames = prefetch(frames)
    try:
        for batch in frame_batches(frames, frame_batch):
            s = numpy.asarray(frame_features(batch),
                              dtype=numpy.float64).sum(axis=0)
            total = s if total is None else total + s
            count += len(batch)
            if on_frames is not None:
                on_frames(len(batch))
    finally:
        if isinstance(frames, Prefetch):
            frames.close()
    if count == 0:
        raise InputError('frames: no frame given')
    return (total / count).astype(numpy.float32)


def clip_features(backend, audio, frames, on_frames=None):
    """``(audio_features, visual_features)`` of a whole clip, float32
    ``(256,)`` each; the visual one is the mean over all frames.

    A stream of frames starts decoding ahead (:func:`prefetch`) before the
    auditory stream runs."""
    frames = prefetch(frames)
    try:
        audio_features = numpy.asarray(backend.audio_features(audio),
                                       dtype=numpy.float32)
        visual_features = mean_frame_features(
            backend.frame_features, frames, backend.frame_batch, on_frames)
    finally:
        if isinstance(frames, Prefetch):
            frames.close()
    return audio_features, visual_features


def predict_clip(backend, audio, frames, on_frames=None):
    """Traits of one whole clip: float32 ``(5,)`` in TRAITS order, in
    [0, 1]."""
    a, v = clip_features(backend, audio, frames, on_frames)
    return numpy.asarray(backend.fuse_features(a[None], v[None])[0],
                         dtype=numpy.float32)
