"""Training as in the paper (§2.2): a Chainer ``Trainer`` and its extensions.

* Adam with alpha 2e-4, beta1 0.5, beta2 0.999, eps 1e-8 (:data:`ADAM`),
  mini-batches of 32, the mean absolute error between predicted and
  annotated traits, He-normal initialisation (the network's own), 900
  epochs;
* alpha divided by 10 after each third of the epochs (after 300 and 600 of
  900): :func:`learning_rate` and :class:`ThreePhaseSchedule`;
* validation on whole clips (§2.3) at the end of each third, written as the
  paper's Table 1 (:class:`ThirdsValidation`);
* faults: a non-finite loss stops training with :class:`TrainingDiverged`
  before the update, so neither the network nor any snapshot is touched by
  it; snapshots are written under a temporary name, flushed to disk and
  renamed (:class:`Snapshot`), so a crash while writing keeps the previous
  one; :func:`train` with ``resume=True`` continues from the newest
  snapshot with the same epoch, iteration, optimizer state, learning rate
  and random states.

:func:`make_trainer` assembles the trainer for a network and datasets;
:func:`train` runs a whole training from a clip store into a run directory
(what ``deep-impression train`` does).
"""

import json
import math
import os
import re
import sys

from deep_impression import _compat  # noqa: F401  (before chainer)

import chainer
import chainer.functions as F
import numpy
from chainer import training
from chainer.training import extensions

from deep_impression import fileio
from deep_impression.constants import (AUDIO_CROP, FRAME_CROP, FRAME_HEIGHT,
                                       FRAME_WIDTH)
from deep_impression.errors import DeepImpressionError, InputError

#: Adam's hyperparameters (paper §2.2).
ADAM = dict(alpha=2e-4, beta1=0.5, beta2=0.999, eps=1e-8)
#: Epochs and mini-batch size (paper §2.2).
EPOCHS = 900
BATCH_SIZE = 32
#: The schedule has three phases of equal length; alpha is multiplied by
#: this after each of the first two ("reduced alpha by a factor of 10 after
#: every 300 epochs").
PHASES = 3
ALPHA_DECAY = 0.1

#: Snapshot file names in a run directory (the trainer's whole state).
SNAPSHOT_FORMAT = 'snapshot_epoch_{:04d}'
_SNAPSHOT_NAME = re.compile(r'^snapshot_epoch_(\d+)$')
#: The trained network, in the release's weight format.
MODEL_FILE = 'model'
CONFIG_FILE = 'config.json'
REPORTS_DIR = 'reports'


class TrainingDiverged(DeepImpressionError):
    """The loss became NaN or infinite; training stopped before updating."""


# -- the learning-rate schedule -----------------------------------------------

def phase_ends(epochs):
    """Epochs after which each third of training ends.

    ``(300, 600, 900)`` for the paper's 900 epochs; for other lengths the
    thirds are rounded to whole epochs, e.g. ``(3, 7, 10)`` for 10.
    """
    epochs = int(epochs)
    if epochs < PHASES:
        raise InputError('epochs: the three-phase schedule needs at least '
                         '{} epochs, got {}'.format(PHASES, epochs))
    return tuple(int(round(epochs * k / PHASES)) for k in
                 range(1, PHASES + 1))


def learning_rate(completed_epochs, epochs=EPOCHS, alpha=ADAM['alpha']):
    """Adam's alpha for the epoch that follows ``completed_epochs``.

    Args:
        completed_epochs: epochs finished so far (Chainer's
            ``updater.epoch``); 0 during the first epoch.
        epochs: length of the whole schedule.
        alpha: the initial alpha.

    Returns:
        ``alpha`` during the first third, ``alpha / 10`` during the second
        and ``alpha / 100`` during the last (for 900 epochs: epochs 1-300,
        301-600 and 601-900, counting from 1).
    """
    phase = sum(1 for end in phase_ends(epochs)[:-1]
                if completed_epochs >= end)
    return alpha * ALPHA_DECAY ** phase


