"""Drawn faces for the synthetic stand-in, on which Ventura et al.'s study
(2017) means something (``make_dataset(..., look='face')``).

A face here is a skin-coloured oval with hair, two eyes (white, iris,
outline), two eyebrows, a nose and a mouth, drawn with OpenCV so that
OpenCV's own Haar cascade (:class:`~deep_impression.interpret.faces.
FaceDetector`, the face detector of the package) finds it in most frames
(``experiments/synth_faces.py`` measures how many). Four facial movements
stand in for action units, each an intensity in [0, 1] per frame:

=============  =====================================  ==================
movement       drawn as                               OpenFace AUs (0-5)
=============  =====================================  ==================
``smile``      mouth corners lifted                   AU12 (and AU06)
``brow``       eyebrows raised                        AU01, AU02
``blink``      eyelids closing                        AU45
``jaw``        mouth opening (with the voice)         AU26, AU25
=============  =====================================  ==================

A clip's four *face features* in [-1, 1] set how much of each movement it
shows (:func:`movement_tracks`), and the traits depend on them (the face
cues) as well as on the background's brightness and warmth (the context
cues) and the voice (:data:`FACE_MIXING`). :func:`write_openface_csv`
writes the true per-frame intensities as OpenFace 2.x would, so
``deep-impression action-units`` can be checked against a known answer.
"""

import numpy

from deep_impression import fileio

#: The facial movements, and the per-clip face features that drive them.
MOVEMENTS = ('smile', 'brow', 'blink', 'jaw')

#: OpenFace AUs each movement stands for, with the intensity (0-5 scale) at
#: full movement.
MOVEMENT_AUS = {'smile': {'AU12': 4.0, 'AU06': 2.0},
                'brow': {'AU01': 3.5, 'AU02': 3.5},
                'blink': {'AU45': 4.0},
                'jaw': {'AU26': 3.5, 'AU25': 2.5}}

SKIN = (224, 172, 140)
HAIR = (60, 40, 30)


def draw_face(frame, cx, cy, ry, smile=0.0, brow=0.0, blink=0.0, jaw=0.0):
    """Draw a face on ``frame`` (``(H, W, 3)`` uint8 RGB, in place).

    Args:
        cx, cy: centre (pixels); ry: vertical radius of the face (pixels).
        smile, brow, blink, jaw: movement intensities in [0, 1].

    Returns:
        ``frame``.
    """
    import cv2
    rx = 0.78 * ry
    aa = cv2.LINE_AA

    def at(x, y):      # face coordinates (-1..1) -> pixels
        return int(round(cx + x * rx)), int(round(cy + y * ry))

    def axes(a, b):
        return max(1, int(round(a * rx))), max(1, int(round(b * ry)))

    def thick(k):
        return max(1, int(round(k * ry)))
    cv2.ellipse(frame, at(0, -0.15), axes(1.08, 1.0), 0, 180, 360, HAIR, -1,
                aa)
    cv2.ellipse(frame, at(0, 0), axes(1.0, 1.0), 0, 0, 360, SKIN, -1, aa)
    cv2.ellipse(frame, at(0, -0.62), axes(0.95, 0.42), 0, 180, 360, HAIR, -1,
                aa)
    opening = 1.0 - 0.9 * blink
    for side in (-1, 1):
        eye = at(side * 0.38, -0.12)
        lids = axes(0.2, 0.09 * opening + 0.01)
        cv2.ellipse(frame, eye, lids, 0, 0, 360, (245, 245, 245), -1, aa)
        if opening > 0.3:
            cv2.circle(frame, eye, thick(0.08 * min(1.0, opening + 0.3)),
                       (40, 30, 25), -1, aa)
        cv2.ellipse(frame, eye, lids, 0, 0, 360, (80, 50, 40), 1, aa)
        y = -0.32 - 0.12 * brow
        cv2.line(frame, at(side * 0.2, y + 0.02), at(side * 0.58, y),
                 (50, 35, 25), thick(0.06), aa)
    cv2.line(frame, at(0, -0.05), at(-0.06, 0.25), (170, 120, 100),
             thick(0.04), aa)
    cv2.line(frame, at(-0.1, 0.27), at(0.1, 0.27), (160, 110, 95),
             thick(0.04), aa)
    w, lift, gap = 0.32, 0.12 * smile, 0.02 + 0.2 * jaw
    xs = numpy.linspace(-w, w, 9)
    top = [at(x, 0.55 - lift * (x / w) ** 2) for x in xs]
    bottom = [at(x, 0.55 - lift * (x / w) ** 2 + gap * (1 - (x / w) ** 2))
              for x in xs[::-1]]
    cv2.fillPoly(frame, [numpy.array(top + bottom, numpy.int32)],
                 (120, 40, 50), aa)
    return frame


