"""The paper's training settings (§2.2) and a run's configuration.

* Adam with alpha 2e-4, beta1 0.5, beta2 0.999, eps 1e-8 (:data:`ADAM`),
  mini-batches of 32, 900 epochs;
* alpha divided by 10 after each third of the epochs (after 300 and 600 of
  900): :func:`phase_ends` and :func:`learning_rate`;
* :func:`run_config`: the settings of a run as stored in its
  ``config.json``; :func:`deviations`: how they differ from the paper's;
* :func:`load_config`: an experiment's configuration (the JSON files of
  ``experiments/configs``, read by ``experiments/reproduce.py`` and
  ``deep-impression train --config``) with ``section.key=value``
  overrides; :func:`train_arguments`: its training settings as
  :func:`~deep_impression.training.trainer.train` takes them.
"""

import copy
import json
import math
import os

from deep_impression.constants import (AUDIO_CROP, FRAME_CROP, FRAME_HEIGHT,
                                       FRAME_WIDTH)
from deep_impression.errors import InputError

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
#: The trained network, in the release's weight format.
MODEL_FILE = 'model'
CONFIG_FILE = 'config.json'
REPORTS_DIR = 'reports'


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


def check_alpha(alpha):
    """``alpha`` as a float if it is a positive finite number (a negative
    alpha makes Adam climb the loss; NaN or infinity ruin the weights at
    the first update); InputError otherwise."""
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise InputError("alpha: Adam's alpha must be a positive finite "
                         "number, got {!r}".format(alpha))
    return value


#: The most epochs one update may span: a batch up to this many times the
#: training clips is allowed with a warning (the paper-scale test's batch of
#: 32 over 8 full-length clips); beyond it the batch only grows memory.
MAX_EPOCHS_PER_UPDATE = 4


def check_batch_size(batch_size, clips, data_dir):
    """Refuse a batch far larger than the training set, before any work;
    warn (one line) of one merely larger.

    Chainer's iterators fill such a batch by going round the clips several
    times, so one update spans several epochs: memory grows with the batch
    (not the data), and a short run makes a handful of updates, too few
    for its schedule.

    Raises:
        InputError: ``batch_size`` exceeds :data:`MAX_EPOCHS_PER_UPDATE`
            times ``clips``, naming the store.
    """
    batch_size = int(batch_size)
    if batch_size > MAX_EPOCHS_PER_UPDATE * clips:
        raise InputError(
            '{}: --batchsize {} is larger than its {} training clip{} (one '
            'update would span several epochs); use --batchsize {} or '
            'fewer'.format(data_dir, batch_size, clips,
                           '' if clips == 1 else 's', max(clips, 1)))
    if batch_size > clips:
        from deep_impression.media import print_warning
        print_warning('{}: --batchsize {} is larger than its {} training '
                      'clips: one update spans {:.3g} epochs'.format(
                          data_dir, batch_size, clips, batch_size / clips))
    return batch_size


def run_config(data_dir, epochs=EPOCHS, batch_size=BATCH_SIZE, seed=0,
               audio_crop=AUDIO_CROP, frame_crop=FRAME_CROP,
               validation_max_frames=None, alpha=ADAM['alpha'],
               snapshot_every=10):
    """The settings of a run, as stored in ``RUN_DIR/config.json``.

    Raises:
        InputError: ``alpha`` is not a positive finite number.
    """
    alpha = check_alpha(alpha)
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


def default_device():
    """``'@cupy:0'`` when CuPy imports and sees a GPU, else ``'@numpy'``."""
    try:
        import cupy
        if cupy.cuda.runtime.getDeviceCount() > 0:
            return '@cupy:0'
    except Exception:
        pass
    return '@numpy'


