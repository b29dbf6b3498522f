"""deep-impression: the audiovisual residual network of *Deep Impression*
(Güçlütürk et al., 2016) in Chainer, with the interpretation methods of
Ventura et al. (2017).

Public API::

    import deep_impression
    model = deep_impression.load_model('weights/model')
    traits = deep_impression.predict_video('clip.mp4', model)
    dict(zip(deep_impression.TRAITS, traits))
    records = deep_impression.predict_videos(['a.mp4', 'b.mp4'], model)
"""

import importlib

from deep_impression import _compat  # noqa: F401  (must precede chainer)
from deep_impression.constants import TRAITS  # noqa: F401
from deep_impression.errors import DeepImpressionError  # noqa: F401

__version__ = '0.1.0'

#: Public names imported on first use (PEP 562), so that ``import
#: deep_impression`` (and the command line, whose ONNX Runtime path never
#: needs it) does not pay for importing Chainer.
_LAZY = {
    'AudiovisualNetwork': 'deep_impression.models.audiovisual',
    'predict_video': 'deep_impression.inference.predict',
    'predict_videos': 'deep_impression.inference.predict',
    'load_model': 'deep_impression.models.weights',
    'save_weights': 'deep_impression.models.weights',
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError('module {!r} has no attribute {!r}'.format(
        __name__, name))


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
