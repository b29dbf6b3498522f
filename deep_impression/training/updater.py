"""The loss of the paper (§2.2) and an updater that refuses a non-finite
loss before it reaches the weights."""

import math

from deep_impression import _compat  # noqa: F401  (before chainer)

import chainer
import chainer.functions as F
from chainer import training

from deep_impression.errors import DeepImpressionError
from deep_impression.models import fast_cpu


class TrainingDiverged(DeepImpressionError):
    """The loss became NaN or infinite; training stopped before updating."""


class Regressor(chainer.Chain):
    """The network with the mean absolute error loss (paper §2.2).

    ``forward(audio, frames, labels)`` takes a batch as
    :func:`~deep_impression.data.datasets.training_dataset` makes it --
    ``(B, 1, 1, A)`` audio, ``(B, 3, C, C)`` frames, ``(B, 5)`` labels --
    and reports ``loss`` (the mean absolute error) and ``accuracy``
    (``1 - loss``, the paper's measure on training crops).
    """

    def __init__(self, predictor):
        super().__init__()
        with self.init_scope():
            self.predictor = predictor

    def forward(self, audio, frames, labels):
        predictions = self.predictor(audio, frames)
        loss = F.mean_absolute_error(predictions, labels)
        chainer.report({'loss': loss, 'accuracy': 1 - loss}, self)
        return loss


class DistanceRegressor(Regressor):
    """The loss of DAN+ (Zhang et al. 2016; their MatConvNet ``pdist``
    loss): the Euclidean distance between an example's five predictions
    and its five labels, averaged over the batch. Reports ``loss`` and
    ``accuracy`` (1 - mean absolute error, as :class:`Regressor`)."""

    def forward(self, audio, frames, labels):
        predictions = self.predictor(audio, frames)
        d = predictions - labels
        # The small constant keeps the gradient finite at a perfect fit.
        loss = F.mean(F.sqrt(F.sum(d * d, axis=1) + 1e-12))
        chainer.report({'loss': loss, 'accuracy': 1 - F.mean_absolute_error(
            predictions, labels)}, self)
        return loss


class Updater(training.updaters.StandardUpdater):
    """A ``StandardUpdater`` that refuses a non-finite loss.

    The loss is checked before the backward pass, so a NaN never reaches
    the network's weights or the optimizer's state. Also reports ``alpha``,
    the learning rate the update used.

    Args:
        fast_cpu: run the forward pass with ``chainer.config.fast_cpu``
            set, so that the streams' layers take the fast CPU path
            (:mod:`~deep_impression.models.fast_cpu`; NumPy arrays only,
            the same results to float32 rounding). False: Chainer's own
            functions, exactly as before the path existed.
        (others: those of ``StandardUpdater``.)
    """

    def __init__(self, *args, fast_cpu=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fast_cpu = bool(fast_cpu)

    def update_core(self):
        iterator = self.get_iterator('main')
        batch = iterator.next()
        in_arrays = self.converter(batch, self.input_device)
        optimizer = self.get_optimizer('main')
        target = optimizer.target
        with chainer.using_config(fast_cpu.CONFIG_KEY, self.fast_cpu):
            loss = target(*in_arrays)
        self.check_loss(loss, optimizer)
        chainer.report({'alpha': optimizer.alpha})
        target.cleargrads()
        loss.backward()
        del loss
        optimizer.update()
        if self.auto_new_epoch and iterator.is_new_epoch:
            optimizer.new_epoch(auto=True)

    def check_loss(self, loss, optimizer):
        """Raise :class:`TrainingDiverged` if ``loss`` is NaN or infinite."""
        value = float(chainer.backend.CpuDevice().send(loss.array))
        if not math.isfinite(value):
            raise TrainingDiverged(
                'training stopped: the loss became {} in epoch {}, iteration '
                '{} (alpha {:g}); the weights were not updated with it'.format(
                    value, self.epoch + 1, self.iteration + 1,
                    optimizer.alpha))
