"""Per-trait fine-tuning: the "5 x DNN" model of paper §4.

"We separately fine-tuned the original DNN after 300 epochs of training
for each trait. Everything about the fine-tuned DNNs (i.e. architecture,
training and validation/test) were the same with the original DNN except
for their fully-connected layers that output one value rather than five
values."

Each trait's network starts from the challenge run's weights after its
first third (``RUN/model_epoch_0300`` of a 900-epoch run;
:func:`~deep_impression.models.per_trait.trait_network_from`) and is
trained with the challenge run's settings (its ``config.json``: batch
size, crops, seed) for the rest of that run's schedule
(:func:`fine_tuning_schedule`): epochs 301-900 with alpha / 10, divided by
10 again after epoch 600. The paper does not say how long it fine-tuned;
this is the reading that keeps "everything the same".
"""

import os
import re

from deep_impression import _compat  # noqa: F401  (before chainer)

import numpy

from deep_impression.constants import TRAITS
from deep_impression.errors import DeepImpressionError
from deep_impression.training.config import (
    ADAM, CONFIG_FILE, MODEL_FILE, learning_rate, phase_ends, run_config)
from deep_impression.training.trainer import (
    make_trainer, one_run_per_dir, prepare_run_dir, run_trainer)

_EPOCH_FILE = re.compile(r'_epoch_(\d+)$')


def fine_tuning_schedule(run_epochs, init_epoch, epochs=None,
                         alpha=ADAM['alpha']):
    """The rest of a run's schedule after ``init_epoch``.

    Args:
        run_epochs: the challenge run's length (900 in the paper).
        init_epoch: the epoch of the starting weights (300).
        epochs: fine-tune this many epochs instead, with the phase ends
            scaled in proportion (a shortened run).
        alpha: the challenge run's initial alpha.

    Returns:
        ``(epochs, ends, alpha)``: ``(600, (300, 600), alpha / 10)`` for
        the paper.
    """
    ends = phase_ends(run_epochs)
    if not 0 <= init_epoch < run_epochs:
        raise DeepImpressionError('fine-tuning from epoch {}: the run has {} '
                                  'epochs'.format(init_epoch, run_epochs))
    rest = [e - init_epoch for e in ends if e > init_epoch]
    total = run_epochs - init_epoch
    if epochs is not None and epochs != total:
        rest = sorted({max(1, int(round(e * epochs / total))) for e in rest})
        total = int(epochs)
    return total, tuple(rest), learning_rate(init_epoch, run_epochs, alpha)


def init_epoch_of(path):
    """The epoch in a weight file's name (``model_epoch_0300`` -> 300)."""
    m = _EPOCH_FILE.search(os.path.basename(os.fspath(path)))
    if not m:
        raise DeepImpressionError(
            '{}: expected a weight file named model_epoch_NNNN (the challenge '
            'network after a third of its training)'.format(path))
    return int(m.group(1))


class TraitColumn(object):
    """A training transform (``transform(clip, rng)``) keeping one trait's
    label of the examples it makes."""

    def __init__(self, transform, index):
        self.transform = transform
        self.index = index

    def __call__(self, clip, rng=None):
        audio, frame, labels = self.transform(clip, rng)
        return audio, frame, labels[self.index:self.index + 1]


def trait_training_data(data_dir, config, index):
    """The training examples of trait ``TRAITS[index]``: the challenge
    run's (:func:`~deep_impression.data.datasets.training_dataset`, crops
    seeded from the seed, the epoch and the example) with one label."""
    from deep_impression.data import datasets
    data = datasets.training_dataset(
        data_dir, 'train', audio_crop=config['audio_crop'],
        frame_crop=config['frame_crop'], seed=config['seed'])
    if len(data) == 0:
        raise DeepImpressionError('{}: no training clips in the store'
                                  .format(data_dir))
    return datasets.RobustTransformDataset(
        data.dataset, TraitColumn(data.transform, index), seed=config['seed'])


def _challenge_config(init):
    import json
    path = os.path.join(os.path.dirname(os.path.abspath(init)), CONFIG_FILE)
    if not os.path.isfile(path):
        raise DeepImpressionError('{}: no {} beside it: the per-trait '
                                  'networks take the challenge run\'s settings'
                                  .format(init, CONFIG_FILE))
    with open(path) as f:
        return json.load(f)


@one_run_per_dir
def train_per_trait(data_dir, out, init, epochs=None, device=None,
                    resume_run=False, loaders=2, progress_bar=None,
                    traits=TRAITS, restart_if_unreadable=False,
                    fast_cpu=True):
    """Fine-tune one network per trait into ``out/<trait>/``.

    Each ``out/<trait>/`` is a run directory as ``deep-impression train``
    writes (``config.json``, snapshots, ``log``, ``model_epoch_NNNN`` at the
    phase ends) whose ``model`` is a release-format file with one output.
    Traits are trained one after another in TRAITS order; with
    ``resume_run`` finished traits are kept and a stopped one continues
    from its newest snapshot.

    Args:
        data_dir: the clip store the challenge network was trained on.
        out: the per-trait run directory.
        init: the challenge network after a third of its training
            (``RUN/model_epoch_NNNN``, with ``RUN/config.json``).
        epochs: fine-tuning epochs (default: the rest of the challenge
            run's schedule).
        traits: the traits to train (default all five; e.g. one per
            machine).
        restart_if_unreadable: as
            :func:`~deep_impression.training.trainer.train`.
        fast_cpu: the switch of the fast CPU path (see
            :func:`~deep_impression.training.trainer.train`).

    Returns:
        dict: ``model`` (``out``, for
        :func:`~deep_impression.models.per_trait.load_per_trait`),
        ``traits`` (``{trait: weight file}``).

    (Over 60 lines with this docstring; its code is 34 lines.)
    """
    from deep_impression.models.per_trait import trait_network_from
    from deep_impression.models.weights import load_model, save_weights
    out = os.fspath(out)
    base = _challenge_config(init)
    total, ends, alpha = fine_tuning_schedule(
        base['epochs'], init_epoch_of(init), epochs, base['alpha'])
    challenge = load_model(init)
    paths = {}
    for trait in traits:
        k = TRAITS.index(trait)
        run = os.path.join(out, trait)
        paths[trait] = os.path.join(run, MODEL_FILE)
        if resume_run and os.path.exists(paths[trait]):
            continue
        config = run_config(
            data_dir, total, base['batch_size'], base['seed'],
            base['audio_crop'], base['frame_crop'],
            base['validation_max_frames'], alpha, base['snapshot_every'])
        config.update(init=os.path.abspath(init), trait=trait,
                      ends=list(ends))
        prepare_run_dir(run, config, resume_run)
        train_data = trait_training_data(data_dir, config, k)
        numpy.random.seed(config['seed'])
        net = trait_network_from(challenge, trait)
        trainer = make_trainer(
            net, train_data, run, epochs=total,
            batch_size=config['batch_size'],
            device=device, seed=config['seed'], loaders=loaders,
            snapshot_every=config['snapshot_every'], alpha=alpha,
            progress_bar=progress_bar, ends=ends, fast_cpu=fast_cpu,
            note='Fine-tuned for {} from {}.'.format(trait, init))
        run_trainer(trainer, resume_run,
                    restart_if_unreadable=restart_if_unreadable)
        save_weights(net, paths[trait])
    return dict(model=out, traits=paths)
