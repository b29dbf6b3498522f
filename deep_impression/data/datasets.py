"""Chainer datasets over a clip store (paper §2.2 training, §2.3 evaluation).

* :class:`ClipDataset`: one stored clip per example, as a lazy :class:`Clip`
  view (reading a whole clip for one training example would waste 374 of
  its 375 frames).
* :class:`TrainingTransform`: a training example as paper §2.2 describes
  it: a random 50176-sample crop of the audio (zero-padded at the end when
  the clip is shorter), a random frame, a random 224x224 crop of it and a
  random left/right flip, in the release's layouts.
* :func:`training_dataset`: the two together; a clip that fails to load is
  logged and replaced by another, never fatal.
* :class:`EvaluationDataset`: a whole clip as §2.3 uses it: all its audio and
  all its frames (or an even subsample), the frames streamed in chunks.

All of them pickle and work in ``chainer.iterators.MultiprocessIterator``
workers: the store keeps no open files, and a training example's random
choices depend on the run's seed, the epoch and the example, not on the
process that draws them (:func:`example_generator`).
"""

import logging
import os

from deep_impression import _compat  # noqa: F401

import chainer
import numpy

from deep_impression.constants import AUDIO_CROP, FRAME_CHUNK, FRAME_CROP
from deep_impression.errors import DeepImpressionError
from deep_impression.inputs import even_indices
from deep_impression.data.store import open_store

logger = logging.getLogger(__name__)


def _open_store(root):
    return open_store(root)


class ClipDataset(chainer.dataset.DatasetMixin):
    """The clips of one split of a store, one :class:`Clip` per example.

    Args:
        root: store directory (or an open :class:`ClipStore`).
        split: ``'train'``, ``'validation'`` or ``'test'``.
    """

    def __init__(self, root, split):
        self.store = _open_store(root)
        self.split = split
        self.clip_ids = self.store.clip_ids(split)

    def __len__(self):
        return len(self.clip_ids)

    def get_example(self, i):
        return self.store.clip(self.clip_ids[i])


