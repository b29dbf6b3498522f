"""Truncated backpropagation through time for the RNN of paper §4.

"We used Adam to train the model by iteratively minimizing the mean
absolute error loss function between the target traits and the predicted
traits at each time point. Backpropagation was truncated after every 15
time points." One iteration takes a batch of clips' per-second features;
the RNN runs over them from a fresh state, and after every
:data:`BPTT_LENGTH` time points the loss of those time points is
backpropagated, the graph cut (``unchain_backward``) and the weights
updated, so no gradient reaches a time point more than 15 steps back.
"""

from deep_impression import _compat  # noqa: F401  (before chainer)

import chainer
import chainer.functions as F

from deep_impression.training.updater import Updater

#: Time points between truncations (paper §4).
BPTT_LENGTH = 15


def window_loss(head, features, lengths, labels, start, stop):
    """Mean absolute error of ``head``'s predictions at time points
    ``start .. stop - 1`` (those before each clip's length).

    Args:
        head: a :class:`~deep_impression.models.recurrent.RecurrentHead`
            (its state carries over from the previous window).
        features: ``(B, T, 512)`` array or Variable (padded).
        lengths: ``(B,)`` int array of real time points per clip.
        labels: ``(B, 5)`` targets, the same at every time point.

    Returns:
        a scalar Variable, or None when no clip reaches ``start``.
    """
    xp = chainer.backend.get_array_module(labels)
    total, count = 0, 0
    for t in range(start, stop):
        mask = (xp.asarray(lengths) > t).astype(labels.dtype)
        n = float(mask.sum())
        if n == 0:
            continue
        error = F.absolute(head(features[:, t]) - labels)
        total = total + F.sum(error * mask[:, None])
        count += n * labels.shape[1]
    return None if count == 0 else total / count


def truncated_bptt(head, features, lengths, labels, step,
                   bptt_length=BPTT_LENGTH):
    """Run ``head`` over a batch of sequences, backpropagating each window
    of ``bptt_length`` time points on its own.

    Args:
        step: called with each window's loss Variable; it backpropagates
            and updates (the graph is cut after it returns).

    Returns:
        the mean loss over the windows (a float).
    """
    head.reset_state()
    losses = []
    for start in range(0, features.shape[1], bptt_length):
        loss = window_loss(head, features, lengths, labels, start,
                           start + bptt_length)
        if loss is None:
            break
        step(loss)
        loss.unchain_backward()
        losses.append(float(loss.array))
    head.reset_state()
    return sum(losses) / max(len(losses), 1)


class SequenceLoss(chainer.Chain):
    """Holds the RNN head as the optimizer's target (``predictor``)."""

    def __init__(self, head):
        super().__init__()
        with self.init_scope():
            self.predictor = head


class BPTTUpdater(Updater):
    """An :class:`Updater` doing :func:`truncated_bptt` on each batch of
    ``(features, length, labels)`` clips (padded by its converter).

    Reports ``loss`` (the mean absolute error over the windows),
    ``accuracy`` (``1 - loss``) and ``alpha``.
    """

    def __init__(self, iterator, optimizer, device=None,
                 bptt_length=BPTT_LENGTH):
        super().__init__(iterator, optimizer, device=device,
                         converter=_pad_batch)
        self.bptt_length = bptt_length

    def update_core(self):
        iterator = self.get_iterator('main')
        features, lengths, labels = self.converter(iterator.next(),
                                                   self.input_device)
        optimizer = self.get_optimizer('main')
        target = optimizer.target

        def step(loss):
            self.check_loss(loss, optimizer)
            target.cleargrads()
            loss.backward()
            optimizer.update()

        loss = truncated_bptt(target.predictor, features, lengths, labels,
                              step, self.bptt_length)
        chainer.report({'loss': loss, 'accuracy': 1 - loss}, target)
        chainer.report({'alpha': optimizer.alpha})
        if self.auto_new_epoch and iterator.is_new_epoch:
            optimizer.new_epoch(auto=True)


def _pad_batch(batch, device=None):
    return chainer.dataset.concat_examples(batch, device, padding=0)
