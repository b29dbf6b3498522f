"""The first post-challenge model of paper §4: five per-trait networks
("5 x DNN").

Each network is the challenge network
(:class:`~deep_impression.models.audiovisual.AudiovisualNetwork`) whose
fully connected layer has one output instead of five; it is fine-tuned for
one trait from the challenge network after the first third of training.
Its weight file has the release's format and keys (``fc/W`` is ``(1,
512)``), so it loads as the release's does
(:func:`~deep_impression.models.weights.load_weights`).

:class:`PerTraitEnsemble` holds the five networks in
:data:`~deep_impression.constants.TRAITS` order and runs the one whole-clip
loop (:mod:`deep_impression.inference.clip`): its features are the five
networks' features side by side, and its fusion applies each network's
``fc`` to its own part.
"""

import os

from deep_impression import _compat  # noqa: F401  (before chainer)

import chainer
import numpy

from deep_impression.constants import TRAITS
from deep_impression.errors import WeightsError
from deep_impression.models.audiovisual import AudiovisualNetwork
from deep_impression.models.streams import CHANNELS

#: Pooled features per stream and network (layer 5).
FEATURES = CHANNELS[-1]


def trait_network():
    """A fresh challenge network with one output (paper §4)."""
    return AudiovisualNetwork(outputs=1)


def trait_network_from(challenge, trait):
    """A per-trait network initialised from a challenge network.

    Everything but ``fc`` is copied; ``fc`` becomes the challenge network's
    row for ``trait`` (its weights and bias), so fine-tuning starts from
    what the challenge network predicts for that trait.

    Args:
        challenge: an :class:`AudiovisualNetwork` with five outputs.
        trait: a name in :data:`TRAITS`.
    """
    from deep_impression.models.weights import saved_arrays
    k = TRAITS.index(trait)
    arrays = {key: chainer.backend.CpuDevice().send(value)
              for key, value in saved_arrays(challenge).items()}
    arrays['fc/W'] = arrays['fc/W'][k:k + 1]
    arrays['fc/b'] = arrays['fc/b'][k:k + 1]
    net = trait_network()
    chainer.serializers.NpzDeserializer(arrays).load(net)
    return net


class PerTraitEnsemble(chainer.ChainList):
    """Five per-trait networks predicting the five traits (TRAITS order).

    Args:
        networks: five one-output :class:`AudiovisualNetwork` objects, for
            the traits in :data:`TRAITS` order (default: fresh ones).
    """

    def __init__(self, networks=None):
        networks = list(networks) if networks is not None else [
            trait_network() for _ in TRAITS]
        if len(networks) != len(TRAITS):
            raise ValueError('need {} networks, got {}'.format(
                len(TRAITS), len(networks)))
        super().__init__(*networks)

    @property
    def frame_batch(self):
        return self[0].frame_batch

    def audio_features(self, audio):
        """``(n,)`` samples -> ``(5 * 256,)``: each network's pooled
        auditory features, TRAITS order."""
        return numpy.concatenate([net.audio_features(audio) for net in self])

    def frame_features(self, frames):
        """``(N, H, W, 3)`` uint8 -> ``(N, 5 * 256)``: each network's pooled
        visual features side by side."""
        return numpy.concatenate([net.frame_features(frames) for net in self],
                                 axis=1)

    def fuse_features(self, audio_features, visual_features):
        """``(B, 5 * 256)`` twice -> ``(B, 5)`` traits: network ``k``'s
        ``fc`` on its own features gives column ``k``."""
        columns = []
        for k, net in enumerate(self):
            part = slice(k * FEATURES, (k + 1) * FEATURES)
            columns.append(net.fuse_features(audio_features[:, part],
                                             visual_features[:, part]))
        return numpy.concatenate(columns, axis=1)

    def predict(self, audio, frames, on_frames=None):
        """Traits of one whole clip: ``(5,)`` float32, TRAITS order (the
        whole-clip loop of :mod:`deep_impression.inference.clip`;
        ``on_frames`` as the challenge network's ``predict``)."""
        from deep_impression.inference import clip
        return clip.predict_clip(self, audio, frames, on_frames)


def trait_weights_path(run_dir, trait):
    """Where :func:`~deep_impression.training.per_trait.train_per_trait`
    writes the network of ``trait``: ``RUN_DIR/<trait>/model``."""
    return os.path.join(os.fspath(run_dir), trait, 'model')


def load_per_trait(run_dir, device=None):
    """The five networks of a per-trait run directory, as an ensemble.

    Raises:
        WeightsError: a trait's weight file is missing or does not fit a
            one-output network.
    """
    from deep_impression.models.weights import load_weights, to_device
    if not os.path.isdir(run_dir):
        raise WeightsError('{}: not a per-trait run directory (expected '
                           'one folder per trait holding "model")'.format(
                               run_dir))
    ensemble = PerTraitEnsemble([
        load_weights(trait_network(), trait_weights_path(run_dir, t))
        for t in TRAITS])
    return to_device(ensemble, device)
