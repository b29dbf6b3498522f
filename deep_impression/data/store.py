"""The clip store: preprocessed clips, built for fast random frame access.

Training (paper §2.2) reads one random frame and a random 3.136 s audio crop
per example, 32 examples a step; evaluation (§2.3) reads every frame of a
clip in order. The store serves both without decoding video:

* ``clips/<clip id>.frames``: every frame (456x256 RGB at 25 frames/s, paper
  §3) as its own JPEG (quality :data:`JPEG_QUALITY`), packed one after the
  other in one file per clip behind an index of byte offsets, so one frame
  is one seek, one read and one JPEG decode (~2 ms). Layout, little-endian::

      8 bytes  magic b'DIFRAMES'
      uint32   format version (1)
      uint32   number of frames n
      uint32   width, uint32 height   (pixels)
      uint64   offsets[n + 1]         (byte offsets of the JPEGs; the last
                                       one is the file size)
      bytes    JPEG 0, JPEG 1, ...

* ``clips/<clip id>.audio.npy``: the 16 kHz mono audio as float32 in
  [-1, 1], exactly as decoded (memory-mapped for crops).
* ``manifest.jsonl``: one JSON line per clip (split, clip id, frame count,
  sample count, labels, the source's path, size and SHA-1, status and
  reason); the store only trusts clips whose line says ``ok``, and the line
  is written after both files were renamed into place.
* ``store.json``: the store's parameters; ``report.json``: what the last
  preprocessing run found wrong.

Why JPEG frames (``experiments/benchmark_data.py`` measures it on sharp
photographs with camera noise, 456x256): raw uint8 frames are 350 KB each,
so the 10,000 15-s clips would take 1.3 TB; PNG (lossless) is 220 KB a frame
(840 GB) and ~5x slower to decode (6.8 ms); an ``.npz`` per clip must
inflate the whole clip to reach one frame (1.2 s); a re-encoded video needs
a seek to a key frame and decoding of everything after it. JPEG at quality
90 is 33 KB a frame and ~1.4 ms to read at random, so a 15-s clip is about
13.5 MB with its audio and the whole dataset about 135 GB, under the 150 GB
budget (webcam video, smoother than those photographs, takes less; quality
95 would take 195 GB). Quality 90 changes pixel values by about 3 levels
on average there (much of it the added camera noise), the order of what the
clips' own H.264 coding already did.
"""

import json
import os
import struct

import numpy

from deep_impression import fileio
from deep_impression.constants import FPS, FRAME_CHUNK, SAMPLE_RATE, TRAITS
from deep_impression.errors import DeepImpressionError

#: JPEG quality of stored frames (see the module docstring).
JPEG_QUALITY = 90
FRAMES_MAGIC = b'DIFRAMES'
FRAMES_VERSION = 1
_HEADER = struct.Struct('<8sIIII')
MANIFEST = 'manifest.jsonl'
STORE_INFO = 'store.json'
REPORT = 'report.json'
CLIP_DIR = 'clips'


def frames_path(root, clip_id):
    return os.path.join(root, CLIP_DIR, clip_id + '.frames')


def audio_path(root, clip_id):
    return os.path.join(root, CLIP_DIR, clip_id + '.audio.npy')


