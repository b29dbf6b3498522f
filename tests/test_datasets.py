"""Training examples as paper §2.2, evaluation examples as §2.3."""

import logging
import os
import pickle
import shutil

import chainer
import numpy
import pytest

from deep_impression.data import datasets, store
from deep_impression.constants import AUDIO_CROP, FRAME_CROP
from deep_impression.data.store import ClipStore

from conftest import SYNTHETIC


def test_training_examples_shapes_dtypes_ranges(synthetic_store):
    ds = datasets.training_dataset(synthetic_store, 'train', seed=0)
    assert len(ds) == SYNTHETIC['train']
    batch = chainer.dataset.concat_examples([ds[i] for i in range(len(ds))])
    audio, frames, labels = batch
    assert audio.shape == (6, 1, 1, AUDIO_CROP)
    assert audio.dtype == numpy.float32
    assert frames.shape == (6, 3, FRAME_CROP, FRAME_CROP)
    assert frames.dtype == numpy.float32
    assert labels.shape == (6, 5) and labels.dtype == numpy.float32
    assert -1.0 <= audio.min() and audio.max() <= 1.0
    assert 0.0 <= frames.min() and frames.max() <= 255.0
    assert frames.max() > 100   # 0..255, not rescaled
    assert numpy.all((0 <= labels) & (labels <= 1))
    # 2-s clips are shorter than 50176 samples: the rest is zeros.
    assert numpy.all(audio[:, 0, 0, 32000:] == 0)
    assert numpy.all(numpy.abs(audio[:, 0, 0, :32000]).max(axis=1) > 0)


def test_example_is_the_drawn_crop(synthetic_store):
    clips = datasets.ClipDataset(synthetic_store, 'train')
    clip = clips[1]
    transform = datasets.TrainingTransform()
    s = ClipStore(synthetic_store)
    audio = s.audio(clip.clip_id)
    for flip in (False, True):
        p = dict(audio_start=0, frame_index=31, top=32, left=200, flip=flip)
        a, frame, labels = transform.apply(clip, p)
        full = s.frame(clip.clip_id, 31)
        expected = full[32:32 + 224, 200:200 + 224]
        if flip:
            expected = expected[:, ::-1]
        numpy.testing.assert_array_equal(frame, expected.transpose(2, 0, 1))
        numpy.testing.assert_array_equal(a[0, 0, :audio.size], audio)
        numpy.testing.assert_array_equal(labels, s.labels(clip.clip_id))

    class Long(object):
        clip_id = 'long'
        labels = numpy.zeros(5, numpy.float32)
        num_frames = 1

        def audio(self, mmap=False):
            return numpy.arange(100000, dtype=numpy.float32) / 1e5

        def frame(self, index):
            return numpy.zeros((100, 150, 3), numpy.uint8) + 7
    a, frame, _ = transform.apply(Long(), dict(
        audio_start=40000, frame_index=0, top=0, left=0, flip=False))
    numpy.testing.assert_array_equal(
        a[0, 0], numpy.arange(40000, 40000 + AUDIO_CROP,
                              dtype=numpy.float32) / 1e5)
    # A frame smaller than the crop is padded around its centre.
    assert frame.shape == (3, 224, 224)
    assert frame[:, 62:162, 37:187].min() == 7 and frame.sum() == \
        7 * 3 * 100 * 150


