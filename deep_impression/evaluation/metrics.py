"""Accuracy as in the paper (§2.3): ``1 - mean absolute error`` per trait,
and the constant predictor (the training labels' mean) it is judged against.

Arrays of traits are ``(N, 5)`` in :data:`~deep_impression.constants.TRAITS`
order.
"""

import numpy

from deep_impression.constants import TRAITS
from deep_impression.errors import InputError


def _check_pair(predictions, labels):
    predictions = numpy.asarray(predictions, dtype=numpy.float64)
    labels = numpy.asarray(labels, dtype=numpy.float64)
    if predictions.ndim != 2 or predictions.shape[1] != len(TRAITS):
        raise InputError('predictions: expected shape (N, {}), got {}'.format(
            len(TRAITS), predictions.shape))
    if labels.shape != predictions.shape:
        raise InputError('labels: shape {} differs from the predictions\' {}'
                         .format(labels.shape, predictions.shape))
    if len(labels) == 0:
        raise InputError('no clips to score')
    return predictions, labels


def accuracy(predictions, labels):
    """Per-trait accuracy, ``1 - mean absolute error`` over clips (§3).

    Args:
        predictions: ``(N, 5)`` predicted traits in [0, 1], TRAITS order.
        labels: ``(N, 5)`` annotated traits, same order.

    Returns:
        ``(5,)`` float64 accuracies in TRAITS order.
    """
    predictions, labels = _check_pair(predictions, labels)
    return 1.0 - numpy.abs(predictions - labels).mean(axis=0)


def accuracy_dict(per_trait):
    """``{'average': ..., trait: ...}`` of a ``(5,)`` TRAITS-order array.

    The average is the mean over the five traits, as the paper's tables.
    """
    per_trait = numpy.asarray(per_trait, dtype=numpy.float64)
    out = {'average': float(per_trait.mean())}
    out.update((t, float(v)) for t, v in zip(TRAITS, per_trait))
    return out


def constant_prediction(train_labels):
    """The constant predictor: the mean of the training labels, ``(5,)``."""
    train_labels = numpy.asarray(train_labels, dtype=numpy.float64)
    if train_labels.ndim != 2 or train_labels.shape[1] != len(TRAITS) \
            or len(train_labels) == 0:
        raise InputError('train_labels: expected shape (N, {}), got {}'.format(
            len(TRAITS), train_labels.shape))
    return train_labels.mean(axis=0)


def constant_accuracy(train_labels, labels):
    """Per-trait accuracy of always predicting the training labels' mean."""
    labels = numpy.asarray(labels, dtype=numpy.float64)
    mean = constant_prediction(train_labels)
    return accuracy(numpy.broadcast_to(mean, labels.shape), labels)
