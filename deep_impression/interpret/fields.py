"""Receptive fields of the named layers of a stream, from its geometry.

For each axis a layer's output position ``i`` sees the input positions
``centre - (size - 1) / 2 ... centre + (size - 1) / 2`` with
``centre = start + i * jump`` (input pixels or samples). The usual
recurrence over the layers on the longest path (a block's two convolutions;
its 1x1 shortcut sees less) gives, for a layer of kernel ``k``, stride ``s``
and pad ``p``: ``jump' = jump * s``, ``size' = size + (k - 1) * jump``,
``start' = start + ((k - 1) / 2 - p) * jump``.

These are theoretical receptive fields: in the deep layers they are larger
than the frame (res5b: 435 pixels), so figures mark the part of it inside
the frame, centred where the unit is most active.
"""

import collections

from deep_impression.models.audiovisual import BLOCKS

ReceptiveField = collections.namedtuple('ReceptiveField',
                                        ['size', 'jump', 'start'])
ReceptiveField.__doc__ = """Receptive field of one layer's output positions.

Each field is a ``(vertical, horizontal)`` pair: ``size`` (input pixels or
samples), ``jump`` (input distance between neighbouring outputs) and
``start`` (input coordinate of the centre of output position 0; pixel
centres are at integer coordinates).
"""


def _layer_sequence(geometry):
    """``(name, [(ksize, stride, pad), ...])`` in stream order."""
    yield 'conv1_relu', [geometry.conv1]
    yield 'pool1', [geometry.pool1]
    for name, _, down in BLOCKS:
        first = geometry.down if down else geometry.block
        yield name + '_relu', [first, geometry.block]


def receptive_fields(geometry):
    """Receptive fields of every spatial layer of a stream.

    Args:
        geometry: :data:`~deep_impression.models.audiovisual.VISUAL` or
            :data:`~deep_impression.models.audiovisual.AUDITORY`.

    Returns:
        dict from layer name (``conv1_relu`` ... ``res5b_relu``) to
        :class:`ReceptiveField`.
    """
    size, jump, start = [1, 1], [1, 1], [0.0, 0.0]
    fields = {}
    for name, layers in _layer_sequence(geometry):
        for ksize, stride, pad in layers:
            for a in range(2):
                size[a] = size[a] + (ksize[a] - 1) * jump[a]
                start[a] = start[a] + ((ksize[a] - 1) / 2 - pad[a]) * jump[a]
                jump[a] = jump[a] * stride[a]
        fields[name] = ReceptiveField(tuple(size), tuple(jump), tuple(start))
    return fields


def field_box(field, y, x, height=None, width=None):
    """Input box ``(x0, y0, x1, y1)`` (pixels, end exclusive) seen by output
    position ``(y, x)``, clipped to ``height x width`` when given."""
    cy = field.start[0] + y * field.jump[0]
    cx = field.start[1] + x * field.jump[1]
    half_h = (field.size[0] - 1) / 2
    half_w = (field.size[1] - 1) / 2
    x0, y0 = cx - half_w, cy - half_h
    x1, y1 = cx + half_w + 1, cy + half_h + 1
    if width is not None:
        x0, x1 = max(x0, 0), min(x1, width)
    if height is not None:
        y0, y1 = max(y0, 0), min(y1, height)
    return x0, y0, x1, y1


def field_centre(field, y, x):
    """Input coordinates ``(cy, cx)`` of the centre of output ``(y, x)``."""
    return (field.start[0] + y * field.jump[0],
            field.start[1] + x * field.jump[1])
