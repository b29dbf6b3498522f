"""A faster CPU path for the streams' layers in training, still Chainer.

Chainer 7.8.1 trains the network on NumPy arrays at a small fraction of
what the processor's matrix products can do: its convolution builds an
``(N, C, kh, kw, OH, OW)`` patch array, then ``numpy.tensordot`` copies it
again into the layout the product wants, and copies the output once more
into ``(N, C, H, W)``; max pooling builds the same patch array to take an
argmax; batch normalisation recomputes its normalised input in the
backward pass. The ``FunctionNode``\\ s here compute the same functions
with fewer passes over memory:

* activations are kept **channel-major in memory** (``(C, N, H, W)``) while
  their shape stays Chainer's ``(N, C, H, W)`` (a transposed view), so that
  a convolution's patch matrix ``(C * kh * kw, N * OH * OW)`` is built with
  one copy from a strided view of the padded input, the product
  ``W (O, C * kh * kw) @ patches`` is one large GEMM, and its result
  ``(O, N * OH * OW)`` already is the next layer's layout (no transpose);
  the patch matrix is kept for the weight gradient instead of being built
  again;
* the auditory stream's ``1 x k`` kernels go through the same code with
  ``kh = 1``: the patch matrix has ``k`` rows per channel, nothing more;
* batch normalisation reduces over one contiguous axis per channel, keeps
  the normalised input for the backward pass, and applies the following
  ReLU in place where the graph has one (``conv1``, ``res_branch2a``);
* max pooling (``cover_all``, as Chainer's default) takes the running
  maximum over the ``kh * kw`` window offsets and remembers which offset
  won (the first, as Chainer's argmax), without a patch array.

The functions :func:`convolution`, :func:`batch_normalization` and
:func:`max_pooling` take the same links and arguments as the plain calls
and fall back to them when the path is off (``chainer.config.fast_cpu``,
set by :class:`~deep_impression.training.updater.Updater`), the arrays
are not NumPy float32 (CuPy on a GPU), batch normalisation is not in
training mode, or a link is another class (ChainerMN's multi-node batch
normalisation). Parameters, their names and the running averages are the
links' own, so snapshots and weight files are unchanged. The backward
passes are first order only (no double backpropagation), which is all
training needs.
"""

import collections

from deep_impression import _compat  # noqa: F401  (before chainer)

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
from chainer import function_node

#: ``chainer.config`` key switching the path on (default off).
CONFIG_KEY = 'fast_cpu'


def enabled():
    """Whether ``chainer.config.fast_cpu`` is set (False when unset)."""
    return bool(getattr(chainer.config, CONFIG_KEY, False))


def _applies(x):
    array = x.array if isinstance(x, chainer.Variable) else x
    return (enabled() and type(array) is numpy.ndarray and
            array.dtype == numpy.float32)


def _pair(v):
    return (v, v) if numpy.isscalar(v) else tuple(v)


def _channel_major(x):
    """``(N, C, H, W)`` -> ``(C, N * H * W)``, a view when ``x`` is already
    channel-major in memory (the outputs of this module), else a copy."""
    n, c, h, w = x.shape
    return x.transpose(1, 0, 2, 3).reshape(c, n * h * w)


def _as_nchw(y, n, h, w):
    """``(C, N * H * W)`` -> an ``(N, C, H, W)`` view of the same memory."""
    return y.reshape(-1, n, h, w).transpose(1, 0, 2, 3)


def _padded(x, pad, size, fill):
    """``x`` (N, C, H, W) copied channel-major into a ``(C, N) + size``
    array filled with ``fill`` around it, at offset ``pad``."""
    n, c, h, w = x.shape
    (ph, pw) = pad
    out = numpy.full((c, n) + tuple(size), fill, dtype=x.dtype)
    out[:, :, ph:ph + h, pw:pw + w] = x.transpose(1, 0, 2, 3)
    return out


