"""The networks of the paper (§2) and their weight files.

* :mod:`~deep_impression.models.streams`: the residual blocks and the
  auditory and visual streams;
* :mod:`~deep_impression.models.audiovisual`: the challenge network (the two
  streams fused by one fully connected layer);
* :mod:`~deep_impression.models.per_trait`: five one-output networks, one
  per trait (paper §4, "5 x DNN");
* :mod:`~deep_impression.models.recurrent`: an LSTM head on the challenge
  network's per-second features (paper §4, "DNN + RNN");
* :mod:`~deep_impression.models.vgg` and :mod:`~deep_impression.models.dan`:
  DAN+ and CAM-DAN+, the VGG-16 networks that Ventura et al. (2017) study
  (the challenge winners' visual model and its CAM version), with
  :mod:`~deep_impression.models.backbones` loading VGG-Face or ImageNet
  VGG-16 into them;
* :mod:`~deep_impression.models.weights`: loading, checking and saving
  weights in the release's format (:func:`~.weights.load` by name).

:data:`ARCHITECTURES` names every model the package can build; the
commands and :func:`get_architecture` take these names.
"""


#: The names of :data:`ARCHITECTURES` (known without importing Chainer).
ARCHITECTURE_NAMES = ('challenge', 'per-trait', 'rnn', 'dan-plus',
                      'cam-dan-plus')

#: The architectures that see frames only (Ventura et al. 2017).
VISUAL_ARCHITECTURES = ('dan-plus', 'cam-dan-plus')


def __getattr__(name):
    """``ARCHITECTURES`` and ``AudiovisualNetwork``, imported on first use
    (PEP 562): :mod:`~deep_impression.models.weights` alone (the default
    weight path, a file's checks) must not import Chainer, which the ONNX
    Runtime command line never needs."""
    if name not in ('ARCHITECTURES', 'AudiovisualNetwork'):
        raise AttributeError('module {!r} has no attribute {!r}'.format(
            __name__, name))
    from deep_impression.models.audiovisual import AudiovisualNetwork
    from deep_impression.models.per_trait import PerTraitEnsemble
    from deep_impression.models.recurrent import RecurrentHead
    from deep_impression.models.dan import CAMDANPlus, DANPlus
    # Architectures by name: a callable returning a fresh, randomly
    # initialised network ('rnn': the head alone; its input comes from a
    # trained challenge network).
    globals().setdefault('ARCHITECTURES', dict(zip(ARCHITECTURE_NAMES, (
        AudiovisualNetwork, PerTraitEnsemble, RecurrentHead, DANPlus,
        CAMDANPlus))))
    globals()['AudiovisualNetwork'] = AudiovisualNetwork
    return globals()[name]


def get_architecture(name):
    """The model class (or factory) registered as ``name``.

    Raises:
        InputError: an unknown name (the message lists the known ones).
    """
    from deep_impression.errors import InputError
    architectures = __getattr__('ARCHITECTURES')
    try:
        return architectures[name]
    except KeyError:
        raise InputError('model {!r}: unknown; choose one of {}'.format(
            name, ', '.join(sorted(architectures)))) from None
