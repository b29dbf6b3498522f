"""What single units of the visual stream respond to (paper §4.4, after
Zhou et al. 2014).

For each unit of a layer, its response to a frame is its maximum over
positions; the unit's top-N frames are those with the N highest responses,
and the position of that maximum is recorded. Then:

* a figure of each unit's top frames with its receptive field marked
  (paper Figure 7);
* per unit, the spatial histogram of the maxima's positions over its top-N
  frames; summed over a layer's units and pooled to 14x14 cells of the frame
  (paper Figure 10, one heat map per layer);
* on aligned faces, masks of face regions (eyebrows, eyes, nose, mouth) on
  the 14x14 grid, and per region the units ranked by ``N'``, how many of
  their top-N maxima fall inside (paper Figures 8-9).

Pooling to 14x14: each layer position stands for the ``jump x jump`` square
of input pixels around its receptive field's centre; its count is split
over the 14x14 frame cells in proportion to the square's area inside each
(the part outside the frame is dropped). Where a layer's squares tile the
frame and 14 divides its grid, this is the paper's "adding the values
belonging to the same cell".
"""

import collections

from deep_impression import _compat  # noqa: F401  (before chainer)

import chainer
import numpy

from deep_impression import inputs
from deep_impression.errors import DeepImpressionError
from deep_impression.inputs import even_indices
from deep_impression.interpret import networks
from deep_impression.progress import progress

#: Spatial layers of the audiovisual network's visual stream, input to
#: output (DAN+ / CAM-DAN+: :data:`deep_impression.models.vgg.LAYERS`).
LAYERS = networks.RESNET_LAYERS

#: Paper §4.4: the grid of the last layer of VGG-face (conv5_3) on 224x224
#: faces, used for all layers' histograms and the face-region masks.
GRID = 14

#: Face regions in an aligned crop (:data:`~deep_impression.interpret.faces.
#: ALIGNED_EYES` puts the eyes at y = 0.40, x = 0.35 and 0.65): boxes
#: ``(x0, y0, x1, y1)`` as fractions of the crop's side, after the paper's
#: Figure 8 (right). A cell belongs to a region when its centre does.
FACE_REGIONS = collections.OrderedDict([
    ('eyebrows', [(0.20, 0.28, 0.80, 0.355)]),
    ('eyes', [(0.20, 0.355, 0.80, 0.46)]),
    ('nose', [(0.40, 0.46, 0.60, 0.62)]),
    ('mouth', [(0.30, 0.62, 0.70, 0.80)]),
])


UnitResponses = collections.namedtuple('UnitResponses', [
    'clip_ids', 'frame_indices', 'maxima', 'argmax', 'grids', 'frame_size',
    'mean_frame', 'fields'], defaults=(None,))
UnitResponses.__doc__ = """Responses of units to sampled frames.

``clip_ids``, ``frame_indices``: ``(R,)``; ``maxima[layer]`` ``(R, U)``
float32, each unit's maximum over positions; ``argmax[layer]`` ``(R, U)``
int, where (flat index into ``grids[layer]``, a ``(h, w)``);
``frame_size`` ``(H, W)``; ``mean_frame`` ``(H, W, 3)`` float32, the mean
of the frames (the average face on a faces-only store); ``fields``
``{layer: ReceptiveField}`` in frame pixels (None: the audiovisual
network's).
"""


def layer_responses(model, frames, layers, batch=8):
    """Each unit's maximum and where, for a chunk of frames.

    Returns:
        ``{layer: (maxima (T, U) float32, argmax (T, U) int, (h, w))}``
    """
    frames = inputs.check_frames(frames)
    out = {name: ([], [], None) for name in layers}
    with chainer.using_config('train', False), \
            chainer.using_config('enable_backprop', False):
        for start in range(0, len(frames), batch):
            x = model.device.send(
                inputs.frames_to_nchw(frames[start:start + batch]))
            picked = networks.extract(model, x, layers)
            for name in layers:
                a = numpy.asarray(chainer.backend.CpuDevice().send(
                    picked[name].array))
                n, u, h, w = a.shape
                flat = a.reshape(n, u, h * w)
                out[name][0].append(flat.max(axis=2))
                out[name][1].append(flat.argmax(axis=2))
                out[name] = (out[name][0], out[name][1], (h, w))
    return {name: (numpy.concatenate(m).astype(numpy.float32),
                   numpy.concatenate(i), grid)
            for name, (m, i, grid) in out.items()}


