"""A cache of per-second layer-5 features beside a clip store (paper §4).

The RNN of "DNN + RNN" sees a clip only through the frozen challenge
network's per-second features
(:func:`~deep_impression.models.recurrent.step_features`), so they are
computed once per clip and kept: training the RNN never runs the residual
network again. A cache lives in ``STORE/features/<key>/``, one
``<clip id>.npy`` of ``(T, 512)`` float32 per clip, each written
atomically; ``<key>`` names the challenge network's weights (the start of
their SHA-256) and the time-point settings, so other weights or settings
get a cache of their own.

:class:`SequenceDataset` serves the cached features of a split as
training examples.
"""

import os

from deep_impression import _compat  # noqa: F401  (before chainer)

import chainer
import numpy

from deep_impression import fileio
from deep_impression.data.store import ClipStore
from deep_impression.errors import DeepImpressionError
from deep_impression.models import weights
from deep_impression.progress import progress

#: Folder of the feature caches inside a store.
FEATURES_DIR = 'features'


class FeatureCache(object):
    """Per-second features of a store's clips for one challenge network.

    Args:
        store: store directory (or an open :class:`ClipStore`).
        base: the challenge network's weight file.
        step_seconds, frames_per_step: as
            :func:`~deep_impression.models.recurrent.step_features`.
    """

    def __init__(self, store, base, step_seconds=1.0, frames_per_step=None):
        self.store = store if isinstance(store, ClipStore) else ClipStore(
            store)
        self.base = os.fspath(base)
        self.step_seconds = float(step_seconds)
        self.frames_per_step = frames_per_step
        digest = weights.file_digests(self.base)[0][:weights.SHORT_DIGEST]
        key = '{}_{:g}s_{}'.format(digest, self.step_seconds,
                                   'all' if frames_per_step is None
                                   else '{}f'.format(frames_per_step))
        self.root = os.path.join(self.store.root, FEATURES_DIR, key)

    def path(self, clip_id):
        return os.path.join(self.root, clip_id + '.npy')

    def __contains__(self, clip_id):
        return os.path.isfile(self.path(clip_id))

    def get(self, clip_id):
        """``(T, 512)`` float32 features of a cached clip.

        Raises:
            DeepImpressionError: the file cannot be read or is not ``(T,
                512)`` float32 (written by other code, or damaged), in one
                line naming it.
        """
        from deep_impression.models.recurrent import INPUT
        path = self.path(clip_id)
        try:
            features = fileio.load_npy(path)
        except (OSError, ValueError) as e:
            raise DeepImpressionError('{}: cannot read cached features ({}); '
                                      'remove it to compute it again'.format(
                                          path, e)) from None
        if features.ndim != 2 or features.shape[0] < 1 or \
                features.shape[1] != INPUT or features.dtype != numpy.float32:
            raise DeepImpressionError(
                '{}: cached features are {} {}, expected (T, {}) float32; '
                'remove it to compute it again'.format(
                    path, features.dtype, tuple(features.shape), INPUT))
        return features

    def compute(self, model, clip_id):
        """Features of one clip computed with ``model`` (not cached)."""
        from deep_impression.models.recurrent import step_features
        audio = numpy.asarray(self.store.audio(clip_id), dtype=numpy.float32)
        return step_features(
            model, audio, lambda idx: self.store.frames(clip_id, idx),
            self.store.num_frames(clip_id), self.step_seconds,
            self.frames_per_step, self.store.sample_rate)

    def fill(self, clip_ids, model=None, device=None, show_progress=None):
        """Compute and write the features of the clips not yet cached.

        Args:
            clip_ids: clips of the store.
            model: the challenge network (default: loaded from ``base``).

        Returns:
            the number of clips computed.
        """
        missing = [c for c in clip_ids if c not in self]
        if not missing:
            return 0
        if model is None:
            from deep_impression.models.weights import load_model
            model = load_model(self.base, device=device)
        disable = None if show_progress is None else not show_progress
        for clip_id in progress(missing, desc='features', unit='clip',
                                disable=disable):
            if clip_id in self:   # written meanwhile by another process
                continue
            features = self.compute(model, clip_id)
            with fileio.atomic_path(self.path(clip_id), suffix='.npy') as tmp:
                numpy.save(tmp, features)
        return len(missing)


class SequenceDataset(chainer.dataset.DatasetMixin):
    """Cached features of a split's clips, one clip per example.

    Examples are ``(features (T, 512) float32, length int32, labels (5,)
    float32)``; ``chainer.dataset.concat_examples(batch, padding=0)``
    batches clips of different lengths (padded at the end; ``length`` says
    how many time points are real).
    """

    def __init__(self, cache, split):
        self.cache = cache
        self.split = split
        self.clip_ids = cache.store.clip_ids(split)

    def __len__(self):
        return len(self.clip_ids)

    def get_example(self, i):
        clip_id = self.clip_ids[i]
        features = self.cache.get(clip_id)
        return (features, numpy.int32(len(features)),
                self.cache.store.labels(clip_id))
