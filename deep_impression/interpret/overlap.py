"""How much of what the network looks at is the face (paper §4.2).

For a frame, ``M_face`` is the face box's mask and ``M_CAM`` the activation
map, upsampled to the frame, binarised at 80% of its peak (paper: ``0.8 N``,
``N`` the map's maximum). The overlap is a recall-like measure::

    overlap = |M_face ∩ M_CAM| / |M_CAM|,

penalising map area outside the face but not a face the map does not cover.
Over the N frames with the highest predicted value of a trait (N = 50) the
paper reports a mean overlap of 0.76 and 72.80% of frames at >= 0.9.

Frames are ranked by a per-frame prediction: the frame's pooled visual
features fused with its clip's pooled audio features (the network has no
visual-only output). Maps can be negative (the FC weights have both
signs), so they are shifted to start at 0 before thresholding; for a map
whose minimum is 0 this is the paper's ``0.8 * max``.
"""

import collections

import numpy

from deep_impression.constants import TRAITS
from deep_impression.errors import DeepImpressionError, MediaError
from deep_impression.inputs import even_indices
from deep_impression.interpret import cam as cam_module
from deep_impression.progress import progress

#: Paper §4.2: threshold of the map, frames per trait, "mostly face" level,
#: and what the paper found.
CAM_THRESHOLD = 0.8
TOP_FRAMES = 50
FACE_OVERLAP = 0.9
PAPER = {'mean_overlap': 0.76, 'share_at_least_0.9': 0.728}


def box_mask(height, width, box):
    """``(height, width)`` bool mask of a box ``(x0, y0, x1, y1)`` (pixels,
    end exclusive; clipped to the frame)."""
    mask = numpy.zeros((height, width), bool)
    x0, y0, x1, y1 = [int(round(v)) for v in box]
    mask[max(y0, 0):max(min(y1, height), 0),
         max(x0, 0):max(min(x1, width), 0)] = True
    return mask


def cam_mask(cam, height, width, threshold=CAM_THRESHOLD):
    """``M_CAM``: the map upsampled to ``height x width`` and kept where it
    reaches ``threshold`` of its range above its minimum."""
    up = cam_module.upsample(cam, height, width).astype(numpy.float64)
    lo, hi = up.min(), up.max()
    if hi <= lo:
        return numpy.ones((height, width), bool)
    return up - lo >= threshold * (hi - lo)


def overlap(face_mask, map_mask):
    """``|face ∩ map| / |map|`` of two bool masks of one frame."""
    face_mask = numpy.asarray(face_mask, bool)
    map_mask = numpy.asarray(map_mask, bool)
    if face_mask.shape != map_mask.shape:
        raise DeepImpressionError('overlap: masks of shapes {} and {}'.format(
            face_mask.shape, map_mask.shape))
    area = map_mask.sum()
    if area == 0:
        raise DeepImpressionError('overlap: empty activation-map mask')
    return float((face_mask & map_mask).sum() / area)


FrameScores = collections.namedtuple('FrameScores', [
    'clip_ids', 'frame_indices', 'traits', 'cams', 'boxes', 'box_source',
    'frame_size'])
FrameScores.__doc__ = """Per-frame predictions, maps and face boxes.

``clip_ids`` ``(R,)`` str, ``frame_indices`` ``(R,)``, ``traits`` ``(R, 5)``
(frame + clip audio), ``cams`` ``(R, 5, h, w)``, ``boxes`` ``(R, 4)`` float
``(x0, y0, x1, y1)`` (NaN where no face was found), ``box_source``
('opencv' or 'openface'), ``frame_size`` ``(height, width)``.
"""


