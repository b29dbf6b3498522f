"""The paper's training (§2.2) as a Chainer ``Trainer``.

:func:`make_trainer` assembles the trainer for a network and datasets;
:func:`train` runs a whole training from a clip store into a run directory
(what ``deep-impression train`` does); with ``resume_run=True`` it
continues from the newest snapshot with the same epoch, iteration,
optimizer state, learning rate and random states. One training at a time
writes a run directory (:func:`one_run_per_dir`).
"""

import contextlib
import functools
import inspect
import json
import os
import sys

from deep_impression import _compat  # noqa: F401  (before chainer)

import chainer
import numpy
from chainer import training
from chainer.training import extensions, triggers

from deep_impression import fileio
from deep_impression.constants import PAPER_TRAIT_ORDER
from deep_impression.training import distributed
from deep_impression.errors import DeepImpressionError
from deep_impression.training.config import (
    ADAM, BATCH_SIZE, CONFIG_FILE, EPOCHS, MODEL_FILE, REPORTS_DIR,
    check_batch_size, default_device, deviations, phase_ends, run_config)
from deep_impression.evaluation.evaluator import ClipEvaluator
from deep_impression.models import fast_cpu
from deep_impression.models.weights import get_device, to_device
from deep_impression.training.extensions import (
    EpochTrigger, RandomStates, Snapshot, ThirdsReport, alpha_schedule,
    list_snapshots)
from deep_impression.training.updater import (
    Regressor, TrainingDiverged, Updater)
from deep_impression.constants import AUDIO_CROP, FRAME_CROP


