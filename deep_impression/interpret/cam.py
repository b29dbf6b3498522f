"""Class activation maps of the audiovisual network (paper §3.1, Zhou et
al. 2016).

The network ends in global average pooling and one fully connected layer,
which is the structure CAM needs: for trait ``t`` and the 256 units of the
visual stream's last block (``res5b_relu``),

    CAM_t(x, y) = sum_i W_fc[t, 256 + i] * unit_i(x, y)

and its mean over positions is exactly the visual part of trait ``t``'s value
before ``tanh`` (``W_fc[t, 256:] @ pool5``). The auditory stream gives a
temporal map the same way, with ``W_fc[t, :256]`` over its 256 units along
time. The fused prediction is ``tanh(mean audio map + mean visual map +
b_t)``, scaled to [0, 1].

Per-frame predictions (used to rank frames) fuse one frame's pooled visual
features with the whole clip's pooled audio features.

CAM-DAN+ (Ventura et al. 2017, eq. (1)-(2); :mod:`~deep_impression.models.
dan`) has no audio: ``CAM_t(x, y) = sum_i W_fc[t, i] * unit_i(x, y)`` over
the 512 units of conv5_3, the mean of the map is trait ``t``'s value
before the sigmoid less its bias, and the audio map is empty. DAN+ has no
such map (its FC layer weighs L2-normalised poolings).
"""

import collections

from deep_impression import _compat  # noqa: F401  (before chainer)

import chainer
import numpy

from deep_impression import inputs, media
from deep_impression.constants import FPS, SAMPLE_RATE, TRAITS
from deep_impression.errors import InputError, MediaError
from deep_impression.interpret import networks
from deep_impression.interpret.fields import field_centre, receptive_fields
from deep_impression.interpret.networks import fc_weights  # noqa: F401
from deep_impression.models.audiovisual import AUDITORY

#: The layer whose units CAM weighs: the last block of each stream.
CAM_LAYER = 'res5b_relu'


def _to_cpu(x):
    return numpy.asarray(chainer.backend.CpuDevice().send(x))


def visual_maps(model, frames, batch=16):
    """Visual class activation maps and pooled features of frames.

    Args:
        model: an :class:`~deep_impression.AudiovisualNetwork` or a
            :class:`~deep_impression.models.dan.CAMDANPlus`.
        frames: ``(T, H, W, 3)`` uint8 RGB frames (any size >= 32x32).
        batch: frames per forward pass.

    Returns:
        ``(cams, features)``: ``cams`` ``(T, 5, h, w)`` float32, one map per
        trait (TRAITS order) on the grid of
        :func:`~deep_impression.interpret.networks.cam_layer`
        (``res5b_relu``: ``h, w = 9, 15`` for 256x456 frames; conv5_3: 14x14
        for CAM-DAN+ on 224x224 input); ``features`` ``(T, U)`` float32,
        the maps averaged over positions (the FC layer's visual input).
    """
    frames = inputs.check_frames(frames)
    _, W_vis, _ = fc_weights(model)
    cams, features = [], []
    for start in range(0, len(frames), batch):
        units = networks.cam_units(
            model, inputs.frames_to_nchw(frames[start:start + batch]))
        cams.append(numpy.einsum('ti,nihw->nthw', W_vis, units))
        features.append(units.mean(axis=(2, 3)))
    return (numpy.concatenate(cams).astype(numpy.float32),
            numpy.concatenate(features).astype(numpy.float32))


AudioMap = collections.namedtuple('AudioMap', ['cam', 'times', 'features'])
AudioMap.__doc__ = """The auditory stream's temporal activation map.

``cam``: ``(5, L)`` float32, one row per trait; ``times``: ``(L,)`` seconds,
the centre of each position's receptive field; ``features``: ``(256,)``
float32 pooled audio features (``pool5``).
"""


def audio_map(model, audio):
    """Temporal class activation map of a clip's audio.

    Args:
        model: an :class:`~deep_impression.AudiovisualNetwork`.
        audio: 1-D float32 16 kHz samples in [-1, 1] (the whole clip, as
            the release runs it).

    Returns:
        :class:`AudioMap`.
    """
    if networks.is_visual(model):   # frames only: an empty map
        return AudioMap(numpy.zeros((len(TRAITS), 0), numpy.float32),
                        numpy.zeros(0), numpy.zeros(0, numpy.float32))
    audio = inputs.check_audio(audio)
    W_aud, _, _ = fc_weights(model)
    with chainer.using_config('train', False), \
            chainer.using_config('enable_backprop', False):
        a = model.device.send(audio.reshape(1, 1, 1, -1))
        units = _to_cpu(model.aud.extract(a, [CAM_LAYER])[CAM_LAYER].array)
    units = units[0, :, 0, :].astype(numpy.float64)          # (256, L)
    cam = W_aud @ units
    field = receptive_fields(AUDITORY)[CAM_LAYER]
    times = numpy.array([field_centre(field, 0, i)[1]
                         for i in range(units.shape[1])]) / SAMPLE_RATE
    return AudioMap(cam.astype(numpy.float32), times,
                    units.mean(axis=1).astype(numpy.float32))


