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

from deep_impression import _compat  # noqa: F401  (before chainer)

import chainer
import numpy
from chainer.training import extensions

from deep_impression import fileio
from deep_impression.constants import TRAITS
from deep_impression.errors import DeepImpressionError
from deep_impression.evaluation.metrics import (accuracy, accuracy_dict,
                                                constant_prediction)
from deep_impression.progress import progress

logger = logging.getLogger(__name__)


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


def predict_clips(model, dataset, indices=None, show_progress=None,
                  desc='evaluate'):
    """Predict clips of ``dataset`` whole; a clip that fails is skipped.

    Args:
        model: anything with ``predict(audio, frames)`` (an
            :class:`~deep_impression.models.audiovisual.AudiovisualNetwork`
            or an inference backend).
        dataset: examples ``(clip_id, audio (n,) float32, frames, labels
            (5,))`` where ``frames()`` yields ``(k, H, W, 3)`` uint8 chunks,
            as :class:`~deep_impression.data.datasets.EvaluationDataset`.
        indices: the examples to predict (default all), e.g. one rank's
            share.
        show_progress: show a progress bar (default: when stderr is a
            terminal).

    Returns:
        ``(clip_ids, predictions, labels, failed)``: lists; ``failed``
        holds ``(clip id, reason)`` of clips that raised a
        :class:`DeepImpressionError` or ``OSError`` (each is also logged).
    """
    clip_ids, predictions, labels, failed = [], [], [], []
    indices = range(len(dataset)) if indices is None else indices
    disable = None if show_progress is None else not show_progress
    for i in progress(indices, desc=desc, unit='clip', disable=disable):
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
    return clip_ids, predictions, labels, failed


def evaluation_of(parts, total):
    """One :class:`Evaluation` from the results of :func:`predict_clips`
    (one or more parts, e.g. one per rank), in order of clip id.

    Raises:
        DeepImpressionError: no clip of the ``total`` could be evaluated.
    """
    rows, failed = [], []
    for clip_ids, predictions, labels, part_failed in parts:
        rows.extend(zip(clip_ids, predictions, labels))
        failed.extend(part_failed)
    if not rows:
        raise DeepImpressionError('evaluation: none of the {} clips could be '
                                  'read'.format(total))
    rows.sort(key=lambda row: row[0])
    clip_ids, predictions, labels = zip(*rows)
    return Evaluation(clip_ids, numpy.stack(predictions), numpy.stack(labels),
                      sorted(failed))


def evaluate(model, dataset, show_progress=None, desc='evaluate'):
    """Predict every clip of ``dataset`` whole and score the predictions.

    Args: as :func:`predict_clips`.

    Returns:
        :class:`Evaluation`, clips in order of id. A clip that fails to
        load is logged, listed in ``failed`` and left out.

    Raises:
        DeepImpressionError: no clip could be evaluated.
    """
    part = predict_clips(model, dataset, show_progress=show_progress,
                         desc=desc)
    return evaluation_of([part], len(dataset))


class ClipEvaluator(extensions.Evaluator):
    """Whole-clip validation (§2.3) as a Chainer ``Evaluator``.

    Reports ``validation/accuracy/average`` and
    ``validation/accuracy/<trait>`` (for ``LogReport`` and ``PlotReport``)
    and keeps the last :class:`Evaluation` in :attr:`last`. It writes no
    file: :class:`~deep_impression.training.extensions.ThirdsReport` does.

    Args:
        dataset: an :class:`~deep_impression.data.datasets.EvaluationDataset`.
        model: the network (anything with ``predict(audio, frames)``).
        comm: optional ChainerMN communicator. Rank ``r`` of ``n`` predicts
            clips ``r, r + n, ...``; rank 0 gathers every rank's clips,
            scores them and reports; the other ranks report nothing.
        show_progress: show a progress bar (default: when stderr is a
            terminal).
    """

    trigger = 1, 'epoch'
    default_name = 'validation'

    def __init__(self, dataset, model, comm=None, show_progress=None):
        iterator = chainer.iterators.SerialIterator(
            dataset, 1, repeat=False, shuffle=False)
        super().__init__(iterator, model)
        self.comm = comm
        self.show_progress = show_progress
        self.last = None

    def evaluate(self):
        dataset = self.get_iterator('main').dataset
        model = self.get_target('main')
        rank, size = ((0, 1) if self.comm is None
                      else (self.comm.rank, self.comm.size))
        part = predict_clips(
            model, dataset, range(rank, len(dataset), size),
            show_progress=self.show_progress if rank == 0 else False,
            desc='validation')
        parts = [part] if self.comm is None else self.comm.gather_obj(part)
        if rank != 0:
            return {}
        self.last = evaluation_of(parts, len(dataset))
        return {'validation/accuracy/' + k: v
                for k, v in self.last.as_dict().items()}