class ThreePhaseSchedule(training.Extension):
    """Sets Adam's alpha from the epoch before every iteration.

    The rate is a function of the completed epochs only
    (:func:`learning_rate`), so a resumed run gets the same rate.
    """

    trigger = 1, 'iteration'
    priority = training.PRIORITY_WRITER

    def __init__(self, epochs, alpha=ADAM['alpha'], optimizer='main'):
        self.epochs = epochs
        self.alpha = alpha
        self.optimizer = optimizer
        phase_ends(epochs)

    def _set(self, trainer):
        optimizer = trainer.updater.get_optimizer(self.optimizer)
        optimizer.alpha = learning_rate(trainer.updater.epoch, self.epochs,
                                        self.alpha)

    def initialize(self, trainer):
        self._set(trainer)

    def __call__(self, trainer):
        self._set(trainer)


# -- loss and updater ---------------------------------------------------------

class Regressor(chainer.Chain):
    """The network with the mean absolute error loss (paper §2.2).

    ``forward(audio, frames, labels)`` takes a batch as
    :func:`~deep_impression.datasets.training_dataset` makes it --
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


class Updater(training.updaters.StandardUpdater):
    """A ``StandardUpdater`` that refuses a non-finite loss.

    The loss is checked before the backward pass, so a NaN never reaches
    the network's weights or the optimizer's state. Also reports ``alpha``,
    the learning rate the update used.
    """

    def update_core(self):
        iterator = self._iterators['main']
        batch = iterator.next()
        in_arrays = chainer.dataset.convert._call_converter(
            self.converter, batch, self.input_device)
        optimizer = self._optimizers['main']
        target = optimizer.target
        loss = target(*in_arrays)
        value = float(chainer.backend.CpuDevice().send(loss.array))
        if not math.isfinite(value):
            raise TrainingDiverged(
                'training stopped: the loss became {} in epoch {}, iteration '
                '{} (alpha {:g}); the weights were not updated with it'.format(
                    value, self.epoch + 1, self.iteration + 1,
                    optimizer.alpha))
        chainer.report({'alpha': optimizer.alpha})
        target.cleargrads()
        loss.backward()
        del loss
        optimizer.update()
        if self.auto_new_epoch and iterator.is_new_epoch:
            optimizer.new_epoch(auto=True)


# -- random states ------------------------------------------------------------

def _never(trainer):
    return False


class RandomStates(training.Extension):
    """Keeps random generators in the trainer's snapshots.

    Does nothing while training; its ``serialize`` saves and restores the
    states of the given generators (``numpy.random.RandomState`` or
    ``numpy.random.Generator`` objects, or ``None`` for NumPy's global
    generator), so a resumed run draws the same numbers as an uninterrupted
    one would have.

    Args:
        generators: dict from name to generator, or to a zero-argument
            callable returning it (for generators made lazily).
    """

    trigger = staticmethod(_never)
    priority = training.PRIORITY_READER

    def __init__(self, generators):
        self.generators = dict(generators)

    def __call__(self, trainer):
        pass

    def _get(self, name):
        g = self.generators[name]
        if g is None:
            return numpy.random.mtrand._rand
        if callable(g) and not isinstance(
                g, (numpy.random.RandomState, numpy.random.Generator)):
            return g()
        return g

    def serialize(self, serializer):
        saving = isinstance(serializer, chainer.serializer.Serializer)
        for name in sorted(self.generators):
            g = self._get(name)
            if g is None:
                continue
            if isinstance(g, numpy.random.Generator):
                g = g.bit_generator
            if saving:
                serializer(name, json.dumps(_jsonable(g.get_state()
                           if isinstance(g, numpy.random.RandomState)
                           else g.state)))
            else:
                state = json.loads(str(serializer(name, None)))
                if isinstance(g, numpy.random.RandomState):
                    g.set_state((state[0], numpy.array(state[1],
                                                       dtype=numpy.uint32))
                                + tuple(state[2:]))
                else:
                    g.state = state


def _jsonable(obj):
    if isinstance(obj, numpy.ndarray):
        return obj.tolist()
    if isinstance(obj, (tuple, list)):
        return [_jsonable(o) for o in obj]
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, numpy.generic):
        return obj.item()
    return obj


# -- snapshots ----------------------------------------------------------------

def _all_finite(link):
    for _, param in link.namedparams():
        if param.array is not None and not bool(
                link.xp.isfinite(param.array).all()):
            return False
    return True


def write_npz_atomically(path, arrays):
    """``numpy.savez`` under a temporary name beside ``path``, flushed to
    disk, then renamed over ``path`` (:mod:`deep_impression.fileio`): a
    crash at any point leaves either the old file or the new one, never a
    half-written file."""
    with fileio.atomic_open(path, 'wb') as f:
        numpy.savez(f, **arrays)
    return path


class Snapshot(training.Extension):
    """The trainer's whole state as ``snapshot_epoch_NNNN`` in its ``out``.

    Written with :func:`write_npz_atomically`; the newest ``keep`` files are
    kept, older ones removed after the new one is in place. A network with
    a NaN or infinite weight is never written (:class:`TrainingDiverged`).

    Chainer's own ``extensions.snapshot`` also writes into a temporary
    folder and renames (``shutil.move``); this one adds the flush to disk
    and the check of the weights.
    """

    priority = -100   # after LogReport and the others have run

    def __init__(self, model, keep=2):
        self.model = model
        self.keep = keep

    def __call__(self, trainer):
        if not _all_finite(self.model):
            raise TrainingDiverged(
                'training stopped: the network has NaN or infinite weights '
                'after epoch {}; no snapshot was written'.format(
                    trainer.updater.epoch))
        arrays = chainer.serializers.DictionarySerializer()
        arrays.save(trainer)
        name = SNAPSHOT_FORMAT.format(trainer.updater.epoch)
        write_npz_atomically(os.path.join(trainer.out, name), arrays.target)
        for old in list_snapshots(trainer.out)[:-self.keep]:
            os.remove(old)


def list_snapshots(run_dir):
    """Snapshot files of a run directory, oldest (lowest epoch) first."""
    if not os.path.isdir(run_dir):
        return []
    found = []
    for name in os.listdir(run_dir):
        m = _SNAPSHOT_NAME.match(name)
        if m:
            found.append((int(m.group(1)), os.path.join(run_dir, name)))
    return [path for _, path in sorted(found)]


class EpochTrigger(object):
    """Fires at the end of every ``every``-th epoch and of the given ones."""

    def __init__(self, every, epochs=()):
        self.every = int(every) if every else 0
        self.epochs = set(int(e) for e in epochs)

    def __call__(self, trainer):
        updater = trainer.updater
        if not updater.is_new_epoch:
            return False
        e = updater.epoch
        return e in self.epochs or (self.every > 0 and e % self.every == 0)


# -- validation at the end of each third --------------------------------------

class ThirdsValidation(training.Extension):
    """Full-clip validation (§2.3) at the end of each third of training.

    Reports ``validation/accuracy/average`` and
    ``validation/accuracy/<trait>`` (picked up by ``LogReport`` and
    ``PlotReport``), writes Table 1 so far (``reports/table1.*``), the
    per-clip predictions (``reports/validation_epoch_NNNN.csv``) and the
    network at that epoch in the release's format (``model_epoch_NNNN``).

    Args:
        model: the :class:`~deep_impression.model.AudiovisualNetwork`.
        dataset: an :class:`~deep_impression.datasets.EvaluationDataset`.
        epochs: the schedule's length (validation after each third).
        note: a line written under Table 1 (e.g. how the run differs from
            the paper).
    """

    priority = training.PRIORITY_WRITER

    def __init__(self, model, dataset, epochs, note=None,
                 show_progress=None):
        self.model = model
        self.dataset = dataset
        self.epochs = phase_ends(epochs)
        self.note = note
        self.show_progress = show_progress
        self.results = {}

    @property
    def trigger(self):
        return EpochTrigger(0, self.epochs)

    def __call__(self, trainer):
        from deep_impression import evaluation, reports, weights
        epoch = trainer.updater.epoch
        result = evaluation.evaluate(
            self.model, self.dataset, show_progress=self.show_progress,
            desc='validation, epoch {}'.format(epoch))
        scores = result.as_dict()
        self.results[epoch] = scores
        chainer.report({'validation/accuracy/' + k: v
                        for k, v in scores.items()})
        out = os.path.join(trainer.out, REPORTS_DIR)
        reports.write_table1(out, self.results, self.note)
        evaluation.write_predictions_csv(os.path.join(
            out, 'validation_epoch_{:04d}.csv'.format(epoch)), result)
        weights.save_weights(self.model, os.path.join(
            trainer.out, '{}_epoch_{:04d}'.format(MODEL_FILE, epoch)))

    def serialize(self, serializer):
        if isinstance(serializer, chainer.serializer.Serializer):
            serializer('results', json.dumps(
                {str(k): v for k, v in self.results.items()}))
        else:
            text = str(serializer('results', None))
            self.results = {int(k): v for k, v in json.loads(text).items()}


# -- the trainer --------------------------------------------------------------

class _PlainText(object):
    """A stream without the terminal escape PrintReport writes before each
    line (for logs and pipes)."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        return self.stream.write(text.replace('\033[J', ''))

    def flush(self):
        self.stream.flush()