def test_crops_in_bounds_uniform_and_flips_half_the_time():
    t = datasets.TrainingTransform(seed=1)
    draws = [t.sample(100000, 375, 256, 456) for _ in range(4000)]
    starts = numpy.array([d['audio_start'] for d in draws])
    tops = numpy.array([d['top'] for d in draws])
    lefts = numpy.array([d['left'] for d in draws])
    frames = numpy.array([d['frame_index'] for d in draws])
    flips = numpy.array([d['flip'] for d in draws])
    assert starts.min() >= 0 and starts.max() <= 100000 - AUDIO_CROP
    assert tops.min() == 0 and tops.max() == 256 - 224
    assert lefts.min() == 0 and lefts.max() == 456 - 224
    assert frames.min() == 0 and frames.max() == 374
    assert abs(flips.mean() - 0.5) < 0.04
    # Uniform frame choice: each third of the clip gets about a third.
    thirds = numpy.bincount(frames * 3 // 375, minlength=3) / len(frames)
    assert numpy.all(numpy.abs(thirds - 1 / 3) < 0.04)
    short = t.sample(32000, 50, 256, 456)
    assert short['audio_start'] == 0
    assert not any(datasets.TrainingTransform(flip=False).sample(
        1, 1, 224, 224)['flip'] for _ in range(50))
    again = datasets.TrainingTransform(seed=1)
    assert [again.sample(100000, 375, 256, 456) for _ in range(5)] == \
        draws[:5]


class _Draws(chainer.dataset.DatasetMixin):
    # The random choices a worker makes, as examples.
    def __init__(self, transform):
        self.transform = transform

    def __len__(self):
        return 40

    def get_example(self, i):
        d = self.transform.sample(10 ** 6, 375, 256, 456)
        return numpy.array([d['audio_start'], d['frame_index'], d['top'],
                            d['left']])


def test_workers_draw_their_own_random_numbers():
    transform = datasets.TrainingTransform(seed=0)
    it = chainer.iterators.MultiprocessIterator(
        _Draws(transform), 40, repeat=False, shuffle=False, n_processes=2)
    try:
        batch = it.next()
    finally:
        it.finalize()
    # Forked workers sharing one generator state would repeat each other.
    assert len({tuple(x) for x in batch}) == 40


def test_multiprocess_iterator_and_pickle(synthetic_store):
    ds = datasets.training_dataset(synthetic_store, 'train')
    clone = pickle.loads(pickle.dumps(ds))
    assert clone[0][1].shape == (3, 224, 224)
    it = chainer.iterators.MultiprocessIterator(ds, 4, n_processes=2)
    try:
        audio, frames, labels = chainer.dataset.concat_examples(it.next())
    finally:
        it.finalize()
    assert audio.shape == (4, 1, 1, AUDIO_CROP)
    assert frames.shape == (4, 3, 224, 224) and labels.shape == (4, 5)


def test_broken_clip_is_logged_and_replaced(synthetic_store, tmp_path,
                                           caplog):
    root = str(tmp_path / 'store')
    shutil.copytree(synthetic_store, root)
    s = ClipStore(root)
    broken = s.clip_ids('train')[0]
    os.remove(store.frames_path(root, broken))
    ds = datasets.training_dataset(root, 'train')
    with caplog.at_level(logging.WARNING,
                         logger='deep_impression.data.datasets'):
        audio, frame, labels = ds[0]
    assert frame.shape == (3, 224, 224)
    assert broken in caplog.text
    assert ds.failures >= 1
    for clip_id in s.clip_ids('train')[1:]:
        os.remove(store.frames_path(root, clip_id))
    with pytest.raises(Exception, match='in a row'):
        datasets.training_dataset(root, 'train')[0]


def test_evaluation_examples_cover_every_frame(synthetic_store):
    ds = datasets.EvaluationDataset(synthetic_store, 'validation', chunk=16)
    s = ClipStore(synthetic_store)
    assert len(ds) == SYNTHETIC['val']
    clip_id, audio, frames, labels = ds[1]
    assert clip_id == s.clip_ids('validation')[1]
    numpy.testing.assert_array_equal(audio, numpy.load(
        store.audio_path(synthetic_store, clip_id)))
    assert audio.dtype == numpy.float32
    numpy.testing.assert_array_equal(labels, s.labels(clip_id))
    chunks = list(frames())
    assert [len(c) for c in chunks] == [16, 16, 16, 2]
    every = numpy.concatenate(chunks)
    assert every.shape == (50, 256, 456, 3) and every.dtype == numpy.uint8
    for i in (0, 13, 49):
        numpy.testing.assert_array_equal(every[i], s.frame(clip_id, i))
    assert sum(len(c) for c in frames()) == 50   # callable again

    sub = datasets.EvaluationDataset(synthetic_store, 'validation',
                                     max_frames=7)
    _, _, frames, _ = sub[1]
    picked = numpy.concatenate(list(frames()))
    assert len(picked) == 7 == len(frames)
    indices = datasets.even_indices(50, 7)
    assert list(indices) == [3, 10, 17, 25, 32, 39, 46]
    for k, i in enumerate(indices):
        numpy.testing.assert_array_equal(picked[k], s.frame(clip_id, i))
    assert list(datasets.even_indices(5, 10)) == [0, 1, 2, 3, 4]