def unit_responses(model, source, layers=None, frames_per_clip=10):
    """:class:`UnitResponses` of frames sampled evenly from each clip of a
    :mod:`~deep_impression.interpret.sources` source (``layers``: default
    all of :func:`~deep_impression.interpret.networks.spatial_layers`)."""
    layers = list(layers or networks.spatial_layers(model))
    networks.check_layers(model, layers)
    clip_ids, indices = [], []
    maxima = {name: [] for name in layers}
    argmax = {name: [] for name in layers}
    grids, frame_size, total = {}, None, None
    for clip_id in progress(source.clip_ids, desc='units', unit='clip'):
        idx = even_indices(source.num_frames(clip_id), frames_per_clip)
        frames = source.frames(clip_id, idx)
        if frame_size is None:
            frame_size = frames.shape[1:3]
            total = numpy.zeros(frames.shape[1:], numpy.float64)
        elif frames.shape[1:3] != frame_size:
            raise DeepImpressionError(
                '{}: frames of {}x{}, the others are {}x{}'.format(
                    clip_id, frames.shape[2], frames.shape[1],
                    frame_size[1], frame_size[0]))
        total += frames.sum(axis=0)
        for name, (m, i, grid) in layer_responses(model, frames,
                                                  layers).items():
            maxima[name].append(m)
            argmax[name].append(i)
            grids[name] = grid
        clip_ids += [clip_id] * len(idx)
        indices.append(idx)
    R = len(clip_ids)
    return UnitResponses(
        numpy.array(clip_ids), numpy.concatenate(indices),
        {n: numpy.concatenate(v) for n, v in maxima.items()},
        {n: numpy.concatenate(v) for n, v in argmax.items()},
        grids, tuple(int(s) for s in frame_size),
        (total / max(R, 1)).astype(numpy.float32),
        networks.fields(model, tuple(int(s) for s in frame_size)))


def top_frames(maxima, n):
    """``(U, min(n, R))`` row indices of each unit's top frames, highest
    response first (ties: earlier frame first)."""
    maxima = numpy.asarray(maxima)
    n = min(n, maxima.shape[0])
    return numpy.argsort(-maxima, axis=0, kind='stable')[:n].T


def location_histograms(argmax, top, grid):
    """Per unit, the spatial histogram of its maxima over its top frames.

    Args:
        argmax: ``(R, U)`` flat positions of each unit's maximum.
        top: ``(U, N)`` rows of each unit's top frames.
        grid: the layer's ``(h, w)``.

    Returns:
        ``(U, h, w)`` counts, each unit's summing to N.
    """
    U, N = top.shape
    h, w = grid
    hist = numpy.zeros((U, h * w))
    pos = argmax[top, numpy.arange(U)[:, None]]               # (U, N)
    numpy.add.at(hist, (numpy.repeat(numpy.arange(U), N), pos.ravel()), 1)
    return hist.reshape(U, h, w)


def pooling_matrix(n, jump, start, length, size=GRID):
    """``(size, n)``: the share of layer position ``r``'s ``jump``-wide
    square (centred at ``start + r * jump``) inside frame cell ``i`` of
    ``size`` equal cells over ``length`` pixels (pixel centres at 0 ...
    length - 1, so the frame spans [-0.5, length - 0.5])."""
    lo_frame, hi_frame = -0.5, length - 0.5
    centres = start + numpy.arange(n) * jump
    lo = numpy.maximum(centres - jump / 2, lo_frame)
    hi = numpy.minimum(centres + jump / 2, hi_frame)
    edges = lo_frame + numpy.arange(size + 1) * length / size
    inter = numpy.clip(numpy.minimum(hi[None], edges[1:, None]) -
                       numpy.maximum(lo[None], edges[:-1, None]), 0, None)
    width = numpy.clip(hi - lo, 0, None)
    return numpy.divide(inter, width[None], out=numpy.zeros_like(inter),
                        where=width[None] > 0)


def pool_histogram(hist, layer, frame_size, size=GRID, field=None):
    """Pool ``(..., h, w)`` histograms of ``layer`` to ``(..., size, size)``
    cells of a frame of ``frame_size`` ``(H, W)`` (see the module's
    note); ``field``: the layer's receptive field in frame pixels (default:
    the audiovisual network's)."""
    if field is None:
        field = layer_field(None, layer)
    h, w = hist.shape[-2:]
    Py = pooling_matrix(h, field.jump[0], field.start[0], frame_size[0], size)
    Px = pooling_matrix(w, field.jump[1], field.start[1], frame_size[1], size)
    return numpy.einsum('iy,...yx,jx->...ij', Py, hist, Px)


def layer_field(responses, layer):
    """The receptive field of ``layer`` in frame pixels: from
    ``responses.fields`` when it has them, else the audiovisual
    network's."""
    fields = getattr(responses, 'fields', None)
    if fields:
        return fields[layer]
    from deep_impression.interpret.fields import receptive_fields
    from deep_impression.models.audiovisual import VISUAL
    return receptive_fields(VISUAL)[layer]


