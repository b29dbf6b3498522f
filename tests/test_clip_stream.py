"""The whole-clip loop on streamed frames: batches across chunk boundaries
and decoding pulled ahead in a bounded background thread (no model here:
a plain NumPy feature function stands in for the visual stream)."""

import threading
import time

import numpy
import pytest

from deep_impression.errors import InputError, MediaError
from deep_impression.inference import clip


def _features(batch):
    """A stand-in visual stream: each frame's mean over rows and columns
    per colour channel, ``(N, H, W, 3)`` -> ``(N, 3)``."""
    return batch.reshape(len(batch), -1, 3).mean(axis=1)


def _frames(n, seed=0, size=(32, 33)):
    rng = numpy.random.RandomState(seed)
    return rng.randint(0, 256, (n,) + size + (3,)).astype(numpy.uint8)


def _stream(frames, sizes, log=None):
    """``frames`` as a generator of chunks of the given sizes; ``log``
    records how many were pulled and whether the generator was closed."""
    start = 0
    try:
        for size in sizes:
            if log is not None:
                log['pulled'] = log.get('pulled', 0) + 1
            yield frames[start:start + size]
            start += size
    finally:
        if log is not None:
            log['closed'] = True


def test_mean_over_a_stream_of_odd_chunks_equals_numpy():
    frames = _frames(23)
    sizes = []

    def features(batch):
        sizes.append(len(batch))
        return _features(batch)

    got = clip.mean_frame_features(features, _stream(frames, [5, 1, 9, 8]),
                                   frame_batch=4)
    expected = frames.reshape(23, -1, 3).astype(numpy.float64).mean(axis=1) \
        .mean(axis=0)
    numpy.testing.assert_allclose(got, expected, rtol=1e-6)
    assert sizes == [4, 4, 4, 4, 4, 3]  # full batches across chunks


def test_prefetch_keeps_order_and_closes_the_source():
    frames = _frames(10)
    log = {}
    with clip.Prefetch(_stream(frames, [3, 3, 4], log), depth=1) as p:
        got = numpy.concatenate(list(p))
    numpy.testing.assert_array_equal(got, frames)
    assert log['closed']


def test_prefetch_is_bounded():
    depth = 2
    log = {}
    p = clip.Prefetch(_stream(_frames(1), [1] * 1000, log), depth=depth)
    next(p)
    deadline = time.monotonic() + 10
    while not p._queue.full() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert p._queue.full()
    time.sleep(0.1)
    # One taken, ``depth`` queued, at most one more waiting to be queued.
    assert log['pulled'] <= depth + 2
    p.close()
    assert log['closed']
    assert not p._thread.is_alive()


def test_decoder_error_reaches_the_caller():
    def broken():
        yield _frames(3)
        raise MediaError('clip.mp4: cannot decode')

    with pytest.raises(MediaError, match='clip.mp4'):
        clip.mean_frame_features(_features, broken(), frame_batch=2)


def test_failing_network_stops_the_decoder_thread():
    class Backend(object):
        frame_batch = 2

        def audio_features(self, audio):
            raise InputError('audio: bad')

    log = {}
    before = threading.active_count()
    with pytest.raises(InputError):
        clip.clip_features(Backend(), None,
                           _stream(_frames(40), [4] * 10, log))
    assert log.get('closed')
    assert threading.active_count() == before


def test_arrays_in_memory_are_not_copied_into_a_thread():
    frames = _frames(4)
    assert clip.prefetch(frames) is frames
    chunks = [frames[:2], frames[2:]]
    assert clip.prefetch(chunks) is chunks