def default_device():
    """``'@cupy:0'`` when CuPy imports and sees a GPU, else ``'@numpy'``."""
    try:
        import cupy
        if cupy.cuda.runtime.getDeviceCount() > 0:
            return '@cupy:0'
    except Exception:
        pass
    return '@numpy'


def make_trainer(model, train_data, out, epochs=EPOCHS,
                 batch_size=BATCH_SIZE, device=None, seed=0, validation=None,
                 loaders=2, snapshot_every=10, keep_snapshots=2,
                 alpha=ADAM['alpha'], progress_bar=None, note=None,
                 random_states=None):
    """A Chainer ``Trainer`` for the paper's training (§2.2).

    Args:
        model: an :class:`~deep_impression.model.AudiovisualNetwork`; moved
            to ``device``.
        train_data: a dataset of ``(audio, frame, labels)`` examples
            (:func:`~deep_impression.datasets.training_dataset`).
        out: the run directory (snapshots, log, plots, reports).
        epochs: length of the three-phase schedule.
        batch_size: examples per update.
        device: Chainer device specifier (default :func:`default_device`).
        seed: seeds the order in which examples are drawn.
        validation: an :class:`~deep_impression.datasets.EvaluationDataset`
            for full-clip validation at the end of each third, or None.
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

    Returns:
        ``chainer.training.Trainer``.
    """
    ends = phase_ends(epochs)
    device = chainer.get_device(device or default_device())
    model.to_device(device)
    device.use()
    regressor = Regressor(model)
    optimizer = chainer.optimizers.Adam(
        alpha=alpha, beta1=ADAM['beta1'], beta2=ADAM['beta2'],
        eps=ADAM['eps'])
    optimizer.setup(regressor)

    order_rng = numpy.random.RandomState(seed)
    sampler = chainer.iterators.ShuffleOrderSampler(order_rng)
    if loaders and loaders > 0:
        iterator = chainer.iterators.MultiprocessIterator(
            train_data, batch_size, shuffle=None, order_sampler=sampler,
            n_processes=loaders)
    else:
        iterator = chainer.iterators.SerialIterator(
            train_data, batch_size, shuffle=None, order_sampler=sampler)
    updater = Updater(iterator, optimizer, device=device)
    os.makedirs(os.path.join(out, REPORTS_DIR), exist_ok=True)
    trainer = training.Trainer(updater, (epochs, 'epoch'), out=out)

    trainer.extend(ThreePhaseSchedule(epochs, alpha))
    generators = {'order': order_rng, 'numpy': None}
    generators.update(random_states or {})
    trainer.extend(RandomStates(generators), name='random_states')
    if validation is not None:
        trainer.extend(ThirdsValidation(model, validation, epochs, note=note),
                       name='validation')
    trainer.extend(extensions.LogReport(trigger=(1, 'epoch')))
    trainer.extend(extensions.PrintReport(
        ['epoch', 'iteration', 'main/loss', 'main/accuracy', 'alpha',
         'validation/accuracy/average', 'elapsed_time'],
        out=sys.stdout if sys.stdout.isatty() else _PlainText(sys.stdout)))
    if extensions.PlotReport.available():
        from deep_impression.constants import PAPER_TRAIT_ORDER
        trainer.extend(extensions.PlotReport(
            ['main/loss'], 'epoch',
            file_name=os.path.join(REPORTS_DIR, 'training_loss.png')))
        if validation is not None:
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
    trainer.extend(Snapshot(model, keep=keep_snapshots),
                   trigger=EpochTrigger(snapshot_every, ends),
                   name='snapshot')
    return trainer