def frame_predictions(model, audio_features, visual_features):
    """Traits of single frames: each frame's pooled visual features fused
    with the clip's pooled audio features.

    Args:
        audio_features: ``(256,)`` float32 (the clip's).
        visual_features: ``(T, 256)`` float32 (one row per frame).

    Returns:
        ``(T, 5)`` float32 traits in [0, 1], TRAITS order.
    """
    v = numpy.asarray(visual_features, numpy.float32)
    a = numpy.broadcast_to(numpy.asarray(audio_features, numpy.float32),
                           (len(v), len(audio_features)))
    return numpy.asarray(model.fuse_features(a, v), dtype=numpy.float32)


def upsample(cam, height, width):
    """Bilinear resize of a ``(h, w)`` map to ``(height, width)`` pixels
    (float32), as CAM overlays do."""
    import cv2
    return cv2.resize(numpy.asarray(cam, numpy.float32), (width, height),
                      interpolation=cv2.INTER_LINEAR)


Explanation = collections.namedtuple('Explanation', [
    'video', 'frame_indices', 'frames', 'cams', 'frame_traits', 'traits',
    'audio', 'audio_map'])
Explanation.__doc__ = """What :func:`explain_video` finds.

``frame_indices`` ``(K,)`` (at 25 frames/s), ``frames`` ``(K, H, W, 3)``
uint8, ``cams`` ``(K, 5, h, w)``, ``frame_traits`` ``(K, 5)`` (each frame
fused with the clip's audio), ``traits`` ``(5,)`` (the K frames' mean
visual features fused with the audio features: the release's prediction
restricted to the sampled frames), ``audio`` the 16 kHz waveform,
``audio_map`` an :class:`AudioMap`.
"""


def explain_clip(model, audio, frames, frame_indices, video=''):
    """Activation maps of already decoded frames and audio of one clip."""
    amap = audio_map(model, audio)
    cams, features = visual_maps(model, frames)
    frame_traits = frame_predictions(model, amap.features, features)
    traits = frame_predictions(model, amap.features,
                               features.mean(axis=0, keepdims=True))[0]
    return Explanation(video, numpy.asarray(frame_indices), frames, cams,
                       frame_traits, traits, audio, amap)


def explain_video(path, model, k=8):
    """Activation maps of ``k`` frames spread over a video, and its audio.

    The video is decoded twice with the bundled ffmpeg (456x256, 25 frames/s,
    16 kHz): once to count frames, once to keep the sampled ones, so a long
    video never sits whole in memory.

    Raises:
        MediaError: unreadable video, no audio, under 1 s of audio.
    """
    if k < 1:
        raise InputError('--frames: need at least 1 frame, got {}'.format(k))
    audio = media.load_clip_audio(path)
    n = sum(len(chunk) for chunk in media.iter_frames(path))
    wanted = inputs.even_indices(n, k)
    kept, start = [], 0
    for chunk in media.iter_frames(path):
        for i in wanted[(wanted >= start) & (wanted < start + len(chunk))]:
            kept.append(chunk[i - start].copy())
        start += len(chunk)
    if len(kept) != len(wanted):
        raise MediaError('{}: frame count changed between two decodings'
                         .format(path))
    return explain_clip(model, audio, numpy.stack(kept), wanted, video=path)


def summary(explanation, decimals=6):
    """JSON-ready summary of an :class:`Explanation`: predictions, and per
    trait the maps (rounded), their range and the peak's position in frame
    pixels; the audio map with its times."""
    e = explanation
    H, W = e.frames.shape[1:3]
    h, w = e.cams.shape[2:]
    r = lambda a: numpy.round(numpy.asarray(a, numpy.float64),  # noqa: E731
                              decimals).tolist()
    traits = {}
    for t, name in enumerate(TRAITS):
        peaks = []
        for c in e.cams[:, t]:
            y, x = numpy.unravel_index(numpy.argmax(c), c.shape)
            peaks.append([round((x + 0.5) * W / w, 1),
                          round((y + 0.5) * H / h, 1)])
        traits[name] = {
            'prediction': round(float(e.traits[t]), decimals),
            'frame_predictions': r(e.frame_traits[:, t]),
            'visual_map_mean': r(e.cams[:, t].mean(axis=(1, 2))),
            'visual_map_min': r(e.cams[:, t].min(axis=(1, 2))),
            'visual_map_max': r(e.cams[:, t].max(axis=(1, 2))),
            'visual_map_peak_xy': peaks,
            'visual_maps': r(e.cams[:, t]),
            'audio_map_mean': round(float(e.audio_map.cam[t].mean()),
                                    decimals),
            'audio_map': r(e.audio_map.cam[t]),
        }
    return {
        'video': e.video,
        'frame_size': [int(W), int(H)],
        'frame_indices': [int(i) for i in e.frame_indices],
        'frame_times': r(numpy.asarray(e.frame_indices) / FPS),
        'visual_map_size': [int(w), int(h)],
        'audio_map_times': r(e.audio_map.times),
        'traits': traits,
    }
