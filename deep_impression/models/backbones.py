"""Pretrained VGG-16 backbones from the files users have.

* VGG-Face (Parkhi et al. 2015), the backbone of DAN+ in both papers, is
  distributed as a Caffe model, ``VGG_FACE.caffemodel``;
* the ImageNet VGG-16 as a Caffe model (``VGG_ILSVRC_16_layers.caffemodel``)
  or as the npz that ``chainer.links.VGG16Layers.convert_caffemodel_to_npz``
  writes from it (keys ``conv1_1/W`` ...).

:func:`load_backbone` reads the thirteen convolutions from any of these
(Caffe models through Chainer's own reader: :func:`convert_caffemodel`
runs ``VGG16Layers.convert_caffemodel_to_npz``) and copies
them into a :class:`~deep_impression.models.vgg.VGG16Backbone` by name; the
fully connected layers ``fc6``-``fc8`` are dropped, as DAN+ replaces them.

Colour order: Caffe's VGG models were trained on BGR images (so is the npz
converted from them: ``VGG16Layers.prepare`` turns RGB into BGR). The
package's networks take RGB, so ``conv1_1``'s three input channels are
reversed on loading; the filters then see the colours they were trained on.
The mean the models subtract is set separately (``mean`` of
:class:`~deep_impression.models.dan.VisualRegressor`, RGB).
"""

import os
import subprocess
import sys
import tempfile
import zipfile

import numpy

from deep_impression import fileio
from deep_impression.errors import WeightsError
from deep_impression.models.vgg import CONVOLUTIONS


def read_convolutions(path):
    """``{name: (W, b)}`` of ``conv1_1`` ... ``conv5_3`` in a caffemodel or
    a ``VGG16Layers`` npz, as stored (BGR input channels).

    ``W``: ``(out, in, 3, 3)`` float32; ``b``: ``(out,)`` float32.

    Raises:
        WeightsError: no such file, an unreadable file, or a missing
            convolution (named).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise WeightsError('{}: no such backbone file'.format(path))
    if zipfile.is_zipfile(path):
        arrays = _npz_convolutions(path)
    else:
        arrays = _caffe_convolutions(path)
    for name in CONVOLUTIONS:
        if name not in arrays:
            raise WeightsError('{}: no layer {} (not a VGG-16 model?)'.format(
                path, name))
    return arrays


def _npz_convolutions(path):
    try:
        with fileio.open_npz(path) as npz:
            keys = set(npz.files)
            # Our own weight files hold the backbone under 'vgg/'.
            prefix = 'vgg/' if 'vgg/conv1_1/W' in keys else ''
            return {name: (npz[prefix + name + '/W'].astype(numpy.float32),
                           npz[prefix + name + '/b'].astype(numpy.float32))
                    for name in CONVOLUTIONS
                    if prefix + name + '/W' in keys}
    except (ValueError, OSError, KeyError, zipfile.BadZipFile) as e:
        raise WeightsError('{}: unreadable npz ({})'.format(path, e)) from None


#: Seconds a conversion may take (VGG-Face's 580 MB parse in pure Python
#: in a few minutes).
CONVERT_TIMEOUT = 1800

# Run in a child process: Chainer 7.8.1's generated caffe_pb2 predates
# protobuf 4 and imports only with protobuf's pure-Python implementation,
# which must be chosen before protobuf is first imported -- in this process
# ONNX may already have imported it.
_CONVERT = (
    'import sys\n'
    'from deep_impression import _compat  # NumPy 2 shims for Chainer\n'
    'from chainer.links import VGG16Layers\n'
    'VGG16Layers.convert_caffemodel_to_npz(sys.argv[1], sys.argv[2])\n')


def convert_caffemodel(caffemodel, npz, timeout=CONVERT_TIMEOUT):
    """Convert a Caffe model to Chainer's npz with Chainer's own reader
    (``VGG16Layers.convert_caffemodel_to_npz``, i.e. ``CaffeFunction``),
    written atomically. Converting VGG-Face once saves the parse on every
    later :func:`load_backbone`.

    Raises:
        WeightsError: the file does not parse (the reader's last line), or
            the conversion ran past ``timeout`` seconds.
    """
    caffemodel, npz = os.fspath(caffemodel), os.fspath(npz)
    if not os.path.isfile(caffemodel):
        raise WeightsError('{}: no such Caffe model'.format(caffemodel))
    env = dict(os.environ, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION='python')
    with fileio.atomic_path(npz, suffix='.npz') as tmp:
        try:
            proc = subprocess.run(
                [sys.executable, '-c', _CONVERT, caffemodel, tmp],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise WeightsError('{}: conversion did not finish within {} s'
                               .format(caffemodel, timeout)) from None
        if proc.returncode != 0:
            lines = proc.stderr.decode('utf-8', 'replace').strip()
            raise WeightsError('{}: not a readable Caffe model ({})'.format(
                caffemodel, lines.splitlines()[-1] if lines else
                'exit status {}'.format(proc.returncode)))
    return npz


def _caffe_convolutions(path):
    with tempfile.TemporaryDirectory(prefix='deep-impression-') as tmp:
        npz = convert_caffemodel(path, os.path.join(tmp, 'backbone.npz'))
        return _npz_convolutions(npz)


def load_backbone(backbone, path, bgr=True):
    """Copy a pretrained VGG-16's convolutions into ``backbone`` in place.

    Args:
        backbone: a :class:`~deep_impression.models.vgg.VGG16Backbone`
            (``width=1`` for the published models), or a network holding
            one as ``vgg``.
        path: a ``.caffemodel`` or a ``VGG16Layers`` npz (see the module).
        bgr: the file's first layer takes BGR (Caffe's VGG models and
            their npz conversions): reverse its input channels so that the
            backbone takes RGB.

    Returns:
        ``backbone``.

    Raises:
        WeightsError: as :func:`read_convolutions`, or a layer whose shape
            does not fit (named, with both shapes).
    """
    target = getattr(backbone, 'vgg', backbone)
    arrays = read_convolutions(path)
    for name in CONVOLUTIONS:
        W, b = arrays[name]
        if name == CONVOLUTIONS[0] and bgr:
            W = W[:, ::-1]
        link = getattr(target, name)
        for param, value in (('W', W), ('b', b)):
            dst = getattr(link, param)
            if dst.shape != value.shape:
                raise WeightsError(
                    '{}: {}/{} has shape {}, the backbone needs {}{}'.format(
                        os.fspath(path), name, param, value.shape, dst.shape,
                        '' if target.width == 1 else
                        ' (width {}: pretrained models need width 1)'.format(
                            target.width)))
            dst.array[...] = link.xp.asarray(numpy.ascontiguousarray(value))
    return backbone
