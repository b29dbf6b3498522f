"""Validation and test as in the paper (§2.3 and §3).

Each clip is predicted whole: all of its audio through the auditory stream,
its frames through the visual stream, their pooled features averaged over
the frames (:meth:`AudiovisualNetwork.predict`). Accuracy is
``1 - mean absolute error`` over the clips, per trait; the paper's
"Average" is the mean of the five.

Arrays of traits are ``(N, 5)`` in :data:`~deep_impression.constants.TRAITS`
order throughout; reports reorder them for the paper's tables.
"""

import csv
import logging

import numpy

from deep_impression import fileio
from deep_impression.constants import TRAITS
from deep_impression.errors import DeepImpressionError, InputError
from deep_impression.progress import progress

logger = logging.getLogger(__name__)


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


class Evaluation(object):
    """Predictions of a split and their scores.

    Attributes:
        clip_ids: list of N clip ids.
        predictions: ``(N, 5)`` float32, TRAITS order.
        labels: ``(N, 5)`` float32, TRAITS order.
        failed: list of ``(clip id, reason)`` of clips that could not be
            read (left out of the scores).
    """

    def __init__(self, clip_ids, predictions, labels, failed=()):
        self.clip_ids = list(clip_ids)
        self.predictions = numpy.asarray(predictions, dtype=numpy.float32)
        self.labels = numpy.asarray(labels, dtype=numpy.float32)
        self.failed = list(failed)

    @property
    def accuracy(self):
        """``(5,)`` per-trait accuracy, TRAITS order."""
        return accuracy(self.predictions, self.labels)

    @property
    def average(self):
        """Mean accuracy over the five traits."""
        return float(self.accuracy.mean())

    def as_dict(self):
        """``{'average': ..., trait: ...}`` accuracies."""
        return accuracy_dict(self.accuracy)


def evaluate(model, dataset, show_progress=None, desc='evaluate'):
    """Predict every clip of ``dataset`` whole and score the predictions.

    Args:
        model: an :class:`~deep_impression.model.AudiovisualNetwork` (or
            anything with ``predict(audio, frames)``).
        dataset: examples ``(clip_id, audio (n,) float32, frames, labels
            (5,))`` where ``frames()`` yields ``(k, H, W, 3)`` uint8 chunks,
            as :class:`~deep_impression.datasets.EvaluationDataset`.
        show_progress: show a progress bar (default: when stderr is a
            terminal).

    Returns:
        :class:`Evaluation`. A clip that fails to load (a
        :class:`DeepImpressionError` or ``OSError``) is logged, listed in
        ``failed`` and left out.

    Raises:
        DeepImpressionError: no clip could be evaluated.
    """
    clip_ids, predictions, labels, failed = [], [], [], []
    disable = None if show_progress is None else not show_progress
    for i in progress(range(len(dataset)), desc=desc, unit='clip',
                      disable=disable):
        try:
            clip_id, audio, frames, y = dataset[i]
            p = model.predict(audio, frames())
        except (DeepImpressionError, OSError) as e:
            name = getattr(dataset, 'clip_ids', None)
            name = name[i] if name is not None else '#{}'.format(i)
            logger.warning('evaluation: skipping clip %s: %s', name, e)
            failed.append((name, str(e)))
            continue
        clip_ids.append(clip_id)
        predictions.append(p)
        labels.append(y)
    if not clip_ids:
        raise DeepImpressionError('evaluation: none of the {} clips could be '
                                  'read'.format(len(dataset)))
    return Evaluation(clip_ids, numpy.stack(predictions), numpy.stack(labels),
                      failed)


def write_predictions_csv(path, evaluation):
    """Per-clip predictions and labels as CSV, atomically.

    Columns: ``clip``, the five predicted traits (TRAITS order), then
    ``true_<trait>`` for each; one row per clip, 6 decimals.
    """
    with fileio.atomic_open(path, 'w', newline='') as f:
        writer = csv.writer(f, lineterminator='\n')
        writer.writerow(('clip',) + TRAITS +
                        tuple('true_' + t for t in TRAITS))
        for clip_id, p, y in zip(evaluation.clip_ids,
                                 evaluation.predictions, evaluation.labels):
            writer.writerow([clip_id] + ['{:.6f}'.format(v) for v in p] +
                            ['{:.6f}'.format(v) for v in y])
    return path


def read_predictions_csv(path):
    """Read a file of :func:`write_predictions_csv` back as an Evaluation."""
    clip_ids, predictions, labels = [], [], []
    with open(path, newline='') as f:
        reader = csv.DictReader(f)
        for row in reader:
            clip_ids.append(row['clip'])
            predictions.append([float(row[t]) for t in TRAITS])
            labels.append([float(row['true_' + t]) for t in TRAITS])
    return Evaluation(clip_ids, numpy.array(predictions).reshape(-1, 5),
                      numpy.array(labels).reshape(-1, 5))


def split_labels(root, split='train'):
    """``(N, 5)`` labels of a store's split (TRAITS order); ``(0, 5)`` if
    the split is empty."""
    from deep_impression.store import ClipStore
    store = root if isinstance(root, ClipStore) else ClipStore(root)
    ids = store.clip_ids(split)
    if not ids:
        return numpy.zeros((0, len(TRAITS)), dtype=numpy.float32)
    return numpy.stack([store.labels(c) for c in ids])


def evaluate_split(model, root, split, max_frames=None, show_progress=None):
    """Evaluate ``model`` on a split of a store, and the constant predictor.

    Args:
        model: the network (see :func:`evaluate`).
        root: store directory.
        split: ``'validation'`` or ``'test'`` (or ``'train'``).
        max_frames: at most this many evenly spaced frames per clip
            (default: every frame, as the paper).

    Returns:
        ``(evaluation, baseline)``: an :class:`Evaluation` and the constant
        predictor's ``(5,)`` accuracy on the same clips (None when the
        store has no training clips to take the mean of).
    """
    from deep_impression.datasets import EvaluationDataset
    dataset = EvaluationDataset(root, split, max_frames=max_frames)
    if len(dataset) == 0:
        raise DeepImpressionError('{}: no {} clips in the store'.format(
            root, split))
    result = evaluate(model, dataset, show_progress=show_progress,
                      desc=split)
    train_labels = split_labels(root, 'train')
    baseline = (constant_accuracy(train_labels, result.labels)
                if len(train_labels) else None)
    return result, baseline