def encode_frame(frame, quality=JPEG_QUALITY):
    """JPEG bytes of one (H, W, 3) uint8 RGB frame."""
    import cv2
    ok, data = cv2.imencode('.jpg', numpy.ascontiguousarray(frame[..., ::-1]),
                            [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise DeepImpressionError('JPEG encoding failed')
    return data.tobytes()


def decode_frame(data):
    """(H, W, 3) uint8 RGB frame of JPEG bytes."""
    import cv2
    bgr = cv2.imdecode(numpy.frombuffer(data, dtype=numpy.uint8),
                       cv2.IMREAD_COLOR)
    if bgr is None:
        raise DeepImpressionError('not a JPEG image')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def write_frames(path, jpegs, width, height):
    """Write JPEG-encoded frames as a ``.frames`` file (atomically).

    Args:
        path: destination.
        jpegs: list of JPEG byte strings, one per frame, in order.
        width, height: frame size in pixels.

    Returns:
        the file's size in bytes.
    """
    n = len(jpegs)
    start = _HEADER.size + 8 * (n + 1)
    offsets = numpy.empty(n + 1, dtype='<u8')
    offsets[0] = start
    offsets[1:] = start + numpy.cumsum([len(j) for j in jpegs], dtype='<u8')
    with fileio.atomic_open(path, 'wb') as f:
        f.write(_HEADER.pack(FRAMES_MAGIC, FRAMES_VERSION, n, width, height))
        f.write(offsets.tobytes())
        for j in jpegs:
            f.write(j)
    return int(offsets[-1])


def read_frames_index(path):
    """``(offsets (n + 1,) uint64, width, height)`` of a ``.frames`` file."""
    with open(path, 'rb') as f:
        head = f.read(_HEADER.size)
        if len(head) < _HEADER.size:
            raise DeepImpressionError('{}: truncated frames file'.format(path))
        magic, version, n, width, height = _HEADER.unpack(head)
        if magic != FRAMES_MAGIC or version != FRAMES_VERSION:
            raise DeepImpressionError('{}: not a frames file'.format(path))
        data = f.read(8 * (n + 1))
    # A file cut short ends inside its index (the bytes need not be a
    # whole number of offsets).
    if len(data) != 8 * (n + 1):
        raise DeepImpressionError('{}: truncated frames file'.format(path))
    return numpy.frombuffer(data, dtype='<u8'), width, height


def write_audio(path, audio):
    """Write (n,) float32 audio as ``.npy`` (atomically)."""
    with fileio.atomic_open(path, 'wb') as f:
        numpy.save(f, numpy.asarray(audio, dtype=numpy.float32))
    return os.path.getsize(path)


def read_manifest(root):
    """Latest manifest record of each clip: ``{clip id: dict}``.

    A broken last line (a run killed while appending) is ignored.
    """
    path = os.path.join(root, MANIFEST)
    records = {}
    if not os.path.exists(path):
        return records
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and 'clip_id' in record:
                records[record['clip_id']] = record
    return records


class ClipStore(object):
    """A preprocessed store directory (made by ``deep-impression preprocess``).

    Safe to pickle and to use from forked worker processes: it keeps no open
    files, only the manifest and the frame indices it has read.

    Args:
        root: the store directory.

    Raises:
        DeepImpressionError: ``root`` is not a store.
    """

    def __init__(self, root):
        self.root = os.fspath(root)
        info_path = os.path.join(self.root, STORE_INFO)
        if not os.path.isfile(info_path):
            raise DeepImpressionError(
                '{}: not a clip store (no {}; make one with '
                '`deep-impression preprocess`)'.format(self.root, STORE_INFO))
        with open(info_path) as f:
            self.info = json.load(f)
        self.records = read_manifest(self.root)
        self._ok = {k: r for k, r in self.records.items()
                    if r.get('status') == 'ok'}
        self._index = {}
        sizes = {(r['width'], r['height']) for r in self._ok.values()}
        if len(sizes) == 1:
            self.frame_size = sizes.pop()
        elif not sizes:
            self.frame_size = tuple(self.info.get('frame_size', (None, None)))
        else:
            # Faces-only crops may differ in size from clip to clip.
            self.frame_size = None
        self.sample_rate = self.info.get('sample_rate', SAMPLE_RATE)

    def __getstate__(self):
        state = self.__dict__.copy()
        state['_index'] = {}
        return state

    def __repr__(self):
        return 'ClipStore({!r}: {} clips)'.format(self.root, len(self._ok))

    def clip_ids(self, split=None):
        """Sorted ids of the clips of ``split`` (all splits if None) that
        preprocessed without error."""
        if split is not None and split not in ('train', 'validation', 'test'):
            raise DeepImpressionError(
                "split {!r}: expected 'train', 'validation' or 'test'".format(
                    split))
        return sorted(k for k, r in self._ok.items()
                      if split is None or r['split'] == split)

    def record(self, clip_id):
        """The manifest record of a clip (a dict)."""
        try:
            return self._ok[clip_id]
        except KeyError:
            raise DeepImpressionError('{}: no clip {!r} in the store'.format(
                self.root, clip_id)) from None

    def labels(self, clip_id):
        """(5,) float32 traits in TRAITS order."""
        labels = self.record(clip_id)['labels']
        return numpy.array([labels[t] for t in TRAITS], dtype=numpy.float32)

    def num_frames(self, clip_id):
        return int(self.record(clip_id)['num_frames'])

    def num_samples(self, clip_id):
        return int(self.record(clip_id)['num_samples'])

    def audio(self, clip_id, mmap=False):
        """(n,) float32 audio at 16 kHz, in [-1, 1].

        Args:
            mmap: return a read-only memory map (cheap crops) instead of
                reading the whole file.
        """
        self.record(clip_id)
        path = audio_path(self.root, clip_id)
        try:
            return fileio.load_npy(path, mmap)
        except (OSError, ValueError) as e:
            raise DeepImpressionError('{}: cannot read audio ({})'.format(
                path, e)) from None

    def _offsets(self, clip_id):
        offsets = self._index.get(clip_id)
        if offsets is None:
            self.record(clip_id)
            offsets, _, _ = read_frames_index(frames_path(self.root, clip_id))
            self._index[clip_id] = offsets
        return offsets

    def frame_bytes(self, clip_id, indices):
        """JPEG bytes of frames ``indices`` of a clip (a list)."""
        offsets = self._offsets(clip_id)
        n = offsets.size - 1
        path = frames_path(self.root, clip_id)
        out = []
        with open(path, 'rb') as f:
            for index in indices:
                index = int(index)
                if not 0 <= index < n:
                    raise IndexError('{}: frame {} of {} frames'.format(
                        clip_id, index, n))
                start, stop = int(offsets[index]), int(offsets[index + 1])
                f.seek(start)
                data = f.read(stop - start)
                if len(data) != stop - start:
                    raise DeepImpressionError('{}: truncated'.format(path))
                out.append(data)
        return out

    def frame(self, clip_id, index):
        """Frame ``index`` of a clip: (H, W, 3) uint8 RGB."""
        return decode_frame(self.frame_bytes(clip_id, [index])[0])

    def frames(self, clip_id, indices):
        """Frames ``indices`` of a clip: (k, H, W, 3) uint8 RGB."""
        return numpy.stack([decode_frame(d)
                            for d in self.frame_bytes(clip_id, indices)])

    def iter_frames(self, clip_id, chunk=256, indices=None):
        """Yield (k, H, W, 3) uint8 chunks (k <= chunk) of a clip's frames.

        Args:
            chunk: frames per chunk.
            indices: frame indices to read, in order (default: all frames).
        """
        if indices is None:
            indices = range(self.num_frames(clip_id))
        indices = list(indices)
        for start in range(0, len(indices), chunk):
            yield self.frames(clip_id, indices[start:start + chunk])

    def clip(self, clip_id):
        """A lazy :class:`Clip` view of one clip."""
        return Clip(self, clip_id)

    def split(self, split):
        """A :class:`StoreSplit` view of one split."""
        return StoreSplit(self, split)


def open_store(root):
    """``root`` itself when it is a :class:`ClipStore`, else the store in
    the folder ``root``."""
    return root if isinstance(root, ClipStore) else ClipStore(root)


class Clip(object):
    """A lazy view of one stored clip (nothing is read until asked).

    Attributes:
        clip_id (str), store (:class:`ClipStore`).
    """

    def __init__(self, store, clip_id):
        self.store = store
        self.clip_id = clip_id

    def __repr__(self):
        return 'Clip({!r})'.format(self.clip_id)

    @property
    def labels(self):
        """(5,) float32 in TRAITS order."""
        return self.store.labels(self.clip_id)

    @property
    def num_frames(self):
        return self.store.num_frames(self.clip_id)

    def audio(self, mmap=False):
        """(n,) float32 16 kHz audio (a read-only memory map if ``mmap``)."""
        return self.store.audio(self.clip_id, mmap=mmap)

    def frame(self, index):
        """(H, W, 3) uint8 RGB frame."""
        return self.store.frame(self.clip_id, index)

    def iter_frames(self, chunk=FRAME_CHUNK, indices=None):
        """(k, H, W, 3) uint8 chunks of the frames, in order."""
        return self.store.iter_frames(self.clip_id, chunk=chunk,
                                      indices=indices)


class StoreSplit(object):
    """The clips of one split, read by clip id: the interface the datasets
    and every interpretation analysis share (``clip_ids``, ``fps``,
    ``name``, ``audio``, ``num_frames``, ``frames``, ``labels``).

    Args:
        store: a :class:`ClipStore` (or its folder).
        split: ``'train'``, ``'validation'`` or ``'test'``.
    """

    def __init__(self, store, split):
        self.store = open_store(store)
        self.split = split
        self.clip_ids = self.store.clip_ids(split)
        self.fps = self.store.info.get('fps', FPS)
        self.name = '{} ({})'.format(self.store.root, split)

    def __len__(self):
        return len(self.clip_ids)

    def audio(self, clip_id):
        """(n,) float32 16 kHz audio."""
        return numpy.asarray(self.store.audio(clip_id), numpy.float32)

    def num_frames(self, clip_id):
        return self.store.num_frames(clip_id)

    def frames(self, clip_id, indices):
        """(k, H, W, 3) uint8 RGB frames at ``indices``."""
        return self.store.frames(clip_id, [int(i) for i in indices])

    def labels(self, clip_id):
        """(5,) float32 in TRAITS order."""
        return self.store.labels(clip_id)