def _windows(xp, ksize, stride, out_size):
    """Strided view ``(C, kh, kw, N, OH, OW)`` of a channel-major padded
    ``xp`` (C, N, Hp, Wp): element ``[c, i, j, n, y, x]`` is
    ``xp[c, n, i + sh * y, j + sw * x]``."""
    (kh, kw), (sh, sw), (oh, ow) = ksize, stride, out_size
    sc, sn, sy, sx = xp.strides
    return numpy.lib.stride_tricks.as_strided(
        xp, (xp.shape[0], kh, kw, xp.shape[1], oh, ow),
        (sc, sy, sx, sn, sy * sh, sx * sw), writeable=False)


class _Buffers(object):
    """Patch matrices no longer needed, by shape, for the next step.

    A training step builds the same large patch matrices every time (about
    2 GB at the paper's sizes); fresh ones cost the kernel a page fault and
    a zeroed page for every 4 KiB. Holds at most what one step had alive
    at once; :func:`release_buffers` empties it.
    """

    def __init__(self):
        self.free = collections.defaultdict(list)

    def take(self, shape, dtype):
        free = self.free.get((shape, dtype))
        return free.pop() if free else numpy.empty(shape, dtype=dtype)

    def give(self, array):
        self.free[(array.shape, array.dtype)].append(array)


_BUFFERS = _Buffers()


def release_buffers():
    """Free the patch matrices kept for reuse (e.g. after training)."""
    _BUFFERS.free.clear()


def _patches(xp, ksize, stride, out_size):
    """The patch matrix ``(C * kh * kw, N * OH * OW)`` of a channel-major
    padded ``xp``: :func:`_windows` copied in C order, into a buffer of
    :data:`_BUFFERS` (hand it back with ``_BUFFERS.give`` when done)."""
    view = _windows(xp, ksize, stride, out_size)
    out = _BUFFERS.take(view.shape, xp.dtype)
    # copyto walks the destination's order; ascontiguousarray would follow
    # the view's smallest strides (the kernel's, for a strided layer) and
    # copy a few elements at a time, several times slower.
    numpy.copyto(out, view)
    return out.reshape(view.shape[0] * view.shape[1] * view.shape[2], -1)


def _offset(k, s, o):
    """The slice of input rows that window offset ``k`` reads for ``o``
    outputs at stride ``s``."""
    return slice(k, k + s * (o - 1) + 1, s)


def _scatter_windows(g, ksize, stride, padded_size):
    """Adjoint of :func:`_windows`: ``g`` (C, kh, kw, N, OH, OW) summed
    into a zero ``(C, N, Hp, Wp)`` array at the positions each offset
    read."""
    c, kh, kw, n, oh, ow = g.shape
    sh, sw = stride
    out = numpy.zeros((c, n) + tuple(padded_size), dtype=g.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, :, _offset(i, sh, oh), _offset(j, sw, ow)] += g[:, i, j]
    return out