def evaluate_sequences(head, dataset, show_progress=None,
                       desc='evaluate'):
    """Score an RNN head (paper §4) on cached per-second features.

    Args:
        head: anything with ``predict_features((T, 512)) -> (5,)``
            (:class:`~deep_impression.models.recurrent.RecurrentHead`).
        dataset: a :class:`~deep_impression.data.features.SequenceDataset`.

    Returns:
        :class:`Evaluation`, clips in order of id.
    """
    clip_ids, predictions, labels = [], [], []
    disable = None if show_progress is None else not show_progress
    for i in progress(range(len(dataset)), desc=desc, unit='clip',
                      disable=disable):
        features, _, y = dataset[i]
        clip_ids.append(dataset.clip_ids[i])
        predictions.append(head.predict_features(features))
        labels.append(y)
    return evaluation_of([(clip_ids, predictions, labels, [])], len(dataset))


class SequenceEvaluator(ClipEvaluator):
    """:class:`ClipEvaluator` for an RNN head on cached features
    (:func:`evaluate_sequences`); reports the same keys."""

    def evaluate(self):
        self.last = evaluate_sequences(
            self.get_target('main'), self.get_iterator('main').dataset,
            show_progress=self.show_progress, desc='validation')
        return {'validation/accuracy/' + k: v
                for k, v in self.last.as_dict().items()}


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
    from deep_impression.data.store import ClipStore
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
    from deep_impression.data.datasets import EvaluationDataset
    dataset = EvaluationDataset(root, split, max_frames=max_frames)
    if len(dataset) == 0:
        raise DeepImpressionError('{}: no {} clips in the store'.format(
            root, split))
    result = evaluate(model, dataset, show_progress=show_progress,
                      desc=split)
    return result, _constant_baseline(root, result)


def training_mean(root):
    """The constant predictor of a store: its training labels' ``(5,)``
    mean, TRAITS order; None when it has no training clips."""
    train_labels = split_labels(root, 'train')
    return constant_prediction(train_labels) if len(train_labels) else None


def _constant_baseline(root, result):
    mean = training_mean(root)
    return None if mean is None else accuracy(
        numpy.broadcast_to(mean, result.labels.shape), result.labels)


def evaluate_recurrent_split(model, root, split, show_progress=None):
    """:func:`evaluate_split` for "DNN + RNN" (paper §4): the split's
    per-second features are cached beside the store
    (:class:`~deep_impression.data.features.FeatureCache`, computed once
    with the model's challenge network), then the RNN head is scored on
    them.

    Args:
        model: a :class:`~deep_impression.models.recurrent.RecurrentModel`
            (from :func:`~deep_impression.models.recurrent.load_recurrent`).
    """
    from deep_impression.data.features import FeatureCache, SequenceDataset
    cache = FeatureCache(root, model.base_path, model.step_seconds,
                         model.frames_per_step)
    if not cache.store.clip_ids(split):
        raise DeepImpressionError('{}: no {} clips in the store'.format(
            root, split))
    cache.fill(cache.store.clip_ids(split), model=model.base,
               show_progress=show_progress)
    result = evaluate_sequences(model.head, SequenceDataset(cache, split),
                                show_progress=show_progress, desc=split)
    return result, _constant_baseline(root, result)
