"""Extensions of the paper's trainer: the three-phase alpha schedule,
random states and snapshots kept in the trainer's state, and the reports
written at the end of each third.

Faults: snapshots are written under a temporary name, flushed to disk and
renamed (:class:`Snapshot`), so a crash while writing keeps the previous
one; a network with NaN or infinite weights is never written.
"""

import json
import os
import re
import time

from deep_impression import _compat  # noqa: F401  (before chainer)

import chainer
import numpy
from chainer import training
from chainer.training import extensions, triggers

from deep_impression import fileio
from deep_impression.training.config import (ADAM, ALPHA_DECAY, MODEL_FILE,
                                              REPORTS_DIR, SNAPSHOT_FORMAT,
                                              phase_ends)
from deep_impression.training.updater import TrainingDiverged

_SNAPSHOT_NAME = re.compile(r'^snapshot_epoch_(\d+)$')

#: For the tests that kill a run with SIGKILL right after a given snapshot
#: (tests/processes.py): when this variable names the snapshot file just
#: written, :class:`Snapshot` writes ``<that path>.held`` and waits, at most
#: :data:`HOLD_SECONDS`, to be killed. A tiny run could otherwise finish
#: between the snapshot and the test's look at the folder. Unset, nothing
#: changes.
HOLD_ENV = 'DEEP_IMPRESSION_HOLD_AFTER_SNAPSHOT'
HOLD_SECONDS = 600


def alpha_schedule(epochs, alpha=ADAM['alpha'], optimizer=None, ends=None):
    """The paper's alpha schedule from Chainer's own parts.

    An ``ExponentialShift`` of Adam's ``alpha`` by :data:`ALPHA_DECAY`,
    fired by a ``ManualScheduleTrigger`` at the end of the first two thirds
    (:func:`phase_ends`): alpha during epochs 1-300 of 900, alpha / 10
    during 301-600, alpha / 100 during 601-900. Both save their state in
    the trainer's snapshots, so a resumed run continues with the same rate.

    ``ends`` (default :func:`phase_ends`) gives other phase ends, e.g.
    the last two thirds of a schedule that a fine-tuning continues.

    Returns:
        ``(extension, trigger)`` for ``trainer.extend``.
    """
    ends = ends or phase_ends(epochs)
    shift = extensions.ExponentialShift('alpha', ALPHA_DECAY, init=alpha,
                                        optimizer=optimizer)
    return shift, _ScheduleTrigger(list(ends[:-1]), 'epoch')


class _ScheduleTrigger(triggers.ManualScheduleTrigger):
    """A ``ManualScheduleTrigger`` that never says it has ``finished``.

    Chainer's ``Trainer.run`` skips ``initialize`` of an extension whose
    trigger has finished; for the alpha schedule that is the call that
    restores alpha from a snapshot, so a run resumed after the last decay
    (after epoch 600 of 900) would go on with the initial alpha.
    """

    @property
    def finished(self):
        return False

    @finished.setter
    def finished(self, value):
        pass


def _never(trainer):
    return False


class RandomStates(training.Extension):
    """Keeps random generators in the trainer's snapshots.

    Does nothing while training; its ``serialize`` saves and restores the
    states of the given generators (``numpy.random.RandomState`` or
    ``numpy.random.Generator`` objects, or ``None`` for NumPy's global
    generator), so a resumed run draws the same numbers as an uninterrupted
    one would have.

    With a ChainerMN communicator every rank's generators are kept
    (``<name>_rank<r>``, gathered on rank 0 when saving; each rank takes
    its own back), so a resumed distributed run is exact too; saving is
    then a collective operation that every rank takes part in.

    Args:
        generators: dict from name to generator, or to a zero-argument
            callable returning it (for generators made lazily).
        comm: optional ChainerMN communicator.
    """

    trigger = staticmethod(_never)
    priority = training.PRIORITY_READER

    def __init__(self, generators, comm=None):
        self.generators = dict(generators)
        self.comm = comm

    def __call__(self, trainer):
        pass

    def _get(self, name):
        g = self.generators[name]
        if g is None:
            return _GlobalGenerator
        if callable(g) and not isinstance(
                g, (numpy.random.RandomState, numpy.random.Generator)):
            return g()
        return g

    def _save(self, serializer, name, text):
        if self.comm is None:
            serializer(name, text)
            return
        texts = self.comm.gather_obj(text)
        for rank, text in enumerate(texts or ()):   # None but on rank 0
            serializer('{}_rank{}'.format(name, rank), text)

    def serialize(self, serializer):
        saving = isinstance(serializer, chainer.serializer.Serializer)
        for name in sorted(self.generators):
            g = self._get(name)
            if g is None:
                continue
            if isinstance(g, numpy.random.Generator):
                g = g.bit_generator
            legacy = hasattr(g, 'get_state')   # RandomState's interface
            if saving:
                self._save(serializer, name, json.dumps(_jsonable(
                    g.get_state() if legacy else g.state)))
            else:
                key = name if self.comm is None else '{}_rank{}'.format(
                    name, self.comm.rank)
                state = json.loads(str(serializer(key, None)))
                if legacy:
                    g.set_state((state[0], numpy.array(state[1],
                                                       dtype=numpy.uint32))
                                + tuple(state[2:]))
                else:
                    g.state = state


