"""Training as in the paper (§2.2), as a Chainer ``Trainer``.

* :mod:`~deep_impression.training.config`: the paper's settings (Adam,
  epochs, batch size, the three-phase schedule) and a run's configuration;
* :mod:`~deep_impression.training.updater`: the loss and an updater that
  refuses a non-finite loss;
* :mod:`~deep_impression.training.extensions`: the alpha schedule, random
  states and snapshots kept in the trainer's state;
* :mod:`~deep_impression.training.trainer`: :func:`make_trainer` and
  :func:`train` (what ``deep-impression train`` runs);
* :mod:`~deep_impression.training.per_trait`: per-trait fine-tuning
  (paper §4, "5 x DNN", :func:`train_per_trait`);
* :mod:`~deep_impression.training.bptt` and
  :mod:`~deep_impression.training.recurrent`: the RNN on the challenge
  network's per-second features (paper §4, "DNN + RNN",
  :func:`train_recurrent`).
"""

from deep_impression.training.config import (  # noqa: F401
    ADAM, ALPHA_DECAY, BATCH_SIZE, CONFIG_FILE, EPOCHS, MODEL_FILE, PHASES,
    REPORTS_DIR, SNAPSHOT_FORMAT, default_device, deviations, learning_rate,
    phase_ends, run_config)
from deep_impression.training.extensions import (  # noqa: F401
    EpochTrigger, RandomStates, Snapshot, ThirdsReport, alpha_schedule,
    list_snapshots, write_npz_atomically)
from deep_impression.training.trainer import (  # noqa: F401
    make_trainer, prepare_run_dir, resume, run_trainer, train)
from deep_impression.training.per_trait import (  # noqa: F401
    fine_tuning_schedule, train_per_trait)
from deep_impression.training.recurrent import train_recurrent  # noqa: F401
from deep_impression.training.updater import (  # noqa: F401
    Regressor, TrainingDiverged, Updater)
from deep_impression.errors import DeepImpressionError  # noqa: F401
