"""Faces in frames: detection, OpenFace boxes and aligned face crops.

Detection uses the Haar cascades that OpenCV ships (``cv2.data``): the
frontal face detector, then the eye detector inside the face's upper part.
Ventura et al. (2017) used OpenFace; its boxes can be read instead
(:func:`openface_box`).

Aligned crops (paper §4.3): the two eye centres are mapped by a similarity
transform (rotation, scale, shift) to fixed places in a 224x224 crop
(:data:`ALIGNED_EYES`). When the eye detector does not give two plausible
eyes, the eyes are placed where they sit in an average Haar face box
(:data:`BOX_EYES`), so both kinds of crops share one layout.
"""

import os

import numpy

from deep_impression.constants import FRAME_CROP
from deep_impression.errors import DeepImpressionError

FACE_CASCADE = 'haarcascade_frontalface_default.xml'
EYE_CASCADE = 'haarcascade_eye.xml'

#: Eye centres ``((x, y), (x, y))`` in a box of the Haar frontal face
#: detector, as fractions of its width and height (measured on detections).
BOX_EYES = ((0.28, 0.37), (0.72, 0.37))

#: Where an aligned crop puts the eye centres (fractions of its side).
ALIGNED_EYES = ((0.35, 0.40), (0.65, 0.40))

#: Side of an aligned face crop: the network's training crop (paper §4.3).
FACE_SIZE = FRAME_CROP


def _cascade(name):
    import cv2
    if not hasattr(cv2, 'CascadeClassifier'):
        raise DeepImpressionError(
            'OpenCV {} has no Haar cascade detector (OpenCV 5 moved it out); '
            'install opencv-python-headless<5'.format(cv2.__version__))
    path = os.path.join(cv2.data.haarcascades, name)
    if not os.path.exists(path):
        raise DeepImpressionError('{}: OpenCV\'s Haar cascade file is missing '
                                  '(install opencv-python-headless<5)'
                                  .format(path))
    classifier = cv2.CascadeClassifier(path)
    if classifier.empty():
        raise DeepImpressionError('{}: cannot load this Haar cascade'.format(
            path))
    return classifier


def _gray(frame):
    import cv2
    frame = numpy.asarray(frame)
    if frame.dtype != numpy.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise DeepImpressionError('face detection: expected an (H, W, 3) '
                                  'uint8 RGB frame, got {} {}'.format(
                                      frame.dtype, frame.shape))
    return cv2.equalizeHist(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))