class _PlainText(object):
    """A stream without the terminal escape PrintReport writes before each
    line (for logs and pipes)."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        return self.stream.write(text.replace('\033[J', ''))

    def flush(self):
        self.stream.flush()


def make_trainer(model, train_data, out, epochs=EPOCHS,
                 batch_size=BATCH_SIZE, device=None, seed=0, validation=None,
                 loaders=2, snapshot_every=10, keep_snapshots=2,
                 alpha=ADAM['alpha'], progress_bar=None, note=None,
                 random_states=None, communicator=None, ends=None, loss=None,
                 make_updater=None, fast_cpu=True):
    """A Chainer ``Trainer`` for the paper's training (§2.2).

    With a ChainerMN ``communicator`` this is one rank of a distributed
    training (:mod:`~deep_impression.training.distributed`): the rank
    trains on its share of ``train_data`` with ``batch_size / N`` examples
    per update, batch normalisation over the global batch, gradients
    averaged over the ranks; validation is split over the ranks; only rank
    0 logs, prints and writes. The network the trainer trains is then a
    copy of ``model`` (multi-node batch normalisation): take it from
    ``trainer.updater.get_optimizer('main').target.predictor``.

    Args:
        model: an
            :class:`~deep_impression.models.audiovisual.AudiovisualNetwork`;
            moved to ``device``.
        train_data: a dataset of ``(audio, frame, labels)`` examples
            (:func:`~deep_impression.data.datasets.training_dataset`).
        out: the run directory (snapshots, log, plots, reports).
        epochs: length of the three-phase schedule.
        batch_size: examples per update.
        device: Chainer device specifier (default :func:`default_device`).
        seed: seeds the order in which examples are drawn (and, with the
            epoch and the example, the crops of a ``training_dataset``).
        validation: an
            :class:`~deep_impression.data.datasets.EvaluationDataset` for
            full-clip validation at the end of each third, or None.
        loaders: worker processes of the ``MultiprocessIterator``; 0 loads
            in this process (``SerialIterator``).
        snapshot_every: epochs between snapshots (also at each third).
        keep_snapshots: how many snapshot files to keep.
        alpha: Adam's initial alpha.
        progress_bar: show Chainer's progress bar (default: when standard
            output is a terminal).
        note: a line written under Table 1.
        random_states: extra generators to keep in snapshots
            (see :class:`RandomStates`).
        communicator: a ChainerMN communicator, or None for one process.
        ends: epochs ending each phase (alpha divided by 10 after all but
            the last, a report after each; default :func:`phase_ends`).
        loss: the link computing the loss from a batch (default
            :class:`Regressor` of ``model``).
        make_updater: ``make_updater(iterator, optimizer, device)`` (default
            :class:`Updater`), e.g. truncated backpropagation through time.
        fast_cpu: the default :class:`Updater`'s switch of the fast CPU
            path (:mod:`~deep_impression.models.fast_cpu`).
        validation may also be a ready Chainer ``Evaluator`` extension
        (reporting ``validation/accuracy/*`` and keeping ``last``).

    Returns:
        ``chainer.training.Trainer``.

    (Over 60 lines with this docstring; its code is 47 lines.)
    """
    comm = communicator
    ends = tuple(ends or phase_ends(epochs))
    if comm is not None:
        batch_size = distributed.local_batch_size(batch_size, comm)
        train_data = distributed.scatter_examples(train_data, comm, seed)
        model = distributed.synchronise_batch_normalization(model, comm)
    device = get_device(device or default_device())
    to_device(model, device)
    optimizer = chainer.optimizers.Adam(
        alpha=alpha, beta1=ADAM['beta1'], beta2=ADAM['beta2'],
        eps=ADAM['eps'])
    regressor = loss if loss is not None else Regressor(model)
    if comm is None:
        optimizer.setup(regressor)
    else:
        optimizer = distributed.multi_node_optimizer(optimizer, comm,
                                                     regressor)
    order_rng = numpy.random.RandomState(seed)
    iterator = _iterator(train_data, batch_size, seed, order_rng, loaders)
    if make_updater is None:
        updater = Updater(iterator, optimizer, device=device,
                          fast_cpu=fast_cpu)
    else:
        updater = make_updater(iterator, optimizer, device=device)
    rank0 = comm is None or comm.rank == 0
    if rank0:
        os.makedirs(os.path.join(out, REPORTS_DIR), exist_ok=True)
    trainer = training.Trainer(updater, (epochs, 'epoch'), out=out)

    shift, shift_trigger = alpha_schedule(epochs, alpha, ends=ends)
    trainer.extend(shift, trigger=shift_trigger, name='alpha_schedule')
    generators = {'order': order_rng, 'numpy': None}
    generators.update(random_states or {})
    trainer.extend(RandomStates(generators, comm=comm),
                   name='random_states')
    thirds = triggers.ManualScheduleTrigger(list(ends), 'epoch')
    if validation is not None:
        if not isinstance(validation, extensions.Evaluator):
            validation = ClipEvaluator(validation, model, comm=comm)
        trainer.extend(validation, trigger=thirds, name='validation')
    trainer.extend(ThirdsReport(model, epochs, note=note, comm=comm,
                                evaluator=(None if validation is None
                                           else 'validation'), ends=ends),
                   name='thirds')
    if rank0:
        _extend_reports(trainer, validation is not None, progress_bar)
    trainer.extend(Snapshot(model, keep=keep_snapshots, comm=comm),
                   trigger=EpochTrigger(snapshot_every, ends),
                   name='snapshot')
    return trainer


def _iterator(train_data, batch_size, seed, order_rng, loaders):
    """The training examples' iterator: ``loaders`` worker processes (0:
    this process), examples in an order drawn from the seed."""
    # A dataset that seeds each example's crops from the epoch gets
    # indices that also name the epoch (datasets.EpochOrderSampler).
    from deep_impression.data.datasets import EpochOrderSampler
    if getattr(train_data, 'epoch_indices', False):
        sampler = EpochOrderSampler(seed)
    else:
        sampler = chainer.iterators.ShuffleOrderSampler(order_rng)
    if loaders and loaders > 0:
        # dataset_timeout=None: the first batch is then loaded in this
        # thread, so a store whose every clip fails raises its one-line
        # error here instead of a TypeError from a lost background thread.
        return chainer.iterators.MultiprocessIterator(
            train_data, batch_size, shuffle=None, order_sampler=sampler,
            n_processes=loaders, dataset_timeout=None)
    return chainer.iterators.SerialIterator(
        train_data, batch_size, shuffle=None, order_sampler=sampler)


def _extend_reports(trainer, validation, progress_bar):
    """The log, the printed table, the plots and the progress bar."""
    trainer.extend(extensions.LogReport(trigger=(1, 'epoch')))
    trainer.extend(extensions.PrintReport(
        ['epoch', 'iteration', 'main/loss', 'main/accuracy', 'alpha',
         'validation/accuracy/average', 'elapsed_time'],
        out=sys.stdout if sys.stdout.isatty() else _PlainText(sys.stdout)))
    if extensions.PlotReport.available():
        trainer.extend(extensions.PlotReport(
            ['main/loss'], 'epoch',
            file_name=os.path.join(REPORTS_DIR, 'training_loss.png')))
        if validation:
            trainer.extend(extensions.PlotReport(
                ['validation/accuracy/average'] +
                ['validation/accuracy/' + t for t in PAPER_TRAIT_ORDER],
                'epoch', marker='o',
                file_name=os.path.join(REPORTS_DIR,
                                       'validation_accuracy.png')))
    if progress_bar is None:
        progress_bar = sys.stdout.isatty()
    if progress_bar:
        trainer.extend(extensions.ProgressBar(update_interval=1))


def resume(trainer, restart_if_unreadable=False):
    """Load the newest readable snapshot of ``trainer.out`` into ``trainer``.

    A snapshot that cannot be read (cut short, damaged) is reported in one
    line and the one before it is tried. Snapshots are read with pickles
    refused (:func:`~deep_impression.fileio.load_npz`).

    Args:
        restart_if_unreadable: when the run has snapshots but none can be
            read, return None (the run starts again from epoch 1 and
            replaces them) instead of stopping.

    Returns:
        the snapshot's path, or None when the run has none yet.

    Raises:
        DeepImpressionError: a snapshot holds an object array (refused, as
            a crafted file could run code), or no snapshot can be read and
            not ``restart_if_unreadable`` (nothing is overwritten).
    """
    snapshots = list_snapshots(trainer.out)
    last_error = None
    for path in reversed(snapshots):
        try:
            fileio.load_npz(path, trainer)
            return path
        except DeepImpressionError:
            raise  # an object array: never fall back past a crafted file
        except Exception as e:  # a damaged file: try the previous one
            last_error = ' '.join(str(e).split()) or type(e).__name__
            print('deep-impression: cannot resume from {} ({}); trying an '
                  'older snapshot'.format(path, last_error), file=sys.stderr)
    if snapshots and not restart_if_unreadable:
        raise DeepImpressionError(
            '{}: none of its {} snapshot(s) can be read (newest: {}: {}); '
            'nothing was overwritten. Remove the folder, or add '
            '--restart-if-unreadable to train again from epoch 1'.format(
                trainer.out, len(snapshots), snapshots[-1], last_error))
    return None


def one_run_per_dir(train_function):
    """Decorator: ``train_function(..., out, ..., device, [communicator])``
    checks its device, then runs holding the lock of its run directory
    ``out`` (:func:`deep_impression.fileio.folder_lock`), so that a second
    training, or a second ``--resume``, into the same folder ends in one
    line naming the first instead of overwriting its snapshots. With a
    communicator rank 0 holds it for all ranks, and all ranks stop
    together when it cannot (``distributed.agree``).

    The device check comes first so that an unusable device leaves no
    folder behind.
    """
    signature = inspect.signature(train_function)

    @functools.wraps(train_function)
    def locked(*args, **kwargs):
        call = signature.bind(*args, **kwargs)
        call.apply_defaults()
        get_device(call.arguments['device'] or default_device())
        with contextlib.ExitStack() as held:
            def take():
                held.enter_context(fileio.folder_lock(
                    call.arguments['out'], 'training'))
            distributed.agree(call.arguments.get('communicator'), take)
            return train_function(*args, **kwargs)
    return locked


def prepare_run_dir(out, config, resume_run):
    """Write ``config`` as ``out/config.json``; with ``resume_run``, first
    check that it equals the stopped run's.

    Raises:
        DeepImpressionError: a run already in ``out`` without
            ``resume_run``, or settings that differ from the stopped run's.
    """
    config_path = os.path.join(out, CONFIG_FILE)
    if os.path.exists(config_path):
        if not resume_run:
            raise DeepImpressionError(
                '{}: already holds a run; continue it with --resume or choose '
                'another --out'.format(out))
        with open(config_path) as f:
            stored = json.load(f)
        # The snapshots hold each rank's random states and rank 0's place
        # in its share of the examples: only the same world size goes on.
        if config.get('ranks') != stored.get('ranks'):
            raise DeepImpressionError(
                '{}: cannot resume with {}; the stopped run used {}'.format(
                    config_path, _world(config), _world(stored)))
        # The settings that shape the run must match; the experiment's
        # record (loaders, evaluation) is rewritten.
        for key in sorted(set(config) - {'experiment'}):
            if stored.get(key) != config[key]:
                raise DeepImpressionError(
                    '{}: cannot resume with {} = {!r}; the stopped run used '
                    '{!r} (remove {} to start afresh)'.format(
                        config_path, key, config[key], stored.get(key), out))
    os.makedirs(out, exist_ok=True)
    fileio.write_json(config_path, config, indent=2)


def _world(config):
    ranks = config.get('ranks')
    if ranks is None:
        return '1 process (no --communicator)'
    return '{} rank(s) (mpiexec -n {} ... --communicator)'.format(ranks,
                                                                  ranks)


def run_trainer(trainer, resume_run, comm=None,
                restart_if_unreadable=False):
    """Run ``trainer`` to its end, first resuming from its newest snapshot
    when ``resume_run``; returns that snapshot's path (or None). With a
    communicator, only rank 0 says where it resumed.
    ``restart_if_unreadable``: see :func:`resume`.

    Raises:
        TrainingDiverged: naming the last good snapshot.
        DeepImpressionError: see :func:`resume`.
    """
    out = trainer.out
    rank0 = comm is None or comm.rank == 0
    resumed_from = None
    if resume_run:
        resumed_from = resume(trainer, restart_if_unreadable)
        if rank0 and resumed_from is None:
            print('deep-impression: no {}snapshot in {}; starting from the '
                  'beginning'.format(
                      'readable ' if list_snapshots(out) else '', out),
                  file=sys.stderr)
        elif rank0:
            print('deep-impression: resuming from {} (epoch {}, iteration {})'
                  .format(resumed_from, trainer.updater.epoch,
                          trainer.updater.iteration), file=sys.stderr)
    try:
        trainer.run(show_loop_exception_msg=False)
    except TrainingDiverged as e:
        snapshots = list_snapshots(out)
        raise TrainingDiverged('{}; last good snapshot: {}'.format(
            e, snapshots[-1] if snapshots else 'none yet')) from None
    finally:
        # The fast CPU path's patch matrices kept for the next step.
        fast_cpu.release_buffers()
    return resumed_from


def visual_network(name, width, input_size, backbone, data_dir,
                   frames_per_clip):
    """A fresh DAN+ or CAM-DAN+ for training and its loss link: the
    backbone from ``backbone`` when given, the mean colour from (at most
    10 evenly spaced) training frames of each training clip, as the winners
    subtract their training set's average image."""
    from deep_impression.data.store import ClipStore
    from deep_impression.inputs import even_indices
    from deep_impression.models import dan, get_architecture
    from deep_impression.models.backbones import load_backbone
    from deep_impression.training.updater import DistanceRegressor
    kwargs = dict(width=width)
    if input_size is not None:
        kwargs['input_size'] = input_size
    network = get_architecture(name)(**kwargs)
    if backbone:
        load_backbone(network, backbone)
    store = ClipStore(data_dir)
    ids = store.clip_ids('train')
    dan.set_mean(network, (
        store.frames(i, even_indices(store.num_frames(i),
                                     frames_per_clip or 10))
        for i in ids))
    return network, DistanceRegressor(network)


@one_run_per_dir
def train(data_dir, out, epochs=EPOCHS, batch_size=BATCH_SIZE, device=None,
          resume_run=False, seed=0, audio_crop=AUDIO_CROP,
          frame_crop=FRAME_CROP, validation_max_frames=None,
          alpha=ADAM['alpha'], loaders=2, snapshot_every=10,
          validate=True, progress_bar=None, extend=None, communicator=None,
          experiment=None, model='challenge', width=1, frames_per_clip=None,
          input_size=None, backbone=None,
          restart_if_unreadable=False, fast_cpu=True):
    """Train the network on a clip store; what ``deep-impression train`` runs.

    Writes into ``out``: ``config.json``, snapshots, ``log``,
    ``reports/`` (Table 1, plots, per-clip validation predictions),
    ``model_epoch_NNNN`` at each third and ``model`` at the end, both in
    the release's weight format (:func:`deep_impression.load_model` and
    ``deep-impression predict`` take them).

    Args:
        data_dir: a store made by ``deep-impression preprocess``.
        out: the run directory.
        resume_run: continue from the newest snapshot in ``out`` (the
            settings must be those of the stopped run).
        restart_if_unreadable: with ``resume_run``, start again from
            epoch 1 when no snapshot can be read (default: stop, see
            :func:`resume`).
        validate: run the full-clip validation at the end of each third.
        extend: optional callable ``extend(trainer)`` adding extensions
            (for tests and experiments).
        communicator: a ChainerMN communicator: this process is one rank
            of a distributed training (see :func:`make_trainer`; the
            global batch is ``batch_size``); only rank 0 writes. ``device``
            is then this rank's device
            (:func:`~deep_impression.training.distributed.rank_device`).
        experiment: the experiment's whole configuration
            (:func:`~deep_impression.training.config.load_config`),
            recorded in ``config.json`` as ``experiment``.
        model: ``'challenge'`` (the audiovisual network), or
            ``'dan-plus'`` / ``'cam-dan-plus'`` (Ventura et al. 2017,
            :mod:`~deep_impression.models.dan`): frames only, the winners'
            Euclidean loss (:class:`~.updater.DistanceRegressor`), the mean
            colour set from the training frames, and these settings:
        width: the backbone's channel divisor (1: VGG-16).
        frames_per_clip: draw training frames among this many evenly
            spaced frames per clip (Ventura et al. §4.1: 10; None: all).
        input_size: the side frames are resized to (None: the model's
            224).
        backbone: a pretrained VGG-16 (``.caffemodel`` or npz, see
            :func:`~deep_impression.models.backbones.load_backbone`).
        fast_cpu: train through the fast CPU path
            (:mod:`~deep_impression.models.fast_cpu`; NumPy arrays only,
            a GPU run is unchanged); False: Chainer's own functions. Not
            part of the run's settings: a run may resume with either.
        (others: see :func:`make_trainer` and :func:`run_config`.)

    Returns:
        dict: ``model`` (path of the final weights), ``table1`` (``{epoch:
        scores}``, on rank 0), ``resumed_from`` (snapshot path or None).

    Raises:
        DeepImpressionError: a run already in ``out`` without
            ``resume_run``, settings (or a number of ranks) that differ
            from the stopped run's, no training clips, or
            :class:`TrainingDiverged`.

    (Over 60 lines with this docstring; its code is 58 lines.)
    """
    from deep_impression.data import datasets
    from deep_impression.models import weights
    from deep_impression.models.audiovisual import AudiovisualNetwork
    out = os.fspath(out)
    from deep_impression.data.store import ClipStore
    comm = communicator
    rank0 = comm is None or comm.rank == 0
    config = run_config(data_dir, epochs, batch_size, seed, audio_crop,
                        frame_crop, validation_max_frames, alpha,
                        snapshot_every)
    store = ClipStore(data_dir)
    clips = len(store.clip_ids('train'))
    if clips:   # (a store without training clips is refused below)
        check_batch_size(batch_size, clips, data_dir)
    size = store.frame_size
    config['frame_size'] = None if size is None else [int(v) for v in size]
    if model != 'challenge':
        # Recorded only for the visual models: runs of the challenge
        # network made before they existed still resume.
        config.update(model=model, width=int(width),
                      frames_per_clip=frames_per_clip, input_size=input_size,
                      backbone=backbone)
    if experiment is not None:
        config['experiment'] = experiment
    if comm is not None:
        config['ranks'] = comm.size
    distributed.agree(comm, lambda: prepare_run_dir(out, config, resume_run))

    # Each rank draws its own crops (rank_seed), from its own generator.
    train_data = datasets.training_dataset(
        data_dir, 'train', audio_crop=audio_crop, frame_crop=frame_crop,
        seed=distributed.rank_seed(seed, comm),
        frames_per_clip=frames_per_clip)
    if len(train_data) == 0:
        raise DeepImpressionError('{}: no training clips in the store'.format(
            data_dir))
    validation = None
    if validate:
        validation = datasets.EvaluationDataset(
            data_dir, 'validation', max_frames=validation_max_frames)
        if len(validation) == 0:
            if rank0:
                print('deep-impression: {}: no validation clips; training '
                      'without validation'.format(data_dir), file=sys.stderr)
            validation = None

    # The seed fixes the initial weights (He normal draws from NumPy's
    # global generator), the order of examples and, with the epoch and the
    # example, each crop (datasets.example_generator).
    numpy.random.seed(seed)
    loss = None
    if model == 'challenge':
        network, note = AudiovisualNetwork(), deviations(config)
    else:
        network, loss = visual_network(model, width, input_size, backbone,
                                       data_dir, frames_per_clip)
        note = None
    trainer = make_trainer(
        network, train_data, out, epochs=epochs, batch_size=batch_size,
        device=device, seed=seed, validation=validation, loaders=loaders,
        snapshot_every=snapshot_every, alpha=alpha,
        progress_bar=progress_bar, note=note, communicator=comm, loss=loss,
        fast_cpu=fast_cpu)
    network = trainer.updater.get_optimizer('main').target.predictor
    if extend is not None:
        extend(trainer)
    resumed_from = run_trainer(trainer, resume_run, comm,
                               restart_if_unreadable)
    model_path = os.path.join(out, MODEL_FILE)
    if rank0:
        weights.save_weights(network, model_path)
    table1 = dict(trainer.get_extension('thirds').results)
    return dict(model=model_path, table1=table1, resumed_from=resumed_from)