def movement_tracks(rng, face_features, n_frames, fps, voice_envelope):
    """Per-frame intensities of the four movements of one clip.

    * smile: the clip's level ``(f + 1) / 2`` plus a slow wave;
    * brow: raises (bursts of about 0.6 s) at a rate set by the feature;
    * blink: blinks of 0.2 s at 0.2-1.2 per second;
    * jaw: the voice's syllable envelope scaled by the feature.

    Args:
        face_features: ``(4,)`` in [-1, 1], :data:`MOVEMENTS` order.
        voice_envelope: ``(n_frames,)`` in [0, 1], the voice at each frame.

    Returns:
        ``(n_frames, 4)`` float64 in [0, 1].
    """
    level = (numpy.asarray(face_features, numpy.float64) + 1.0) / 2.0
    t = numpy.arange(n_frames) / fps
    smile = numpy.clip(level[0] + 0.15 * numpy.sin(
        2 * numpy.pi * 0.3 * t + rng.uniform(0, 2 * numpy.pi)), 0, 1)

    end = n_frames / fps

    def bursts(rate, length, height):
        out = numpy.zeros(n_frames)
        start = rng.exponential(1.0 / rate)
        while start < end:
            inside = (t >= start) & (t < start + length)
            out[inside] = height * numpy.sin(
                numpy.pi * (t[inside] - start) / length)
            start += length + rng.exponential(1.0 / rate)
        return out
    brow = numpy.clip(bursts(0.2 + 1.3 * level[1], 0.6, 1.0), 0, 1)
    blink = numpy.clip(bursts(0.2 + 1.0 * level[2], 0.2, 1.0), 0, 1)
    jaw = numpy.clip((0.3 + 0.7 * level[3]) * numpy.asarray(
        voice_envelope, numpy.float64), 0, 1)
    return numpy.stack([smile, brow, blink, jaw], axis=1)


def au_intensities(tracks):
    """``(n, 17)`` OpenFace AU intensities (0-5, :data:`~deep_impression.
    interpret.openface.AUS` order) of movement ``tracks`` ``(n, 4)``; AUs
    no movement stands for stay 0."""
    from deep_impression.interpret.openface import AUS
    out = numpy.zeros((len(tracks), len(AUS)))
    for m, name in enumerate(MOVEMENTS):
        for au, scale in MOVEMENT_AUS[name].items():
            out[:, AUS.index(au)] = numpy.maximum(out[:, AUS.index(au)],
                                                  scale * tracks[:, m])
    return out


def write_openface_csv(path, tracks, fps):
    """The true intensities of one clip as OpenFace 2.x ``FeatureExtraction``
    writes them (``frame, face_id, timestamp, confidence, success, AU01_r,
    ...``, names padded with a space after each comma), atomically."""
    from deep_impression.interpret.openface import AUS
    au = au_intensities(tracks)
    header = (['frame', 'face_id', 'timestamp', 'confidence', 'success'] +
              [a + '_r' for a in AUS])
    lines = [', '.join(header)]
    for i, row in enumerate(au):
        lines.append(', '.join(
            [str(i + 1), '0', '{:.3f}'.format(i / fps), '0.98', '1'] +
            ['{:.2f}'.format(v) for v in row]))
    return fileio.write_text(path, '\n'.join(lines) + '\n')