class FaceDetector(object):
    """OpenCV's Haar cascade face and eye detectors.

    Args:
        scale_factor, min_neighbors: ``detectMultiScale``'s settings.
        min_face: smallest face side, as a fraction of the frame height.

    Picklable (the cascades are loaded again in each process).
    """

    def __init__(self, scale_factor=1.1, min_neighbors=5, min_face=0.1):
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_face = min_face
        self._faces = self._eyes = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state['_faces'] = state['_eyes'] = None
        return state

    def faces(self, frame):
        """Face boxes ``(n, 4)`` int ``(x0, y0, x1, y1)`` (end exclusive),
        largest first."""
        if self._faces is None:
            self._faces = _cascade(FACE_CASCADE)
        gray = _gray(frame)
        side = max(24, int(self.min_face * gray.shape[0]))
        found = self._faces.detectMultiScale(
            gray, scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors, minSize=(side, side))
        boxes = numpy.array([(x, y, x + w, y + h) for x, y, w, h in found],
                            dtype=int).reshape(-1, 4)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        return boxes[numpy.argsort(-area, kind='stable')]

    def face(self, frame):
        """The largest face box ``(x0, y0, x1, y1)``, or None."""
        boxes = self.faces(frame)
        return tuple(int(v) for v in boxes[0]) if len(boxes) else None

    def eyes(self, frame, box):
        """Eye centres ``((x, y), (x, y))`` (image-left first) inside a face
        box, or None unless two plausible eyes are found (one in each half
        of the box's upper part, level within a quarter of the box width,
        0.25 to 0.7 box widths apart)."""
        if self._eyes is None:
            self._eyes = _cascade(EYE_CASCADE)
        x0, y0, x1, y1 = box
        w = x1 - x0
        upper = _gray(frame[y0:y0 + int(0.6 * (y1 - y0)), x0:x1])
        found = self._eyes.detectMultiScale(
            upper, scaleFactor=1.1, minNeighbors=5,
            minSize=(max(6, w // 10), max(6, w // 10)))
        if len(found) < 2:
            return None
        centres = [(x0 + x + ew / 2, y0 + y + eh / 2, ew * eh)
                   for x, y, ew, eh in found]
        left = [c for c in centres if c[0] < x0 + w / 2]
        right = [c for c in centres if c[0] >= x0 + w / 2]
        if not left or not right:
            return None
        lx, ly, _ = max(left, key=lambda c: c[2])
        rx, ry, _ = max(right, key=lambda c: c[2])
        if not (0.25 * w <= rx - lx <= 0.7 * w and abs(ry - ly) <= 0.25 * w):
            return None
        return (lx, ly), (rx, ry)


def box_eyes(box):
    """Eye centres estimated from a face box with :data:`BOX_EYES`."""
    x0, y0, x1, y1 = box
    return tuple((x0 + fx * (x1 - x0), y0 + fy * (y1 - y0))
                 for fx, fy in BOX_EYES)


def alignment_matrix(left_eye, right_eye, size=FACE_SIZE):
    """The 2x3 similarity transform taking the eye centres (frame pixels) to
    :data:`ALIGNED_EYES` in a ``size x size`` crop."""
    s1 = complex(*left_eye)
    s2 = complex(*right_eye)
    d1 = complex(*ALIGNED_EYES[0]) * size
    d2 = complex(*ALIGNED_EYES[1]) * size
    if s1 == s2:
        raise DeepImpressionError('face alignment: both eyes at {}'.format(
            left_eye))
    c = (d2 - d1) / (s2 - s1)          # rotation and scale
    t = d1 - c * s1
    return numpy.array([[c.real, -c.imag, t.real],
                        [c.imag, c.real, t.imag]])


def align_face(frame, left_eye, right_eye, size=FACE_SIZE):
    """A ``(size, size, 3)`` uint8 crop with the eyes at
    :data:`ALIGNED_EYES` (bilinear; outside the frame repeats its edge)."""
    import cv2
    M = alignment_matrix(left_eye, right_eye, size)
    return cv2.warpAffine(numpy.ascontiguousarray(frame), M, (size, size),
                          flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def openface_box(landmarks, scale=(1.0, 1.0)):
    """Face box ``(x0, y0, x1, y1)`` around 68 OpenFace landmarks
    ``(68, 2)``, scaled by ``(sx, sy)`` (e.g. from the 1280x720 video
    OpenFace read to 456x256 frames)."""
    pts = numpy.asarray(landmarks, numpy.float64) * numpy.asarray(scale)
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    return (int(numpy.floor(x0)), int(numpy.floor(y0)),
            int(numpy.ceil(x1)) + 1, int(numpy.ceil(y1)) + 1)


def openface_eyes(landmarks, scale=(1.0, 1.0)):
    """Eye centres (image-left first) from 68 OpenFace landmarks: means of
    points 36-41 and 42-47 (the 68-point layout's eye contours)."""
    pts = numpy.asarray(landmarks, numpy.float64) * numpy.asarray(scale)
    a, b = pts[36:42].mean(axis=0), pts[42:48].mean(axis=0)
    left, right = (a, b) if a[0] <= b[0] else (b, a)
    return tuple(left), tuple(right)


class FaceCrops(object):
    """Frame transform of the faces-only variant (paper §4.3).

    Called on a chunk of frames, returns the aligned face crop of each frame
    where a face is found (its largest face), and how many frames had none::

        crops, n_dropped = FaceCrops()(chunk)

    Aligned on the eyes when the eye detector finds two, else on the face
    box (:func:`box_eyes`). Picklable, for preprocessing in several
    processes. Counts over its lifetime are kept in :attr:`counts`.

    Args:
        size: crop side in pixels (224).
        detector: a :class:`FaceDetector` (default settings if None).
    """

    def __init__(self, size=FACE_SIZE, detector=None):
        self.size = size
        self.detector = detector if detector is not None else FaceDetector()
        self.counts = {'frames': 0, 'eyes': 0, 'box': 0, 'dropped': 0}

    def crop(self, frame):
        """``(crop, how)`` with how in ``'eyes'``, ``'box'``; or
        ``(None, 'dropped')`` when no face is found."""
        box = self.detector.face(frame)
        if box is None:
            return None, 'dropped'
        eyes = self.detector.eyes(frame, box)
        how = 'eyes' if eyes is not None else 'box'
        if eyes is None:
            eyes = box_eyes(box)
        return align_face(frame, eyes[0], eyes[1], self.size), how

    def __call__(self, frames):
        """``(k, H, W, 3)`` uint8 -> ``((m, size, size, 3) uint8,
        n_dropped)`` with ``m + n_dropped = k``."""
        frames = numpy.asarray(frames)
        if frames.ndim != 4 or frames.shape[3] != 3 or \
                frames.dtype != numpy.uint8:
            raise DeepImpressionError('face crops: expected (k, H, W, 3) '
                                      'uint8 frames, got {} {}'.format(
                                          frames.dtype, frames.shape))
        crops = []
        for frame in frames:
            crop, how = self.crop(frame)
            self.counts['frames'] += 1
            self.counts[how] += 1
            if crop is not None:
                crops.append(crop)
        out = (numpy.stack(crops) if crops else
               numpy.zeros((0, self.size, self.size, 3), numpy.uint8))
        return out, len(frames) - len(crops)


def dropped_frames(store_dir):
    """``(frames kept, frames dropped, clips)`` of a faces-only store, from
    its manifest (clips where no frame had a face are failures there)."""
    from deep_impression.data.store import read_manifest
    kept = dropped = clips = 0
    for record in read_manifest(store_dir).values():
        if record.get('status') == 'ok':
            kept += int(record.get('num_frames', 0))
            dropped += int(record.get('frames_dropped', 0))
            clips += 1
    return kept, dropped, clips


def print_dropped(store_dir, file=None):
    """Say how many frames of a faces-only store had no face."""
    import sys
    kept, dropped, clips = dropped_frames(store_dir)
    total = kept + dropped
    print('faces: {} of {} frames of {} clips had no detected face and were '
          'dropped ({:.1f}%)'.format(dropped, total, clips,
                                     100.0 * dropped / max(total, 1)),
          file=file or sys.stderr)
