"""Training the RNN of "DNN + RNN" (paper §4) on cached features.

The challenge network is frozen: its per-second layer-5 features of every
training and validation clip are computed once into a
:class:`~deep_impression.data.features.FeatureCache` beside the store, and
the :class:`~deep_impression.models.recurrent.RecurrentHead` is trained on
them with Adam and truncated backpropagation through time
(:mod:`~deep_impression.training.bptt`) by the package's one trainer
(:func:`~deep_impression.training.trainer.make_trainer`: snapshots, resume,
the alpha schedule, validation and Table 1 at each phase end).

The paper gives neither Adam's settings nor the length of this training;
this module takes the challenge network's (:data:`ADAM`, the three-phase
schedule, batches of 32 clips) unless told otherwise.
"""

import functools
import os
import time

from deep_impression import _compat  # noqa: F401  (before chainer)

import numpy

from deep_impression.errors import DeepImpressionError
from deep_impression.training.bptt import (BPTT_LENGTH, BPTTUpdater,
                                           SequenceLoss)
from deep_impression.training.config import (ADAM, BATCH_SIZE, EPOCHS,
                                             MODEL_FILE, check_alpha,
                                             check_batch_size)
from deep_impression.training.trainer import (
    make_trainer, one_run_per_dir, prepare_run_dir, run_trainer)


@one_run_per_dir
def train_recurrent(data_dir, out, base, epochs=EPOCHS,
                    batch_size=BATCH_SIZE, device=None, resume_run=False,
                    seed=0, alpha=ADAM['alpha'], step_seconds=1.0,
                    frames_per_step=None, bptt_length=BPTT_LENGTH,
                    snapshot_every=10, validate=True, progress_bar=None,
                    restart_if_unreadable=False):
    """Train the RNN head on a store's clips; the head goes to
    ``out/model`` and the run's settings (with ``base``) to
    ``out/config.json``
    (:func:`~deep_impression.models.recurrent.load_recurrent` reads both).

    Args:
        data_dir: the clip store.
        out: the run directory.
        base: the trained challenge network's weight file (``RUN/model``).
        step_seconds: seconds per time point (1 as the paper).
        frames_per_step: at most this many evenly spaced frames per time
            point (default all 25, as the paper).
        bptt_length: time points between truncations (15 as the paper).
        (others: as :func:`~deep_impression.training.trainer.train`.)

    Returns:
        dict: ``model``, ``table1`` (``{epoch: scores}``), ``resumed_from``,
        ``features`` (``clips`` computed now and ``seconds`` it took, and
        the cache's ``root``).

    (Over 60 lines with this docstring; its code is 44 lines.)
    """
    from deep_impression.data.features import FeatureCache, SequenceDataset
    from deep_impression.evaluation.evaluator import SequenceEvaluator
    from deep_impression.models.recurrent import DROPOUT, HIDDEN, RecurrentHead
    from deep_impression.models.weights import check_weights, save_weights
    out = os.fspath(out)
    alpha = check_alpha(alpha)
    config = dict(
        data=os.path.abspath(os.fspath(data_dir)),
        base=os.path.abspath(os.fspath(base)), epochs=int(epochs),
        batch_size=int(batch_size), seed=int(seed), alpha=alpha,
        adam=dict(ADAM, alpha=float(alpha)), step_seconds=float(step_seconds),
        frames_per_step=frames_per_step, bptt_length=int(bptt_length),
        snapshot_every=int(snapshot_every), hidden=HIDDEN, dropout=DROPOUT)
    check_weights(base)   # a missing or wrong file fails here, in one line
    cache = FeatureCache(data_dir, base, step_seconds, frames_per_step)
    clips = len(cache.store.clip_ids('train'))
    if clips:   # (a store without training clips is refused below)
        check_batch_size(batch_size, clips, data_dir)
    prepare_run_dir(out, config, resume_run)
    splits = ('train', 'validation') if validate else ('train',)
    started = time.time()
    computed = cache.fill([c for s in splits
                           for c in cache.store.clip_ids(s)], device=device)
    features = dict(clips=computed, seconds=time.time() - started,
                    root=cache.root)
    train_data = SequenceDataset(cache, 'train')
    if len(train_data) == 0:
        raise DeepImpressionError('{}: no training clips in the store'.format(
            data_dir))
    numpy.random.seed(seed)
    head = RecurrentHead()
    validation = None
    if validate and cache.store.clip_ids('validation'):
        validation = SequenceEvaluator(SequenceDataset(cache, 'validation'),
                                       head)
    trainer = make_trainer(
        head, train_data, out, epochs=epochs, batch_size=batch_size,
        device=device, seed=seed, validation=validation, loaders=0,
        snapshot_every=snapshot_every, alpha=alpha,
        progress_bar=progress_bar, loss=SequenceLoss(head),
        make_updater=functools.partial(BPTTUpdater,
                                       bptt_length=bptt_length),
        note='RNN head on the per-second features of {}.'.format(base))
    resumed_from = run_trainer(trainer, resume_run,
                               restart_if_unreadable=restart_if_unreadable)
    model_path = save_weights(head, os.path.join(out, MODEL_FILE))
    return dict(model=model_path, resumed_from=resumed_from,
                table1=dict(trainer.get_extension('thirds').results),
                features=features)