class Convolution2D(function_node.FunctionNode):
    """``F.convolution_2d(x, W, b, stride, pad)`` (no dilation, one group)
    as one patch matrix and one GEMM per pass.

    Inputs ``x`` (N, C, H, W), ``W`` (O, C, kh, kw), ``b`` (O,), float32;
    output ``(N, O, OH, OW)``, channel-major in memory.
    """

    def __init__(self, stride, pad):
        self.stride = _pair(stride)
        self.pad = _pair(pad)

    def forward_cpu(self, inputs):
        x, W, b = inputs
        self.retain_inputs((1,))
        n, c, h, w = self.x_shape = x.shape
        o, _, kh, kw = W.shape
        (sh, sw), (ph, pw) = self.stride, self.pad
        self.out_size = ((h + 2 * ph - kh) // sh + 1,
                         (w + 2 * pw - kw) // sw + 1)
        self.padded_size = (h + 2 * ph, w + 2 * pw)
        if self.pad == (0, 0):
            xp = x.transpose(1, 0, 2, 3)    # a 1x1 shortcut: no padding
        else:
            xp = _padded(x, self.pad, self.padded_size, 0)
        # The one copy: (C, kh, kw, N, OH, OW) in the GEMM's row-major
        # (C * kh * kw, N * OH * OW) layout, kept for the weight gradient.
        self.col = _patches(xp, (kh, kw), self.stride, self.out_size)
        y = numpy.matmul(W.reshape(o, -1), self.col)
        y += b[:, None]
        return _as_nchw(y, n, *self.out_size),

    def backward(self, indexes, grad_outputs):
        W, = self.get_retained_inputs()
        W = W.array
        o, c, kh, kw = W.shape
        n = self.x_shape[0]
        gy = _channel_major(grad_outputs[0].array)      # (O, N * OH * OW)
        grads = {}
        (ph, pw), (h, w) = self.pad, self.x_shape[2:]
        if 0 in indexes and self.stride == (1, 1) and ph < kh and pw < kw:
            # Stride 1: the input gradient is the correlation of gy, padded
            # by k - 1 - pad, with the flipped kernel: one more patch
            # matrix and a GEMM with K = O * kh * kw, instead of a GEMM with
            # K = O and kh * kw strided sums into the input.
            pad = (kh - 1 - ph, kw - 1 - pw)
            gyp = _padded(grad_outputs[0].array, pad,
                          (self.out_size[0] + 2 * pad[0],
                           self.out_size[1] + 2 * pad[1]), 0)
            gcol = _patches(gyp, (kh, kw), (1, 1), (h, w))
            flipped = numpy.ascontiguousarray(
                W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)).reshape(c, -1)
            grads[0] = _as_nchw(numpy.matmul(flipped, gcol), n, h, w)
            _BUFFERS.give(gcol.base)
        elif 0 in indexes:
            gcol = numpy.matmul(W.reshape(o, -1).T, gy).reshape(
                (c, kh, kw, n) + self.out_size)
            gxp = _scatter_windows(gcol, (kh, kw), self.stride,
                                   self.padded_size)
            grads[0] = gxp[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3)
        if 1 in indexes:
            grads[1] = numpy.matmul(gy, self.col.T).reshape(W.shape)
        if 2 in indexes:
            grads[2] = gy.sum(axis=1)
        _BUFFERS.give(self.col.base)
        self.col = None    # one backward pass per forward pass
        return tuple(chainer.Variable(grads[i]) if i in grads else None
                     for i in indexes)


class BatchNormalization(function_node.FunctionNode):
    """Training-mode batch normalisation over ``(N, H, W)`` per channel,
    optionally followed by ReLU, updating the link's running averages as
    ``L.BatchNormalization`` does (decay, unbiased variance).

    Inputs ``x`` (N, C, H, W), ``gamma`` and ``beta`` (C,), float32;
    output ``(N, C, H, W)``, channel-major in memory.
    """

    def __init__(self, link, relu):
        self.eps = link.eps
        self.decay = link.decay
        self.relu = relu
        # No update while Chainer recomputes a forward pass.
        self.averages = (None if chainer.config.in_recomputing
                         else (link.avg_mean, link.avg_var))

    def forward_cpu(self, inputs):
        x, gamma, beta = inputs
        n, c, h, w = x.shape
        xc = _channel_major(x)
        m = xc.shape[1]
        mean = xc.mean(axis=1)
        xhat = xc - mean[:, None]
        var = numpy.square(xhat).mean(axis=1)
        self.inv_std = numpy.reciprocal(numpy.sqrt(var + self.eps,
                                                   dtype=numpy.float32))
        xhat *= self.inv_std[:, None]
        self.xhat = xhat
        y = xhat * gamma[:, None]
        y += beta[:, None]
        if self.relu:
            numpy.maximum(y, 0, out=y)
            self.retain_outputs((0,))
        self.retain_inputs((1,))
        if self.averages is not None:
            avg_mean, avg_var = self.averages
            adjust = m / max(m - 1., 1.)
            avg_mean *= self.decay
            avg_mean += (1 - self.decay) * mean
            avg_var *= self.decay
            avg_var += (1 - self.decay) * adjust * var
        return _as_nchw(y, n, h, w),

    def backward(self, indexes, grad_outputs):
        gamma, = self.get_retained_inputs()
        g = _channel_major(grad_outputs[0].array)
        if self.relu:
            y, = self.get_retained_outputs()
            g = g * (_channel_major(y.array) > 0)
        xhat, m = self.xhat, self.xhat.shape[1]
        gbeta = g.sum(axis=1)
        ggamma = (g * xhat).sum(axis=1)
        gx = xhat * (ggamma / m)[:, None]
        gx += (gbeta / m)[:, None]
        numpy.subtract(g, gx, out=gx)
        gx *= (gamma.array * self.inv_std)[:, None]
        n, _, h, w = grad_outputs[0].shape
        grads = (_as_nchw(gx, n, h, w), ggamma, gbeta)
        self.xhat = None
        return tuple(chainer.Variable(grads[i]) for i in indexes)


