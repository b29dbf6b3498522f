"""The networks of the paper (§2) and their weight files.

* :mod:`~deep_impression.models.streams`: the residual blocks and the
  auditory and visual streams;
* :mod:`~deep_impression.models.audiovisual`: the challenge network (the two
  streams fused by one fully connected layer);
* :mod:`~deep_impression.models.per_trait`: five one-output networks, one
  per trait (paper §4, "5 x DNN");
* :mod:`~deep_impression.models.recurrent`: an LSTM head on the challenge
  network's per-second features (paper §4, "DNN + RNN");
* :mod:`~deep_impression.models.weights`: loading, checking and saving
  weights in the release's format (:func:`~.weights.load` by name).

:data:`ARCHITECTURES` names every model the package can build; the
commands and :func:`get_architecture` take these names.
"""

from deep_impression.models.audiovisual import AudiovisualNetwork
from deep_impression.models.per_trait import PerTraitEnsemble
from deep_impression.models.recurrent import RecurrentHead

#: Architectures by name: a callable returning a fresh, randomly
#: initialised network ('rnn': the head alone; its input comes from a
#: trained challenge network).
ARCHITECTURES = {
    'challenge': AudiovisualNetwork,
    'per-trait': PerTraitEnsemble,
    'rnn': RecurrentHead,
}


def get_architecture(name):
    """The model class (or factory) registered as ``name``.

    Raises:
        InputError: an unknown name (the message lists the known ones).
    """
    from deep_impression.errors import InputError
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise InputError('model {!r}: unknown; choose one of {}'.format(
            name, ', '.join(sorted(ARCHITECTURES)))) from None
