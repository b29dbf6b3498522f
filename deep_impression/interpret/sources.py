"""Clips to analyse: from a clip store split or from video files.

Both kinds give the same small interface, so every analysis runs on either:
``clip_ids``, ``audio(clip_id)``, ``num_frames(clip_id)``,
``frames(clip_id, indices)`` (``(k, H, W, 3)`` uint8) and ``fps``.
"""

import numpy

from deep_impression import media
from deep_impression.constants import FPS
from deep_impression.errors import DeepImpressionError


def StoreSource(root, split='test'):
    """The clips of one split of a clip store (``deep-impression
    preprocess``): a :class:`~deep_impression.data.store.StoreSplit`.

    Raises:
        DeepImpressionError: the split holds no clip.
    """
    from deep_impression.data.store import StoreSplit
    source = StoreSplit(root, split)
    if not source.clip_ids:
        raise DeepImpressionError('{}: no clip in split {!r}'.format(
            root, split))
    return source


class VideoSource(object):
    """Video files, decoded with the bundled ffmpeg (456x256, 25 frames/s).

    The frames asked for are kept, so showing them again in a figure does
    not decode the video a third time.
    """

    def __init__(self, paths):
        self.clip_ids = [str(p) for p in paths]
        if not self.clip_ids:
            raise DeepImpressionError('no video given')
        self.fps = FPS
        self.name = '{} video(s)'.format(len(self.clip_ids))
        self._counts = {}
        self._kept = {}

    def audio(self, clip_id):
        return media.load_clip_audio(clip_id)

    def num_frames(self, clip_id):
        if clip_id not in self._counts:
            self._counts[clip_id] = sum(
                len(c) for c in media.iter_frames(clip_id))
        return self._counts[clip_id]

    def frames(self, clip_id, indices):
        kept = self._kept.setdefault(clip_id, {})
        wanted = sorted({int(i) for i in indices} - set(kept))
        if wanted:
            start, pos = 0, 0
            for chunk in media.iter_frames(clip_id):
                while pos < len(wanted) and wanted[pos] < start + len(chunk):
                    kept[wanted[pos]] = chunk[wanted[pos] - start].copy()
                    pos += 1
                start += len(chunk)
                if pos == len(wanted):
                    break
            if pos < len(wanted):
                raise DeepImpressionError('{}: no frame {} ({} frames)'.format(
                    clip_id, wanted[pos], start))
        return numpy.stack([kept[int(i)] for i in indices])

    def labels(self, clip_id):
        return None


def open_source(store=None, split='test', videos=()):
    """A :class:`StoreSource` when ``store`` is given, else a
    :class:`VideoSource` of ``videos``."""
    if store:
        if videos:
            raise DeepImpressionError('give either --store or videos, not '
                                      'both')
        return StoreSource(store, split)
    if not videos:
        raise DeepImpressionError('nothing to analyse: give --store DIR or '
                                  'video files')
    return VideoSource(videos)