def resume(trainer):
    """Load the newest snapshot of ``trainer.out`` into ``trainer``.

    Returns:
        the snapshot's path, or None when the run has none yet. A snapshot
        that cannot be read is reported and the one before it is tried.
    """
    for path in reversed(list_snapshots(trainer.out)):
        try:
            chainer.serializers.load_npz(path, trainer)
            return path
        except Exception as e:  # a damaged file: try the previous one
            print('deep-impression: cannot resume from {} ({}); trying an '
                  'older snapshot'.format(path, e), file=sys.stderr)
    return None


# -- a whole training run -----------------------------------------------------

def run_config(data_dir, epochs=EPOCHS, batch_size=BATCH_SIZE, seed=0,
               audio_crop=AUDIO_CROP, frame_crop=FRAME_CROP,
               validation_max_frames=None, alpha=ADAM['alpha'],
               snapshot_every=10):
    """The settings of a run, as stored in ``RUN_DIR/config.json``."""
    return dict(data=os.path.abspath(os.fspath(data_dir)), epochs=int(epochs),
                batch_size=int(batch_size), seed=int(seed),
                audio_crop=int(audio_crop), frame_crop=int(frame_crop),
                validation_max_frames=(None if validation_max_frames is None
                                       else int(validation_max_frames)),
                alpha=float(alpha), snapshot_every=int(snapshot_every),
                adam=dict(ADAM, alpha=float(alpha)))


