"""Weight files in the format of the authors' release.

The release's ``model`` file is a Chainer npz (``save_npz`` of the whole
:class:`~deep_impression.AudiovisualNetwork`, no file suffix): 282 keys
such as ``aud/res3a_relu/bn_branch1/avg_var``. :func:`load_model` checks a
file against the network before loading it, so a wrong file fails with one
line that names the file and the first offending key.
"""

import functools
import hashlib
import os
import zipfile

import numpy

from deep_impression import fileio
from deep_impression.errors import DeepImpressionError, WeightsError

# Chainer and the network are imported inside the functions that need them:
# the default weight path alone (the ONNX Runtime command line with a cached
# export) must not cost Chainer's import.

#: Where :func:`load_model` looks when given no path:
#: ``$DEEP_IMPRESSION_WEIGHTS``
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
    import chainer
    serializer = chainer.serializers.DictionarySerializer()
    serializer.save(model)
    return serializer.target


def expected_arrays(model=None):
    """``{npz key: shape}`` of everything ``save_npz`` writes for the network
    (282 keys for the challenge network)."""
    from deep_impression.models.audiovisual import AudiovisualNetwork
    model = model if model is not None else AudiovisualNetwork()
    return {key: tuple(numpy.shape(value))
            for key, value in saved_arrays(model).items()}


def check_weights(path, model=None):
    """Check that ``path`` is an npz that fits the network; raise otherwise.

    Raises:
        WeightsError: missing file, not an npz (or truncated), a missing,
            extra or mis-shaped key (the first one is named, with both
            shapes), or a key holding NaN or infinite values.
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
        with fileio.open_npz(path) as npz:
            found, not_finite = {}, []
            for key in npz.files:
                value = npz[key]
                found[key] = tuple(value.shape)
                if value.dtype.kind in 'fc' and \
                        not numpy.isfinite(value).all():
                    not_finite.append(key)
    except DeepImpressionError as e:  # an object array (a pickle)
        raise WeightsError(str(e)) from None
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
    if not_finite:
        raise WeightsError('{}: key {} holds NaN or infinite values{}'.format(
            path, sorted(not_finite)[0], ' ({} keys do)'.format(
                len(not_finite)) if len(not_finite) > 1 else ''))


def get_device(spec):
    """``chainer.get_device(spec)``, with one line instead of a traceback
    for a device that does not exist here (e.g. ``@cupy:0`` without CuPy
    or a GPU)."""
    import chainer
    try:
        return chainer.get_device(spec)
    except Exception as e:  # RuntimeError, ValueError, CUDA errors
        text = ' '.join(str(e).split())
        raise DeepImpressionError('--device {}: not usable here ({})'.format(
            spec, text)) from None


def to_device(link, device):
    """Move ``link`` to ``device`` (a spec, see :func:`get_device`) and
    make that device current; ``None`` leaves it where it is. Returns
    ``link``."""
    if device is not None:
        device = get_device(device)
        link.to_device(device)
        device.use()
    return link


def load_weights(model, path):
    """Check ``path`` and load it into ``model`` in place (pickles
    refused)."""
    check_weights(path, model)
    return fileio.load_npz(path, model)


def save_weights(model, path):
    """Write ``model`` in the release's format, atomically.

    The file is written under a temporary name beside ``path`` and renamed,
    so an interrupted write never leaves a half-written weight file.
    """
    import chainer
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
        :class:`~deep_impression.AudiovisualNetwork` on ``device``. (The
        models of paper §4 load by name through :func:`load`.)

    Raises:
        WeightsError: the file is missing or does not fit the network.
        DeepImpressionError: ``device`` is not usable here.
    """
    from deep_impression.models.audiovisual import AudiovisualNetwork
    path = os.fspath(path) if path is not None else default_weights_path()
    if device is not None:
        get_device(device)  # before the slow part
    model = AudiovisualNetwork()
    load_weights(model, path)
    # Which file the weights came from, for predictions' provenance.
    model.weights_file = path
    return to_device(model, device)


#: The authors' released ``model`` file, identified exactly: its git blob id
#: in their repository (github ``yagguc/deep_impression``, commit ad45d66,
#: path ``model``).
RELEASE_GIT_BLOB_ID = 'f7d082d3e0d823d5e39dd308855ff946ef9f92d3'

#: Hex digits of the SHA-256 kept in prediction provenance.
SHORT_DIGEST = 12


