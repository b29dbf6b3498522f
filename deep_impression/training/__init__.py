"""Training as in the paper (§2.2), as a Chainer ``Trainer``.

* :mod:`~deep_impression.training.config`: the paper's settings (Adam,
  epochs, batch size, the three-phase schedule) and a run's configuration;
* :mod:`~deep_impression.training.updater`: the loss and an updater that
  refuses a non-finite loss;
* :mod:`~deep_impression.training.extensions`: the alpha schedule, random
  states and snapshots kept in the trainer's state;
* :mod:`~deep_impression.training.trainer`: :func:`make_trainer` and
  :func:`train` (what ``deep-impression train`` runs).
"""

from deep_impression.training.config import (  # noqa: F401
    ADAM, ALPHA_DECAY, BATCH_SIZE, CONFIG_FILE, EPOCHS, MODEL_FILE, PHASES,
    REPORTS_DIR, SNAPSHOT_FORMAT, default_device, deviations, learning_rate,
    default_config, load_config, phase_ends, run_config, train_arguments)
from deep_impression.training.extensions import (  # noqa: F401
    EpochTrigger, RandomStates, Snapshot, ThirdsReport, alpha_schedule,
    list_snapshots, write_npz_atomically)
from deep_impression.training.trainer import (  # noqa: F401
    make_trainer, resume, train)
from deep_impression.training.updater import (  # noqa: F401
    Regressor, TrainingDiverged, Updater)
from deep_impression.errors import DeepImpressionError  # noqa: F401
