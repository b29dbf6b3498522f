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

from deep_impression import _compat  # noqa: F401  (must precede chainer)
from deep_impression.constants import TRAITS  # noqa: F401
from deep_impression.errors import DeepImpressionError  # noqa: F401
from deep_impression.models.audiovisual import AudiovisualNetwork  # noqa: F401
from deep_impression.inference.predict import (  # noqa: F401
    predict_video, predict_videos)
from deep_impression.models.weights import (  # noqa: F401
    load_model, save_weights)

__version__ = '0.1.0'