def file_digests(path, block=1 << 20):
    """``(sha256, git blob id)`` of a file, hex, read once in blocks.

    The git blob id is what ``git hash-object`` prints: the SHA-1 of
    ``b'blob <size in decimal>\\0'`` followed by the file's bytes.
    """
    return _digests(fileio.file_key(os.fspath(path)), block)


@functools.lru_cache(maxsize=16)
def _digests(key, block):
    # Keyed by fileio.file_key: a file is hashed once while it stays the
    # same (the ONNX export cache's key and the provenance both ask).
    path, size = key[0], key[3]
    blob = hashlib.sha1(b'blob %d\0' % size)
    return fileio.file_digest(path, 'sha256', blob, block=block)


def identify_weights(path):
    """Which weight file ``path`` is: its digests and whether it is the
    authors' release byte for byte.

    Returns:
        dict with ``path``, ``size`` (bytes), ``sha256``, ``git_blob_id``
        and ``release`` (bool: the git blob id is
        :data:`RELEASE_GIT_BLOB_ID`).

    Raises:
        WeightsError: no such file, or a directory.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        problem = ('is a directory, not a weight file'
                   if os.path.exists(path) else 'no such weight file')
        raise WeightsError('{}: {}'.format(path, problem))
    try:
        sha256, blob = file_digests(path)
    except OSError as e:
        raise WeightsError('{}: cannot read ({})'.format(
            path, e.strerror or e)) from None
    return dict(path=path, size=os.path.getsize(path), sha256=sha256,
                git_blob_id=blob, release=blob == RELEASE_GIT_BLOB_ID)


def inspect_weights(path, model=None):
    """Check a weight file's layout and identify it.

    Returns:
        :func:`identify_weights`'s dict plus ``arrays`` (arrays in the file)
        and ``parameters`` (trainable values, without batch normalisation's
        running statistics).

    Raises:
        WeightsError: as :func:`check_weights`.
    """
    from deep_impression.models.audiovisual import AudiovisualNetwork
    model = model if model is not None else AudiovisualNetwork()
    check_weights(path, model)
    info = identify_weights(path)
    info['arrays'] = len(expected_arrays(model))
    info['parameters'] = int(sum(p.size for p in model.params()))
    return info


def load(name='challenge', path=None, device=None, base=None):
    """A trained model of :data:`~deep_impression.models.ARCHITECTURES` by
    name, ready for ``predict(audio, frames)``.

    Args:
        name: ``'challenge'`` (``path``: a release-format file),
            ``'per-trait'`` (``path``: a directory with ``<trait>/model``
            for each trait, each a release-format file with one output) or
            ``'rnn'`` (``path``: a directory with the head's ``model`` and
            its ``config.json``), ``'dan-plus'`` or ``'cam-dan-plus'``
            (``path``: the ``model`` file of a run that trained one; its
            channel width is read from the file).
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
    from deep_impression.models import VISUAL_ARCHITECTURES
    if name in VISUAL_ARCHITECTURES:
        return load_visual(name, path, device=device)
    return load_model(path, device=device)


def backbone_width(path):
    """The channel divisor of a DAN+ or CAM-DAN+ weight file: 64 over
    the output channels of its ``vgg/conv1_1/W``.

    Raises:
        WeightsError: not such a file.
    """
    key = 'vgg/conv1_1/W'
    try:
        with fileio.open_npz(path) as npz:
            out = npz[key].shape[0]
    except KeyError:
        raise WeightsError('{}: no key {} (not a DAN+ or CAM-DAN+ weight '
                           'file)'.format(path, key)) from None
    except Exception as e:  # missing, not an npz, truncated
        raise WeightsError('{}: unreadable weight file ({})'.format(
            path, e)) from None
    if out < 1 or 64 % out:
        raise WeightsError('{}: {} has {} output channels; VGG-16 has 64 '
                           '(or 64 / width)'.format(path, key, out))
    return 64 // out


def load_visual(name, path, device=None):
    """A trained DAN+ (``'dan-plus'``) or CAM-DAN+ (``'cam-dan-plus'``)
    in test mode, with its weights, mean colour and width from ``path``."""
    from deep_impression.models import get_architecture
    path = os.fspath(path) if path is not None else default_weights_path()
    if device is not None:
        get_device(device)
    if not os.path.isfile(path):
        raise WeightsError('{}: no such weight file'.format(path))
    model = get_architecture(name)(width=backbone_width(path))
    load_weights(model, path)
    model.weights_file = path
    return to_device(model, device)