def region_masks(regions=FACE_REGIONS, size=GRID):
    """``{name: (size, size) bool}``: cells whose centre is in one of the
    region's boxes (fractions of the frame)."""
    centres = (numpy.arange(size) + 0.5) / size
    cy, cx = numpy.meshgrid(centres, centres, indexing='ij')
    masks = collections.OrderedDict()
    for name, boxes in regions.items():
        m = numpy.zeros((size, size), bool)
        for x0, y0, x1, y1 in boxes:
            m |= (cx >= x0) & (cx < x1) & (cy >= y0) & (cy < y1)
        masks[name] = m
    return masks


def rank_units(pooled, mask):
    """Units ranked for a region: ``(units, counts)``, ``counts`` being
    ``N'``, how many of each unit's top-N maxima fall in ``mask``
    (``pooled``: ``(U, 14, 14)`` pooled histograms), highest first."""
    counts = (pooled * mask).sum(axis=(1, 2))
    order = numpy.argsort(-counts, kind='stable')
    return order, counts[order]


def analyse(responses, top=50, regions=FACE_REGIONS):
    """Every §4.4 number from :class:`UnitResponses`.

    Returns:
        dict: per layer ``top`` (``(U, N)`` rows), ``pooled`` (``(U, 14,
        14)`` per unit), ``layer_histogram`` (``(14, 14)``, summed over
        units); ``regions``: per layer and region the ranked units and
        their ``N'``; ``masks``.
    """
    masks = region_masks(regions)
    out = {'layers': collections.OrderedDict(), 'masks': masks, 'top': top}
    for layer, maxima in responses.maxima.items():
        t = top_frames(maxima, top)
        hist = location_histograms(responses.argmax[layer], t,
                                   responses.grids[layer])
        pooled = pool_histogram(hist, layer, responses.frame_size,
                                field=layer_field(responses, layer))
        ranking = {name: rank_units(pooled, m) for name, m in masks.items()}
        out['layers'][layer] = {'top': t, 'histograms': hist,
                                'pooled': pooled,
                                'layer_histogram': pooled.sum(axis=0),
                                'ranking': ranking}
    return out


def read_regions(path):
    """Face regions from a JSON file ``{"name": [[x0, y0, x1, y1], ...]}``
    (fractions of the frame)."""
    import json
    try:
        with open(path) as f:
            data = json.load(f)
        regions = collections.OrderedDict(
            (str(k), [tuple(float(v) for v in box) for box in boxes])
            for k, boxes in data.items())
        if any(len(b) != 4 for boxes in regions.values() for b in boxes):
            raise ValueError('each box needs 4 numbers')
    except (OSError, ValueError, AttributeError, TypeError) as e:
        raise DeepImpressionError('{}: not a regions file ({})'.format(
            path, e)) from None
    return regions


def report(analysis, responses, source_name, layer, n_units=10):
    """Markdown text and a JSON-ready dict of the analysis."""
    lines = ['# Units of the visual stream (Ventura et al. 2017, §4.4)', '',
             'Source: {}; {} frames ({}x{}); top {} frames per unit.'.format(
                 source_name, len(responses.clip_ids),
                 responses.frame_size[1], responses.frame_size[0],
                 analysis['top']), '',
             '## Where each layer\'s units peak ({0}x{0} cells; share of '
             'maxima in the central 6x6 cells)'.format(GRID), '',
             '| layer | grid | units | central share |', '|---|---|---|---|']
    data = {'source': source_name, 'frames': int(len(responses.clip_ids)),
            'frame_size': [responses.frame_size[1], responses.frame_size[0]],
            'top': analysis['top'], 'layers': {}}
    c = slice(GRID // 2 - 3, GRID // 2 + 3)
    for name, a in analysis['layers'].items():
        h = a['layer_histogram']
        share = h[c, c].sum() / max(h.sum(), 1e-12)
        lines.append('| {} | {}x{} | {} | {:.3f} |'.format(
            name, responses.grids[name][0], responses.grids[name][1],
            a['pooled'].shape[0], share))
        data['layers'][name] = {
            'grid': list(responses.grids[name]),
            'layer_histogram': a['layer_histogram'].round(4).tolist(),
            'regions': {r: {'units': units[:n_units].tolist(),
                            'n_prime': counts[:n_units].round(3).tolist()}
                        for r, (units, counts) in a['ranking'].items()}}
    lines += ['', "## Best units per face region ({}; N' of {})".format(
        layer, analysis['top']), '', '| region | units (N\') |', '|---|---|']
    for r, (units, counts) in analysis['layers'][layer]['ranking'].items():
        lines.append('| {} | {} |'.format(r, ', '.join(
            '{} ({:.0f})'.format(u, n) for u, n in
            zip(units[:n_units], counts[:n_units]))))
    data['regions'] = {name: m.astype(int).tolist()
                       for name, m in analysis['masks'].items()}
    return '\n'.join(lines) + '\n', data