class MaxPooling2D(function_node.FunctionNode):
    """``F.max_pooling_2d(x, ksize, stride, pad, cover_all=True)``: the
    running maximum over window offsets; the gradient goes to the first
    maximal offset in row-major window order, as Chainer's argmax.

    Input ``x`` (N, C, H, W) float32; output ``(N, C, OH, OW)``,
    channel-major in memory.
    """

    def __init__(self, ksize, stride, pad):
        self.ksize, self.stride, self.pad = (_pair(ksize), _pair(stride),
                                             _pair(pad))

    def forward_cpu(self, inputs):
        x, = inputs
        n, c, h, w = self.x_shape = x.shape
        (kh, kw), (sh, sw), (ph, pw) = self.ksize, self.stride, self.pad
        # cover_all: ceil-mode output size, the last window may overhang.
        oh = (h + 2 * ph - kh + sh - 1) // sh + 1
        ow = (w + 2 * pw - kw + sw - 1) // sw + 1
        self.out_size = (oh, ow)
        self.padded_size = (max(h + 2 * ph, (oh - 1) * sh + kh),
                            max(w + 2 * pw, (ow - 1) * sw + kw))
        xp = _padded(x, self.pad, self.padded_size, -numpy.inf)
        y = numpy.full((c, n, oh, ow), -numpy.inf, dtype=x.dtype)
        self.winner = numpy.zeros((c, n, oh, ow), dtype=numpy.uint8)
        for k in range(kh * kw):
            i, j = divmod(k, kw)
            v = xp[:, :, _offset(i, sh, oh), _offset(j, sw, ow)]
            better = v > y
            numpy.copyto(y, v, where=better)
            numpy.copyto(self.winner, k, where=better)
        return y.transpose(1, 0, 2, 3),

    def backward(self, indexes, grad_outputs):
        gy = grad_outputs[0].array.transpose(1, 0, 2, 3)   # (C, N, OH, OW)
        (kh, kw), (sh, sw), (ph, pw) = self.ksize, self.stride, self.pad
        (oh, ow), (n, c, h, w) = self.out_size, self.x_shape
        gxp = numpy.zeros((c, n) + self.padded_size, dtype=gy.dtype)
        for k in range(kh * kw):
            i, j = divmod(k, kw)
            gxp[:, :, _offset(i, sh, oh), _offset(j, sw, ow)] += numpy.where(
                self.winner == k, gy, 0)
        self.winner = None
        return chainer.Variable(
            gxp[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3)),


def convolution(link, x):
    """``link(x)`` for an ``L.Convolution2D``, through
    :class:`Convolution2D` when the fast path applies."""
    if not (_applies(x) and type(link) is L.Convolution2D and
            _pair(link.dilate) == (1, 1) and link.groups == 1 and
            link.b is not None):
        return link(x)
    return Convolution2D(link.stride, link.pad).apply(
        (x, link.W, link.b))[0]


def batch_normalization(link, x, relu=False):
    """``link(x)`` (then ReLU when ``relu``) for an
    ``L.BatchNormalization``, through :class:`BatchNormalization` in
    training mode when the fast path applies."""
    if not (_applies(x) and chainer.config.train and
            type(link) is L.BatchNormalization and x.ndim == 4 and
            link.axis is None and link.avg_mean is not None and
            link.gamma is not None and link.beta is not None):
        h = link(x)
        return F.relu(h) if relu else h
    return BatchNormalization(link, relu).apply(
        (x, link.gamma, link.beta))[0]


def max_pooling(x, ksize, stride, pad):
    """``F.max_pooling_2d(x, ksize, stride, pad, cover_all=True)``,
    through :class:`MaxPooling2D` when the fast path applies."""
    if not _applies(x):
        return F.max_pooling_2d(x, ksize, stride, pad, cover_all=True)
    return MaxPooling2D(ksize, stride, pad).apply((x,))[0]