class OpenFaceBoxes(object):
    """Face boxes read from OpenFace CSV files (``<clip_id>.csv`` in a
    folder), landmarks scaled from the video size OpenFace read
    (``source_size``, width and height; the challenge's clips are
    1280x720) to the analysed frames."""

    def __init__(self, directory, source_size=(1280, 720)):
        self.directory = directory
        self.source_size = source_size
        self._tracks = {}

    def boxes(self, clip_id, frame_indices, fps, frame_size):
        from deep_impression.interpret import openface
        from deep_impression.interpret.faces import openface_box
        if clip_id not in self._tracks:
            path = openface.find_csv(self.directory, clip_id)
            if path is None:
                raise DeepImpressionError('{}: no OpenFace CSV for clip {}'
                                          .format(self.directory, clip_id))
            self._tracks[clip_id] = openface.read_csv(
                path, require_landmarks=True)
        track = self._tracks[clip_id]
        rows = openface.nearest_rows(track, numpy.asarray(frame_indices) / fps)
        H, W = frame_size
        scale = (W / self.source_size[0], H / self.source_size[1])
        out = numpy.full((len(rows), 4), numpy.nan)
        for i, r in enumerate(rows):
            if r >= 0:
                out[i] = openface_box(track.landmarks[r], scale)
        return out


def score_frames(model, source, frames_per_clip=10, faces=None,
                 on_error=None):
    """Predictions, activation maps and face boxes of frames sampled evenly
    from each clip (the paper used 10 frames per video).

    Args:
        model: an :class:`~deep_impression.AudiovisualNetwork`.
        source: a :mod:`~deep_impression.interpret.sources` source.
        frames_per_clip: frames sampled per clip.
        faces: a :class:`~deep_impression.interpret.faces.FaceDetector`
            (default) or :class:`OpenFaceBoxes`.
        on_error: optional callable given the
            :class:`~deep_impression.errors.MediaError` of a clip that
            cannot be read; the clip is skipped and the others go on
            (default: the error is raised).

    Returns:
        :class:`FrameScores`.

    Raises:
        DeepImpressionError: no clip could be read.
    """
    from deep_impression.interpret.faces import FaceDetector
    faces = faces if faces is not None else FaceDetector()
    clip_ids, indices, traits, cams, boxes = [], [], [], [], []
    frame_size = None
    for clip_id in progress(source.clip_ids, desc='frames', unit='clip'):
        try:
            idx, t, c, b, frame_size = _score_clip(
                model, source, clip_id, frames_per_clip, faces, frame_size)
        except MediaError as e:
            if on_error is None:
                raise
            on_error(e)
            continue
        clip_ids += [clip_id] * len(idx)
        indices.append(idx)
        traits.append(t)
        cams.append(c)
        boxes.append(b)
    if not clip_ids:
        raise DeepImpressionError('{}: no clip could be read'.format(
            source.name))
    return FrameScores(
        numpy.array(clip_ids), numpy.concatenate(indices),
        numpy.concatenate(traits), numpy.concatenate(cams),
        numpy.concatenate(boxes),
        'openface' if isinstance(faces, OpenFaceBoxes) else 'opencv',
        tuple(int(s) for s in frame_size))


def _score_clip(model, source, clip_id, frames_per_clip, faces, frame_size):
    """``(frame indices, per-frame traits, maps, face boxes, frame size)``
    of one clip (:func:`score_frames`)."""
    amap = cam_module.audio_map(model, source.audio(clip_id))
    idx = even_indices(source.num_frames(clip_id), frames_per_clip)
    frames = source.frames(clip_id, idx)
    if frame_size is not None and frames.shape[1:3] != frame_size:
        raise DeepImpressionError(
            '{}: frames of {}x{}, the others are {}x{}'.format(
                clip_id, frames.shape[2], frames.shape[1],
                frame_size[1], frame_size[0]))
    c, v = cam_module.visual_maps(model, frames)
    if isinstance(faces, OpenFaceBoxes):
        b = faces.boxes(clip_id, idx, source.fps, frames.shape[1:3])
    else:
        b = numpy.full((len(frames), 4), numpy.nan)
        for i, frame in enumerate(frames):
            box = faces.face(frame)
            if box is not None:
                b[i] = box
    return (idx, cam_module.frame_predictions(model, amap.features, v), c,
            b, frames.shape[1:3])