class _GlobalGenerator(object):
    """NumPy's global generator (``numpy.random.seed``, He initialisation)
    through its public state functions."""

    get_state = staticmethod(numpy.random.get_state)
    set_state = staticmethod(numpy.random.set_state)


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

    With a ChainerMN ``comm`` every rank runs it (the trainer's state
    includes every rank's random states, :class:`RandomStates`) and rank
    0 writes.
    """

    priority = -100   # after LogReport and the others have run

    def __init__(self, model, keep=2, comm=None):
        self.model = model
        self.keep = keep
        self.comm = comm

    def __call__(self, trainer):
        if not _all_finite(self.model):
            raise TrainingDiverged(
                'training stopped: the network has NaN or infinite weights '
                'after epoch {}; no snapshot was written'.format(
                    trainer.updater.epoch))
        arrays = chainer.serializers.DictionarySerializer()
        arrays.save(trainer)
        if self.comm is not None and self.comm.rank != 0:
            return
        name = SNAPSHOT_FORMAT.format(trainer.updater.epoch)
        path = os.path.join(trainer.out, name)
        write_npz_atomically(path, arrays.target)
        for old in list_snapshots(trainer.out)[:-self.keep]:
            os.remove(old)
        _hold_if_asked(path)


def _hold_if_asked(path):
    """Signal and wait after writing the snapshot ``path`` if
    :data:`HOLD_ENV` names it (tests only)."""
    held = os.environ.get(HOLD_ENV)
    if not held or os.path.abspath(held) != os.path.abspath(path):
        return
    fileio.write_text(path + '.held', 'waiting to be killed\n')
    deadline = time.monotonic() + HOLD_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.1)


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


class ThirdsReport(training.Extension):
    """What the paper reports at the end of each third of training.

    Writes the network at that epoch in the release's weight format
    (``model_epoch_NNNN``); with a validation ``evaluator``
    (:class:`~deep_impression.evaluation.evaluator.ClipEvaluator`, run
    just before this at the same trigger), also Table 1 so far
    (``reports/table1.*``) and the per-clip predictions
    (``reports/validation_epoch_NNNN.csv``).

    Args:
        model: the network.
        epochs: the schedule's length (a report after each third).
        evaluator: the name of the trainer's validation extension, or None.
        note: a line written under Table 1 (how the run differs from the
            paper).
        comm: optional ChainerMN communicator: only rank 0 writes.
        ends: the report epochs (default :func:`phase_ends` of ``epochs``).
    """

    priority = training.PRIORITY_WRITER - 1   # after the evaluator

    def __init__(self, model, epochs, evaluator=None, note=None, comm=None,
                 ends=None):
        self.model = model
        self.epochs = tuple(ends or phase_ends(epochs))
        self.evaluator = evaluator
        self.note = note
        self.comm = comm
        self.results = {}

    @property
    def trigger(self):
        return triggers.ManualScheduleTrigger(list(self.epochs), 'epoch')

    def __call__(self, trainer):
        from deep_impression.evaluation import reports
        from deep_impression.evaluation.evaluator import write_predictions_csv
        from deep_impression.models.weights import save_weights
        if self.comm is not None and self.comm.rank != 0:
            return
        epoch = trainer.updater.epoch
        save_weights(self.model, os.path.join(
            trainer.out, '{}_epoch_{:04d}'.format(MODEL_FILE, epoch)))
        if self.evaluator is None:
            return
        result = trainer.get_extension(self.evaluator).last
        self.results[epoch] = result.as_dict()
        out = os.path.join(trainer.out, REPORTS_DIR)
        reports.write_table1(out, self.results, self.note)
        write_predictions_csv(os.path.join(
            out, 'validation_epoch_{:04d}.csv'.format(epoch)), result)

    def serialize(self, serializer):
        if isinstance(serializer, chainer.serializer.Serializer):
            serializer('results', json.dumps(
                {str(k): v for k, v in self.results.items()}))
        else:
            text = str(serializer('results', None))
            self.results = {int(k): v for k, v in json.loads(text).items()}