def default_config():
    """An experiment's configuration as the paper sets it (§2.2-2.3, §3).

    Sections: ``synth`` (a synthetic stand-in of the challenge's size:
    6000/2000/2000 clips of 15 s, 1280x720 at 30 frames/s), ``preprocess``
    (456x256 frames), ``train`` (the keyword arguments of
    :func:`~deep_impression.training.trainer.train`: 900 epochs, batches
    of 32, 50176-sample and 224x224 crops, every validation frame; the
    challenge network, or ``model`` ``'dan-plus'`` / ``'cam-dan-plus'``
    with ``width``, ``frames_per_clip``, ``input_size`` and ``backbone``,
    see :func:`~deep_impression.training.trainer.train`) and
    ``evaluate``; also ``fast_cpu``, the switch of
    :mod:`~deep_impression.models.fast_cpu`, which changes speed, not
    results; a configuration file changes some of them.
    """
    return dict(
        name='the paper\'s settings', about='',
        synth=dict(train=6000, val=2000, test=2000, seconds=15.0,
                   size=[1280, 720], fps=30, seed=0),
        preprocess=dict(width=FRAME_WIDTH, height=FRAME_HEIGHT),
        train=dict(epochs=EPOCHS, batch_size=BATCH_SIZE,
                   audio_crop=AUDIO_CROP, frame_crop=FRAME_CROP,
                   validation_max_frames=None, alpha=ADAM['alpha'],
                   snapshot_every=10, seed=0, loaders=2,
                   model='challenge', width=1, frames_per_clip=None,
                   input_size=None, backbone=None, fast_cpu=True),
        evaluate=dict(max_frames=None, splits=['validation', 'test']),
        min_margin_over_constant=None)


def _parse_value(text):
    # JSON where it parses (numbers, null, lists), else the text itself.
    try:
        return json.loads(text)
    except ValueError:
        return text


def _set(config, key, value, source):
    parts = key.split('.')
    node = config
    for depth, part in enumerate(parts):
        if not isinstance(node, dict) or part not in node:
            raise InputError('{}: unknown setting {!r} (known: {})'.format(
                source, '.'.join(parts[:depth + 1]), ', '.join(
                    sorted(node) if isinstance(node, dict) else [])))
        if depth == len(parts) - 1:
            node[part] = value
        else:
            node = node[part]


def load_config(path=None, overrides=(), seed=None):
    """An experiment's configuration: defaults, file, then overrides.

    Args:
        path: a JSON configuration (``experiments/configs/*.json``); its
            sections replace the keys of :func:`default_config` they name.
            None: the defaults alone.
        overrides: ``'section.key=value'`` strings (``--set``; the value
            is read as JSON where it parses, e.g. ``train.epochs=3``,
            ``synth.size=[1280,720]``, else as text) or ``(key, value)``
            pairs, applied in order.
        seed: the training seed (``train.seed``), applied last.

    Returns:
        dict with the sections of :func:`default_config`; ``source`` names
        the file.

    Raises:
        InputError: an unreadable file or an unknown setting, named.
    """
    config = default_config()
    if path is not None:
        try:
            with open(path, encoding='utf-8') as f:
                stored = json.load(f)
        except (OSError, ValueError) as e:
            raise InputError('{}: cannot read the configuration ({})'.format(
                path, e)) from None
        if not isinstance(stored, dict):
            raise InputError('{}: expected a JSON object'.format(path))
        for key, value in stored.items():
            if isinstance(config.get(key), dict):
                if not isinstance(value, dict):
                    raise InputError('{}: {!r} must be an object'.format(
                        path, key))
                for name, item in value.items():
                    _set(config, '{}.{}'.format(key, name), item, path)
            else:
                config[key] = value
    for item in overrides:
        if isinstance(item, str):
            key, sep, text = item.partition('=')
            if not sep:
                raise InputError('--set {!r}: expected KEY=VALUE, e.g. '
                                 'train.epochs=3'.format(item))
            item = (key.strip(), _parse_value(text))
        _set(config, item[0], item[1], '--set')
    if seed is not None:
        config['train']['seed'] = int(seed)
    config['source'] = None if path is None else os.path.abspath(path)
    return copy.deepcopy(config)


def train_arguments(config):
    """The ``train`` section as keyword arguments of
    :func:`~deep_impression.training.trainer.train`, with the whole
    configuration to record in the run's ``config.json``."""
    return dict(config['train'], experiment=config)