def deviations(config):
    """How a run's settings differ from the paper's, as one line (or None)."""
    paper = run_config(config['data'])
    names = dict(frame_size='stored frame size', epochs='epochs',
                 batch_size='batch size',
                 audio_crop='audio crop (samples)',
                 frame_crop='frame crop (pixels)',
                 validation_max_frames='validation frames per clip',
                 alpha='initial alpha')
    paper['frame_size'] = [FRAME_WIDTH, FRAME_HEIGHT]

    def say(key, value):
        if key == 'frame_size':
            return 'varying' if value is None else '{}x{}'.format(*value)
        return 'all' if value is None else value
    diffs = ['{} {} (paper: {})'.format(label, say(key, config.get(key)),
                                        say(key, paper[key]))
             for key, label in names.items()
             if config.get(key) != paper[key]]
    if not diffs:
        return None
    return 'Differs from the paper (§2.2-2.3): ' + '; '.join(diffs) + '.'


def train(data_dir, out, epochs=EPOCHS, batch_size=BATCH_SIZE, device=None,
          resume_run=False, seed=0, audio_crop=AUDIO_CROP,
          frame_crop=FRAME_CROP, validation_max_frames=None,
          alpha=ADAM['alpha'], loaders=2, snapshot_every=10,
          validate=True, progress_bar=None, extend=None):
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
        validate: run the full-clip validation at the end of each third.
        extend: optional callable ``extend(trainer)`` adding extensions
            (for tests and experiments).
        (others: see :func:`make_trainer` and :func:`run_config`.)

    Returns:
        dict: ``model`` (path of the final weights), ``table1`` (``{epoch:
        scores}``), ``resumed_from`` (snapshot path or None).

    Raises:
        DeepImpressionError: a run already in ``out`` without
            ``resume_run``, settings that differ from the stopped run's,
            no training clips, or :class:`TrainingDiverged`.
    """
    from deep_impression import datasets, weights
    from deep_impression.model import AudiovisualNetwork
    out = os.fspath(out)
    from deep_impression.store import ClipStore
    config = run_config(data_dir, epochs, batch_size, seed, audio_crop,
                        frame_crop, validation_max_frames, alpha,
                        snapshot_every)
    size = ClipStore(data_dir).frame_size
    config['frame_size'] = None if size is None else [int(v) for v in size]
    config_path = os.path.join(out, CONFIG_FILE)
    if os.path.exists(config_path):
        if not resume_run:
            raise DeepImpressionError(
                '{}: already holds a run; continue it with --resume or choose '
                'another --out'.format(out))
        with open(config_path) as f:
            stored = json.load(f)
        for key in sorted(config):
            if stored.get(key) != config[key]:
                raise DeepImpressionError(
                    '{}: cannot resume with {} = {!r}; the stopped run used '
                    '{!r} (remove {} to start afresh)'.format(
                        config_path, key, config[key], stored.get(key), out))
    os.makedirs(out, exist_ok=True)
    fileio.write_json(config_path, config, indent=2)

    train_data = datasets.training_dataset(
        data_dir, 'train', audio_crop=audio_crop, frame_crop=frame_crop,
        seed=seed)
    if len(train_data) == 0:
        raise DeepImpressionError('{}: no training clips in the store'.format(
            data_dir))
    validation = None
    if validate:
        validation = datasets.EvaluationDataset(
            data_dir, 'validation', max_frames=validation_max_frames)
        if len(validation) == 0:
            print('deep-impression: {}: no validation clips; training without '
                  'validation'.format(data_dir), file=sys.stderr)
            validation = None

    # The seed fixes the initial weights (He normal draws from NumPy's
    # global generator), the order of examples and the in-process crops.
    numpy.random.seed(seed)
    model = AudiovisualNetwork()
    transform = train_data.transform
    trainer = make_trainer(
        model, train_data, out, epochs=epochs, batch_size=batch_size,
        device=device, seed=seed, validation=validation, loaders=loaders,
        snapshot_every=snapshot_every, alpha=alpha,
        progress_bar=progress_bar, note=deviations(config),
        random_states={'crops': lambda: transform.rng})
    if extend is not None:
        extend(trainer)
    resumed_from = None
    if resume_run:
        resumed_from = resume(trainer)
        if resumed_from is None:
            print('deep-impression: no snapshot in {} yet; starting from the '
                  'beginning'.format(out), file=sys.stderr)
        else:
            print('deep-impression: resuming from {} (epoch {}, iteration {})'
                  .format(resumed_from, trainer.updater.epoch,
                          trainer.updater.iteration), file=sys.stderr)
    try:
        trainer.run(show_loop_exception_msg=False)
    except TrainingDiverged as e:
        snapshots = list_snapshots(out)
        raise TrainingDiverged('{}; last good snapshot: {}'.format(
            e, snapshots[-1] if snapshots else 'none yet')) from None
    model_path = weights.save_weights(model, os.path.join(out, MODEL_FILE))
    table1 = {}
    if validation is not None:
        table1 = dict(trainer.get_extension('validation').results)
    return dict(model=model_path, table1=table1, resumed_from=resumed_from)