class TrainingTransform(object):
    """A :class:`Clip` to a training example (paper §2.2).

    Returns ``(audio, frame, labels)``:

    * audio (1, 1, audio_crop) float32 in [-1, 1]: samples
      ``[start, start + audio_crop)``, ``start`` uniform over the valid
      starts; a shorter clip is zero-padded at the end.
    * frame (3, frame_crop, frame_crop) float32, RGB 0..255, channels first
      (the release's visual input): a uniformly drawn frame, a uniformly
      placed crop, mirrored left/right with probability 1/2 if ``flip``. A
      frame smaller than the crop (possible for face crops) is zero-padded
      around its centre first.
    * labels (5,) float32 in TRAITS order.

    With ``frames_per_clip`` K, the frame is drawn among K evenly spaced
    frames of the clip (:func:`~deep_impression.inputs.even_indices`), the
    same K in every epoch: Ventura et al. (2017, §4.1) train DAN+ on 10
    frames per video.

    Random numbers: ``transform(clip, rng)`` draws from the given
    generator; :class:`RobustTransformDataset` passes one made from the
    run's seed, the epoch and the example (:func:`example_generator`), so
    the crops do not depend on which process draws them. Without ``rng``
    a generator of this process is used (seeded from ``seed`` and the
    process id, or from the operating system without ``seed``).
    """

    def __init__(self, audio_crop=AUDIO_CROP, frame_crop=FRAME_CROP,
                 flip=True, seed=None, frames_per_clip=None):
        self.audio_crop = int(audio_crop)
        self.frame_crop = int(frame_crop)
        self.flip = flip
        self.frames_per_clip = (None if frames_per_clip is None
                                else int(frames_per_clip))
        self.seed = seed
        self._owner = os.getpid()
        self._pid = None
        self._rng = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state['_rng'] = state['_pid'] = None
        return state

    @property
    def rng(self):
        """This process's ``numpy.random.Generator``."""
        pid = os.getpid()
        if self._rng is None or self._pid != pid:
            if self.seed is None:
                self._rng = numpy.random.default_rng()
            elif pid == self._owner:
                self._rng = numpy.random.default_rng(self.seed)
            else:
                self._rng = numpy.random.default_rng([self.seed, pid])
            self._pid = pid
        return self._rng

    def sample(self, num_samples, num_frames, frame_height, frame_width,
               rng=None):
        """Draw one example's random choices.

        Args:
            num_samples: audio length of the clip (samples).
            num_frames: frames of the clip.
            frame_height, frame_width: frame size (pixels), after padding
                to at least the crop size.
            rng: ``numpy.random.Generator`` (default :attr:`rng`).

        Returns:
            dict ``audio_start``, ``frame_index``, ``top``, ``left``,
            ``flip`` (bool).
        """
        rng = self.rng if rng is None else rng
        audio_start = int(rng.integers(
            0, max(num_samples - self.audio_crop, 0) + 1))
        if self.frames_per_clip is None:
            frame_index = int(rng.integers(0, num_frames))
        else:
            kept = even_indices(num_frames, self.frames_per_clip)
            frame_index = int(kept[rng.integers(0, len(kept))])
        return dict(
            audio_start=audio_start, frame_index=frame_index,
            top=int(rng.integers(0, frame_height - self.frame_crop + 1)),
            left=int(rng.integers(0, frame_width - self.frame_crop + 1)),
            flip=bool(self.flip and rng.random() < 0.5))

    def _pad(self, frame):
        h, w = frame.shape[:2]
        c = self.frame_crop
        if h >= c and w >= c:
            return frame
        ph, pw = max(c - h, 0), max(c - w, 0)
        return numpy.pad(frame, ((ph // 2, ph - ph // 2),
                                 (pw // 2, pw - pw // 2), (0, 0)))

    def __call__(self, clip, rng=None):
        audio = clip.audio(mmap=True)
        num_frames = clip.num_frames
        # Frame size from the store when all frames share one; the draw of
        # the frame index must come before reading the frame.
        size = clip.store.frame_size
        if size is None:
            first = self._pad(clip.frame(0))
            height, width = first.shape[:2]
        else:
            height = max(size[1], self.frame_crop)
            width = max(size[0], self.frame_crop)
        p = self.sample(audio.shape[0], num_frames, height, width, rng)
        return self.apply(clip, p, audio=audio)

    def apply(self, clip, params, audio=None):
        """The example for given random choices (see :meth:`sample`)."""
        if audio is None:
            audio = clip.audio(mmap=True)
        a = numpy.zeros(self.audio_crop, dtype=numpy.float32)
        piece = audio[params['audio_start']:
                      params['audio_start'] + self.audio_crop]
        a[:piece.shape[0]] = piece
        frame = self._pad(clip.frame(params['frame_index']))
        top, left, c = params['top'], params['left'], self.frame_crop
        crop = frame[top:top + c, left:left + c]
        if crop.shape[:2] != (c, c):
            raise DeepImpressionError('{}: crop at ({}, {}) outside a {}x{} '
                                      'frame'.format(clip.clip_id, top, left,
                                                     frame.shape[1],
                                                     frame.shape[0]))
        if params['flip']:
            crop = crop[:, ::-1]
        frame_chw = numpy.ascontiguousarray(
            crop.transpose(2, 0, 1), dtype=numpy.float32)
        return a.reshape(1, 1, self.audio_crop), frame_chw, clip.labels


def example_generator(seed, epoch, index, attempt=0):
    """The generator of one training example's random choices.

    Seeded from the run's ``seed``, the ``epoch`` and the example's
    ``index`` (and the ``attempt`` after a clip failed to load), so an
    example's crops are the same whichever process draws them: a run gives
    the same weights with any number of loader processes, and after a
    resume. Index -1 is the epoch's order (:class:`EpochOrderSampler`).
    With ``seed=None``, a generator seeded by the operating system.
    """
    if seed is None:
        return numpy.random.default_rng()
    # Entropy words must be non-negative: index -1 (an epoch's order)
    # becomes 0 and examples start at 1.
    return numpy.random.default_rng([int(seed), int(epoch), int(index) + 1,
                                     int(attempt)])


class EpochOrderSampler(object):
    """A Chainer order sampler whose indices also name the epoch.

    Each epoch is a permutation of the ``n`` examples drawn from
    :func:`example_generator` of ``seed`` and the epoch (epochs counted
    from 1), offset by ``epoch * n``: index ``k`` is example ``k % n`` in
    epoch ``k // n``. The iterator keeps the order in its state (and in
    snapshots), so the sampler has no state of its own: a
    ``MultiprocessIterator`` that draws the next epoch's order ahead of
    time changes nothing, and a resumed run draws what an uninterrupted
    one would have. :class:`RobustTransformDataset` reads the epoch back
    to seed the example's crops.

    Args:
        seed: the run's seed (None: orders from the operating system).
    """

    def __init__(self, seed):
        self.seed = seed

    def __call__(self, current_order, current_position):
        n = len(current_order)
        epoch = int(numpy.max(current_order)) // n + 1
        rng = example_generator(self.seed, epoch, -1)
        return rng.permutation(n) + epoch * n


class RobustTransformDataset(chainer.dataset.DatasetMixin):
    """``transform(dataset[i], rng)``, replacing examples that fail to load.

    Index ``k`` may exceed the dataset's length: it is example ``k % n``
    of epoch ``k // n`` (:class:`EpochOrderSampler`), and its random
    choices come from :func:`example_generator` of ``seed``, the epoch
    and the example. A failure is logged (clip and reason) and another
    example, drawn from the same generator, takes its place; after
    ``max_retries`` failures in a row the error is raised.
    """

    #: Takes indices from :class:`EpochOrderSampler` (the trainer asks).
    epoch_indices = True

    def __init__(self, dataset, transform, max_retries=10, seed=None):
        self.dataset = dataset
        self.transform = transform
        self.max_retries = max_retries
        self.seed = seed
        self.failures = 0

    def __len__(self):
        return len(self.dataset)

    def get_example(self, i):
        epoch, i = divmod(int(i), len(self))
        for attempt in range(self.max_retries):
            rng = example_generator(self.seed, epoch, i, attempt)
            example = self.dataset[i]
            try:
                return self.transform(example, rng)
            except Exception as e:
                self.failures += 1
                logger.warning('%s: cannot load (%s: %s); using another clip',
                               getattr(example, 'clip_id', i),
                               type(e).__name__, e)
                i = int(rng.integers(len(self)))
        raise DeepImpressionError('{} examples in a row failed to load; see '
                                  'the warnings above'.format(
                                      self.max_retries))


def training_dataset(root, split='train', audio_crop=AUDIO_CROP,
                     frame_crop=FRAME_CROP, flip=True, seed=None,
                     frames_per_clip=None):
    """Training examples of a split (paper §2.2).

    Examples are ``(audio (1, 1, audio_crop) float32 in [-1, 1],
    frame (3, frame_crop, frame_crop) float32 0..255, labels (5,) float32)``;
    ``chainer.dataset.concat_examples`` batches them to (B, 1, 1, A),
    (B, 3, C, C) and (B, 5).
    """
    return RobustTransformDataset(
        ClipDataset(root, split),
        TrainingTransform(audio_crop, frame_crop, flip=flip, seed=seed,
                          frames_per_clip=frames_per_clip),
        seed=seed)


class FrameReader(object):
    """A zero-argument callable streaming a clip's frames in chunks.

    Calling it returns a new iterator of (k, H, W, 3) uint8 chunks.
    """

    def __init__(self, store, clip_id, indices=None, chunk=FRAME_CHUNK):
        self.store = store
        self.clip_id = clip_id
        self.indices = indices
        self.chunk = chunk

    def __len__(self):
        if self.indices is None:
            return self.store.num_frames(self.clip_id)
        return len(self.indices)

    def __call__(self):
        return self.store.iter_frames(self.clip_id, chunk=self.chunk,
                                      indices=self.indices)


class EvaluationDataset(chainer.dataset.DatasetMixin):
    """Whole clips of a split, as paper §2.3 evaluates them.

    Examples are ``(clip_id, audio (n,) float32, frames, labels (5,)
    float32)``; ``frames()`` returns an iterator of (k, H, W, 3) uint8
    chunks (all frames in order, or ``max_frames`` spread evenly), so
    ``model.predict(audio, frames())`` never holds a whole clip.

    Args:
        root: store directory (or an open :class:`ClipStore`).
        split: ``'train'``, ``'validation'`` or ``'test'``.
        max_frames: at most this many frames per clip (default all).
        chunk: frames per chunk.
    """

    def __init__(self, root, split, max_frames=None, chunk=FRAME_CHUNK):
        self.store = _open_store(root)
        self.split = split
        self.clip_ids = self.store.clip_ids(split)
        self.max_frames = max_frames
        self.chunk = chunk

    def __len__(self):
        return len(self.clip_ids)

    def get_example(self, i):
        clip_id = self.clip_ids[i]
        indices = None
        if self.max_frames is not None:
            indices = even_indices(self.store.num_frames(clip_id),
                                   self.max_frames)
        audio = numpy.asarray(self.store.audio(clip_id), dtype=numpy.float32)
        return (clip_id, audio,
                FrameReader(self.store, clip_id, indices, self.chunk),
                self.store.labels(clip_id))