def face_overlap(scores, top=TOP_FRAMES, threshold=CAM_THRESHOLD,
                 face_level=FACE_OVERLAP):
    """The paper's §4.2 measures over the ``top`` frames of each trait.

    Frames of the top ones without a detected face are counted
    (``no_face``) and left out of the mean and share.

    Returns:
        dict: per trait (``traits[name]``: ``frames`` (list of dicts with
        clip, frame, prediction, overlap or None), ``mean_overlap``,
        ``share_at_least`` (fraction with overlap >= ``face_level``),
        ``no_face``) and ``all`` (the same pooled over the five traits).
    """
    H, W = scores.frame_size
    R = len(scores.traits)
    if R == 0:
        raise DeepImpressionError('face overlap: no frame scored')
    result = {'top': int(min(top, R)), 'threshold': threshold,
              'face_level': face_level, 'frames_scored': int(R),
              'frames_with_face': int(numpy.isfinite(
                  scores.boxes[:, 0]).sum()),
              'box_source': scores.box_source,
              'frame_size': [int(W), int(H)], 'paper': PAPER, 'traits': {}}
    pooled = []
    for t, name in enumerate(TRAITS):
        order = numpy.argsort(-scores.traits[:, t], kind='stable')[:top]
        frames, values = [], []
        for r in order:
            box = scores.boxes[r]
            value = None
            if numpy.isfinite(box[0]):
                value = overlap(box_mask(H, W, box),
                                cam_mask(scores.cams[r, t], H, W, threshold))
                values.append(value)
            frames.append({'row': int(r), 'clip': str(scores.clip_ids[r]),
                           'frame': int(scores.frame_indices[r]),
                           'prediction': float(scores.traits[r, t]),
                           'overlap': value})
        pooled += values
        result['traits'][name] = _stats(values, face_level, len(order))
        result['traits'][name]['top_frames'] = frames
    result['all'] = _stats(pooled, face_level, len(TRAITS) * result['top'])
    return result


def _stats(values, face_level, n):
    values = numpy.asarray(values, numpy.float64)
    return {
        'frames': n,
        'no_face': int(n - len(values)),
        'mean_overlap': float(values.mean()) if len(values) else None,
        'share_at_least': (float((values >= face_level).mean())
                           if len(values) else None),
    }


def report_markdown(result, source_name=''):
    """The overlap report as Markdown text."""
    fmt = lambda v, f: '-' if v is None else f.format(v)  # noqa: E731
    lines = [
        '# Face / activation-map overlap (Ventura et al. 2017, §4.2)',
        '',
        'Source: {}. {} frames scored, {} with a face ({} boxes, {}x{} '
        'frames).'.format(source_name, result['frames_scored'],
                          result['frames_with_face'], result['box_source'],
                          *result['frame_size']),
        'Per trait, the {} frames with the highest per-frame prediction '
        '(frame features fused with the clip\'s audio features); '
        'M_CAM = map >= {:g} of its range; overlap = |face ∩ M_CAM| / '
        '|M_CAM|.'.format(result['top'], result['threshold']),
        '',
        '| trait | frames | no face | mean overlap | overlap >= {:g} |'.format(
            result['face_level']),
        '|---|---|---|---|---|',
    ]
    rows = [(name, result['traits'][name]) for name in TRAITS]
    rows.append(('**all**', result['all']))
    for name, s in rows:
        lines.append('| {} | {} | {} | {} | {} |'.format(
            name, s['frames'], s['no_face'],
            fmt(s['mean_overlap'], '{:.3f}'),
            fmt(s['share_at_least'] if s['share_at_least'] is None
                else 100 * s['share_at_least'], '{:.2f}%')))
    lines += ['', 'Paper (VGG-face DAN+ on ChaLearn test frames): mean '
              'overlap {:.2f}, {:.2f}% of maps with overlap >= 0.9.'.format(
                  PAPER['mean_overlap'], 100 * PAPER['share_at_least_0.9']),
              '']
    return '\n'.join(lines)
