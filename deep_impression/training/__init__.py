"""Training as in the paper (§2.2), as a Chainer ``Trainer``.

* :mod:`~deep_impression.training.config`: the paper's settings (Adam,
  epochs, batch size, the three-phase schedule) and a run's configuration;
* :mod:`~deep_impression.training.updater`: the loss and an updater that
  refuses a non-finite loss;
* :mod:`~deep_impression.training.extensions`: the alpha schedule, random
  states and snapshots kept in the trainer's state;
* :mod:`~deep_impression.training.trainer`: :func:`make_trainer` and
  :func:`train` (what ``deep-impression train`` runs);
* :mod:`~deep_impression.training.distributed`: the same training on
  several processes, GPUs and nodes with ChainerMN (``--communicator``).
* :mod:`~deep_impression.training.per_trait`: per-trait fine-tuning
  (paper §4, "5 x DNN", :func:`train_per_trait`);
* :mod:`~deep_impression.training.bptt` and
  :mod:`~deep_impression.training.recurrent`: the RNN on the challenge
  network's per-second features (paper §4, "DNN + RNN",
  :func:`train_recurrent`).
"""

import importlib

from deep_impression.training.config import (  # noqa: F401
    ADAM, ALPHA_DECAY, BATCH_SIZE, CONFIG_FILE, EPOCHS, MODEL_FILE, PHASES,
    REPORTS_DIR, SNAPSHOT_FORMAT, default_device, deviations, learning_rate,
    default_config, load_config, phase_ends, run_config, train_arguments)
from deep_impression.errors import DeepImpressionError  # noqa: F401

#: Names of the modules that need Chainer, imported on first use (PEP 562):
#: the command line reads the paper's settings above without paying for
#: Chainer's import.
_LAZY = {
    'extensions': ('EpochTrigger', 'RandomStates', 'Snapshot',
                   'ThirdsReport', 'alpha_schedule', 'list_snapshots',
                   'write_npz_atomically'),
    'trainer': ('make_trainer', 'prepare_run_dir', 'resume', 'run_trainer',
                'train'),
    'per_trait': ('fine_tuning_schedule', 'train_per_trait'),
    'recurrent': ('train_recurrent',),
    'updater': ('Regressor', 'TrainingDiverged', 'Updater'),
}


def __getattr__(name):
    for module, names in _LAZY.items():
        if name in names:
            return getattr(importlib.import_module(
                'deep_impression.training.' + module), name)
    raise AttributeError('module {!r} has no attribute {!r}'.format(
        __name__, name))
