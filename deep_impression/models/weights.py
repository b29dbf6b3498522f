"""Weight files in the format of the authors' release.

The release's ``model`` file is a Chainer npz (``save_npz`` of the whole
:class:`~deep_impression.models.audiovisual.AudiovisualNetwork`, no file suffix): 282 keys
such as ``aud/res3a_relu/bn_branch1/avg_var``. :func:`load_model` checks a
file against the network before loading it, so a wrong file fails with one
line that names the file and the first offending key.
"""

import os
import zipfile

from deep_impression import _compat  # noqa: F401  (before chainer)

import chainer
import numpy

from deep_impression import fileio
from deep_impression.errors import WeightsError
from deep_impression.models.audiovisual import AudiovisualNetwork

#: Where :func:`load_model` looks when given no path: ``$DEEP_IMPRESSION_WEIGHTS``
#: or ``weights/model`` (relative to the current directory, then the checkout).
ENV_VAR = 'DEEP_IMPRESSION_WEIGHTS'
_CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def default_weights_path():
    """The weight file used when none is named."""
    if os.environ.get(ENV_VAR):
        return os.environ[ENV_VAR]
    local = os.path.join('weights', 'model')
    if os.path.exists(local):
        return local
    return os.path.join(_CHECKOUT, 'weights', 'model')


def saved_arrays(model):
    """``{npz key: array}`` of everything ``save_npz`` writes for ``model``:
    parameters and persistent values (BN averages and ``N``)."""
    serializer = chainer.serializers.DictionarySerializer()
    serializer.save(model)
    return serializer.target


def expected_arrays(model=None):
    """``{npz key: shape}`` of everything ``save_npz`` writes for the network
    (282 keys for the challenge network)."""
    model = model if model is not None else AudiovisualNetwork()
    return {key: tuple(numpy.shape(value))
            for key, value in saved_arrays(model).items()}


def check_weights(path, model=None):
    """Check that ``path`` is an npz that fits the network; raise otherwise.

    Raises:
        WeightsError: missing file, not an npz (or truncated), or a missing,
            extra or mis-shaped key (the first one is named, with both
            shapes).
    """
    if not os.path.exists(path):
        raise WeightsError('{}: no such weight file (download the release\'s '
                           '"model" file into weights/, see weights/README.md)'
                           .format(path))
    if os.path.isdir(path):
        raise WeightsError('{}: is a directory, not a weight file'.format(path))
    if not zipfile.is_zipfile(path):
        raise WeightsError('{}: not an npz weight file (truncated, or another '
                           'format)'.format(path))
    expected = expected_arrays(model)
    try:
        with numpy.load(path, allow_pickle=False) as npz:
            found = {}
            for key in npz.files:
                found[key] = tuple(npz[key].shape)
    except Exception as e:  # zipfile.BadZipFile, ValueError, EOFError, ...
        raise WeightsError('{}: unreadable npz weight file ({})'.format(
            path, e)) from None
    for key in sorted(expected):
        if key not in found:
            raise WeightsError('{}: key {} (shape {}) is missing'.format(
                path, key, expected[key]))
        if found[key] != expected[key]:
            raise WeightsError(
                '{}: key {} has shape {}, the network needs {}'.format(
                    path, key, found[key], expected[key]))
    for key in sorted(found):
        if key not in expected:
            raise WeightsError('{}: unexpected key {} (shape {})'.format(
                path, key, found[key]))


def load_weights(model, path):
    """Check ``path`` and load it into ``model`` in place."""
    check_weights(path, model)
    chainer.serializers.load_npz(path, model)
    return model


def save_weights(model, path):
    """Write ``model`` in the release's format, atomically.

    The file is written under a temporary name beside ``path`` and renamed,
    so an interrupted write never leaves a half-written weight file.
    """
    model_cpu = model.copy(mode='copy')
    model_cpu.to_device('@numpy')
    with fileio.atomic_path(path) as tmp:
        # compression=True as chainer.serializers.save_npz's default.
        chainer.serializers.save_npz(tmp, model_cpu)
    return path


def load_model(path=None, device=None):
    """The network in test mode with weights from a release-format file.

    Args:
        path: a Chainer npz as the release's ``model`` file (any suffix or
            none). Default: ``$DEEP_IMPRESSION_WEIGHTS``, else
            ``weights/model``.
        device: a Chainer device specifier such as ``'@numpy'`` or
            ``'@cupy:0'`` (default: the CPU).

    Returns:
        :class:`~deep_impression.models.audiovisual.AudiovisualNetwork` on ``device``.

    Raises:
        WeightsError: the file is missing or does not fit the network.
    """
    path = os.fspath(path) if path is not None else default_weights_path()
    model = AudiovisualNetwork()
    load_weights(model, path)
    if device is not None:
        device = chainer.get_device(device)
        model.to_device(device)
        device.use()
    return model


def load(name='challenge', path=None, device=None, base=None):
    """A trained model of :data:`~deep_impression.models.ARCHITECTURES` by
    name, ready for ``predict(audio, frames)``.

    Args:
        name: ``'challenge'`` (``path``: a release-format file),
            ``'per-trait'`` (``path``: a directory with ``<trait>/model``
            for each trait, each a release-format file with one output) or
            ``'rnn'`` (``path``: a directory with the head's ``model`` and
            its ``config.json``).
        base: for ``'rnn'``, the challenge network's weight file (default:
            the one the head was trained on).
    """
    from deep_impression.models import get_architecture
    get_architecture(name)
    if name == 'per-trait':
        from deep_impression.models.per_trait import load_per_trait
        return load_per_trait(path, device=device)
    if name == 'rnn':
        from deep_impression.models.recurrent import load_recurrent
        return load_recurrent(path, base=base, device=device)
    return load_model(path, device=device)
