"""Inference backends: Chainer (the reference) and ONNX Runtime (fast CPU).

:class:`OnnxRuntimeModel` runs the graph of
:mod:`~deep_impression.inference.onnx_export`
with ONNX Runtime and has the same ``predict(audio, frames)`` and
``clip_features`` as :class:`~deep_impression.AudiovisualNetwork`:
both run the one whole-clip loop of :mod:`deep_impression.inference.clip`.

The export of a weight file is cached on disk (:func:`load_cached_export`),
keyed by the file's SHA-256, so a command exports each weight file once:
in ``$DEEP_IMPRESSION_CACHE`` if set, else ``$XDG_CACHE_HOME/deep-impression``
(``~/.cache/deep-impression``), as ``onnx/<sha256>-v<EXPORT_VERSION>/`` with
one ONNX file per part. The cache is not trusted by its folder name: each
part records the SHA-256 of the weight file it was exported from and a
digest of its own initialisers (:data:`WEIGHTS_PROP`,
:data:`INITIALIZERS_PROP`), checked when it is loaded; a part exported
from other weights (copied there, or left by a shared cache) or changed
since is exported again, with a warning.
"""

import hashlib
import os
import warnings
import weakref

import numpy

from deep_impression import inputs
from deep_impression.inference import clip
from deep_impression.errors import (DeepImpressionError, InputError,
                                    WeightsError)

#: Backend names accepted by :func:`load_backend` and ``predict_video``.
BACKENDS = ('chainer', 'onnxruntime')

#: Frames per ONNX Runtime call: large enough to keep both cores busy, small
#: enough that a batch of 456x256 frames needs well under 1 GB
#: (conv1's output alone is 3.7 MB a frame).
DEFAULT_BATCH_SIZE = 16

#: Environment variable naming the cache folder (see :func:`cache_dir`).
CACHE_ENV = 'DEEP_IMPRESSION_CACHE'

#: Version of the exported graph for the same weights: raise it whenever
#: :mod:`~deep_impression.inference.onnx_export` changes what it writes, so
#: that older cached exports are no longer used.
EXPORT_VERSION = 2

#: Metadata keys of a cached part: the full SHA-256 of the weight file it
#: was exported from, and the SHA-256 of its initialisers
#: (:func:`initializers_digest`).
WEIGHTS_PROP = 'weights_sha256'
INITIALIZERS_PROP = 'initializers_sha256'


def available_cores():
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def session_options(threads=None, optimization='all', spinning=False):
    """``onnxruntime.SessionOptions`` for inference on this machine.

    Args:
        threads: intra-op threads (default: :func:`available_cores`, the
            cores this process may use, not the machine's).
        optimization: ``'all'`` (``ORT_ENABLE_ALL``: constant folding,
            operator fusion and the CPU's blocked memory layout),
            ``'extended'``, ``'basic'`` or ``'none'``.
        spinning: let idle intra-op threads busy-wait for work (ONNX
            Runtime's default); off, they leave the cores to the decoder.
    """
    import onnxruntime
    levels = {
        'none': onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL,
        'basic': onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        'extended': onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        'all': onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = levels[optimization]
    options.intra_op_num_threads = threads or available_cores()
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    # Idle worker threads sleep instead of spinning: the decoder (ffmpeg)
    # runs beside the network and needs those cycles. Measured side by side
    # on 2 busy cores, a 15-s clip: 6.1 instead of 7.8 CPU seconds, and
    # 12.7-14.4 instead of 15.7-20.1 s for the whole command.
    if not spinning:
        options.add_session_config_entry('session.intra_op.allow_spinning',
                                         '0')
    return options


class OnnxRuntimeModel(object):
    """The network in ONNX Runtime on the CPU.

    Args:
        onnx_model: an ``onnx.ModelProto`` from
            :func:`~deep_impression.inference.onnx_export.export`.
        threads: intra-op threads (default: all available cores).
        batch_size: frames per visual-stream call.
        optimization: ONNX Runtime graph optimisation level, see
            :func:`session_options`.
        visual_stream: optional ``ModelProto`` (or path) that replaces the
            visual part, e.g. an int8-quantised copy of it; same input and
            output names.

    ``onnx_model`` may also be a mapping ``{part: ModelProto or path}`` of
    the three parts as :func:`~deep_impression.inference.onnx_export.submodel`
    cuts them (what :func:`load_cached_export` loads).
    """

    def __init__(self, onnx_model, threads=None,
                 batch_size=DEFAULT_BATCH_SIZE, optimization='all',
                 visual_stream=None):
        import onnxruntime
        from deep_impression.inference import onnx_export
        #: The file the weights came from (provenance), where known.
        self.weights_file = None
        self.threads = threads or available_cores()
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise InputError('batch_size: must be at least 1, got {}'.format(
                batch_size))
        options = session_options(self.threads, optimization)
        self.sessions = {}
        for part in onnx_export.PARTS:
            if part == 'visual_stream' and visual_stream is not None:
                sub = visual_stream
            elif isinstance(onnx_model, dict):
                sub = onnx_model[part]
            else:
                sub = onnx_export.submodel(onnx_model, part)
            data = (os.fspath(sub) if isinstance(sub, (str, os.PathLike))
                    else sub.SerializeToString())
            self.sessions[part] = onnxruntime.InferenceSession(
                data, sess_options=options,
                providers=['CPUExecutionProvider'])

    @classmethod
    def from_chainer(cls, model, **kwargs):
        """Export a Chainer :class:`AudiovisualNetwork` and load it."""
        from deep_impression.inference import onnx_export
        runtime = cls(onnx_export.export(model), **kwargs)
        runtime.weights_file = getattr(model, 'weights_file', None)
        return runtime

    @classmethod
    def from_file(cls, path, **kwargs):
        """Load an ONNX file written by ``deep-impression export``.

        Raises:
            WeightsError: missing file, not an ONNX model, or not this
                network's graph.
        """
        import onnx
        from deep_impression.inference import onnx_export
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise WeightsError('{}: no such ONNX file'.format(path))
        try:
            onnx_model = onnx.load_model(path)
        except Exception as e:  # DecodeError, OSError, ...
            raise WeightsError('{}: not an ONNX model ({})'.format(
                path, str(e).splitlines()[0] if str(e) else
                type(e).__name__)) from None
        names = ({v.name for v in onnx_model.graph.input} |
                 {v.name for v in onnx_model.graph.output})
        for part, (ins, outs) in onnx_export.PARTS.items():
            missing = [n for n in ins + outs if n not in names]
            if missing:
                raise WeightsError(
                    '{}: not a deep-impression export (no {} {!r}; '
                    'write one with `deep-impression export`)'.format(
                        path, part.replace('_', ' '), missing[0]))
        runtime = cls(onnx_model, **kwargs)
        runtime.weights_file = path
        return runtime

    def _run(self, part, feeds):
        return self.sessions[part].run(None, feeds)[0]

    def audio_features(self, audio):
        """``(n,)`` float32 samples -> ``(256,)`` pooled audio features."""
        from deep_impression.inference import onnx_export
        audio = inputs.check_audio(audio)
        return self._run('auditory_stream', {
            onnx_export.AUDIO: audio.reshape(1, 1, 1, -1)})[0]

    def frame_features(self, frames):
        """``(N, H, W, 3)`` uint8 frames -> ``(N, 256)`` pooled features."""
        from deep_impression.inference import onnx_export
        frames = inputs.check_frames(frames)
        return self._run('visual_stream', {
            onnx_export.FRAMES: inputs.frames_to_nchw(frames)})

    @property
    def frame_batch(self):
        """Frames per visual-stream call (the ``batch_size`` argument)."""
        return self.batch_size

    def clip_features(self, audio, frames):
        """Pooled features of a whole clip, as the release computes them
        (:func:`deep_impression.inference.clip.clip_features`)."""
        return clip.clip_features(self, audio, frames)

    def fuse_features(self, audio_features, visual_features):
        """``(B, 256)`` and ``(B, 256)`` features -> ``(B, 5)`` traits."""
        from deep_impression.inference import onnx_export
        return self._run('fusion', {
            onnx_export.CLIP_AUDIO_FEATURES: numpy.ascontiguousarray(
                audio_features, dtype=numpy.float32),
            onnx_export.CLIP_VISUAL_FEATURES: numpy.ascontiguousarray(
                visual_features, dtype=numpy.float32)})

    def predict(self, audio, frames, on_frames=None):
        """Traits of one whole clip, as ``AudiovisualNetwork.predict``
        (``on_frames`` likewise).

        Returns:
            float32 NumPy array of shape ``(5,)`` in TRAITS order, in [0, 1].
        """
        return clip.predict_clip(self, audio, frames, on_frames)


def check_backend(backend):
    """Return ``backend`` if it is a known name, else raise InputError."""
    if backend not in BACKENDS:
        raise InputError('backend: expected one of {}, got {!r}'.format(
            ', '.join(BACKENDS), backend))
    return backend


def cache_dir():
    """Folder of cached exports: ``$DEEP_IMPRESSION_CACHE``, else
    ``$XDG_CACHE_HOME/deep-impression``, else ``~/.cache/deep-impression``."""
    if os.environ.get(CACHE_ENV):
        return os.environ[CACHE_ENV]
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(
        os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'deep-impression')


def cached_export_paths(weights, directory=None):
    """``{part: path}`` of the cached export of the weight file ``weights``
    (whether written yet or not):
    ``<directory>/onnx/<sha256 of weights>-v<EXPORT_VERSION>/<part>.onnx``,
    ``directory`` defaulting to :func:`cache_dir`."""
    from deep_impression.models.weights import file_digests
    key = '{}-v{}'.format(file_digests(weights)[0], EXPORT_VERSION)
    folder = os.path.join(directory or cache_dir(), 'onnx', key)
    from deep_impression.inference import onnx_export
    return {part: os.path.join(folder, part + '.onnx')
            for part in onnx_export.PARTS}


def initializers_digest(onnx_model):
    """SHA-256 (hex) of an ONNX model's initialisers (its weights), by
    name and serialised tensor, in name order."""
    h = hashlib.sha256()
    for tensor in sorted(onnx_model.graph.initializer, key=lambda t: t.name):
        for data in (tensor.name.encode('utf-8'), tensor.SerializeToString()):
            h.update(len(data).to_bytes(8, 'little'))
            h.update(data)
    return h.hexdigest()


def _stamp(onnx_model, sha256):
    """Record the weight file's SHA-256 and the initialisers' digest in
    ``onnx_model``'s metadata (see :func:`_verified_parts`)."""
    from onnx import helper
    helper.set_model_props(onnx_model, {
        WEIGHTS_PROP: sha256, INITIALIZERS_PROP: initializers_digest(
            onnx_model)})
    return onnx_model


def _verified_parts(parts, sha256):
    """The cached parts as ``{part: ModelProto}`` when each one records
    ``sha256`` (the weight file's) and initialisers that match its
    recorded digest.

    Returns:
        ``(models, None)``, or ``(None, reason)`` for a part that is
        unreadable, from other weights or changed since it was written.
    """
    import onnx
    models = {}
    for part, path in parts.items():
        try:
            onnx_model = onnx.load_model(path)
        except Exception:  # DecodeError, OSError, ...: a damaged file
            return None, '{}: unreadable'.format(path)
        props = {p.key: p.value for p in onnx_model.metadata_props}
        if props.get(WEIGHTS_PROP) != sha256:
            return None, '{}: exported from other weights (SHA-256 {})'.format(
                path, (props.get(WEIGHTS_PROP) or 'not recorded')[:16])
        if props.get(INITIALIZERS_PROP) != initializers_digest(onnx_model):
            return None, '{}: its weights changed since it was written'.format(
                path)
        models[part] = onnx_model
    return models, None


def load_cached_export(weights=None, directory=None, **kwargs):
    """:class:`OnnxRuntimeModel` of a weight file, exported at most once.

    The three parts are read from :func:`cached_export_paths` if they are
    all there, load, and were exported from this very weight file (the
    SHA-256 each records) without change since (their initialisers'
    digest); otherwise the weights are checked, loaded into Chainer,
    exported and the parts written atomically (a part that is unreadable,
    from other weights or changed is reported in one warning line
    first). A cache that
    cannot be written only costs the export next time (a warning says
    so).

    Args:
        weights: release-format weight file (default as
            :func:`~deep_impression.models.weights.load_model`).
        directory: cache folder (default :func:`cache_dir`).
        **kwargs: passed to :class:`OnnxRuntimeModel`.

    Raises:
        WeightsError: ``weights`` is missing or does not fit the network.
    """
    from deep_impression import media
    from deep_impression.inference import onnx_export
    from deep_impression.models import weights as weight_files
    path = (os.fspath(weights) if weights is not None
            else weight_files.default_weights_path())
    if not os.path.isfile(path):
        weight_files.check_weights(path)  # raises the clear error
    parts = cached_export_paths(path, directory)
    sha256 = weight_files.file_digests(path)[0]
    runtime = None
    if all(os.path.isfile(p) for p in parts.values()):
        models, reason = _verified_parts(parts, sha256)
        if models is not None:
            try:
                runtime = OnnxRuntimeModel(models, **kwargs)
            except InputError:
                raise
            except Exception:  # ORT's InvalidProtobuf, Fail, ...: rebuild
                pass
        else:
            media.print_warning('cached ONNX export {}; exporting {} '
                                'again'.format(reason, path))
    if runtime is None:
        onnx_model = onnx_export.export(weight_files.load_model(path))
        subs = {part: _stamp(onnx_export.submodel(onnx_model, part), sha256)
                for part in parts}
        try:
            for part, part_path in parts.items():
                onnx_export.save(subs[part], part_path)
        except DeepImpressionError as e:
            warnings.warn('ONNX export not cached: {}'.format(e))
        runtime = OnnxRuntimeModel(subs, **kwargs)
    runtime.weights_file = path
    return runtime


def load_backend(backend='chainer', weights=None, onnx=None, device=None,
                 cache=None, **kwargs):
    """A model ready for ``predict`` on the chosen backend.

    Args:
        backend: ``'chainer'`` or ``'onnxruntime'``.
        weights: release-format weight file (default as
            :func:`~deep_impression.models.weights.load_model`).
        onnx: for ``'onnxruntime'``, an ONNX file from ``deep-impression
            export`` to use instead of exporting ``weights`` (whose export
            is otherwise cached, :func:`load_cached_export`).
        device: Chainer device (``'chainer'`` only).
        cache: for ``'onnxruntime'``, the cache folder (default
            :func:`cache_dir`).
        **kwargs: passed to :class:`OnnxRuntimeModel`.

    Returns:
        an :class:`~deep_impression.AudiovisualNetwork` or an
        :class:`OnnxRuntimeModel`.
    """
    check_backend(backend)
    if backend == 'chainer':
        from deep_impression.models.weights import load_model
        if onnx is not None:
            raise InputError('--onnx is for the onnxruntime backend only')
        return load_model(weights, device=device)
    if device is not None and device not in ('@numpy', 'native:0', -1, '-1'):
        raise InputError('device: the onnxruntime backend runs on the CPU '
                         'only, got {}'.format(device))
    if onnx is not None:
        return OnnxRuntimeModel.from_file(onnx, **kwargs)
    return load_cached_export(weights, cache, **kwargs)


def as_backend(model, backend):
    """``model`` (Chainer network or OnnxRuntimeModel) on ``backend``.

    A Chainer network asked for ``'onnxruntime'`` is exported and the result
    kept (for as long as the network lives) until its weights change.
    ``backend=None``
    returns ``model`` as it is.
    """
    if backend is None:
        return model
    check_backend(backend)
    if backend == 'onnxruntime' and isinstance(model, OnnxRuntimeModel):
        return model
    if backend == 'chainer':
        # Any of the package's Chainer models (models.ARCHITECTURES, as
        # models.weights.load gives them) predicts a clip itself.
        if isinstance(model, OnnxRuntimeModel) or not callable(
                getattr(model, 'predict', None)):
            raise InputError('backend chainer needs a Chainer model (an '
                             'AudiovisualNetwork from deep_impression.'
                             'load_model, or models.weights.load), got {}'
                             .format(type(model).__name__))
        return model
    # Only here: a model already on its backend never imports Chainer.
    from deep_impression.models.audiovisual import AudiovisualNetwork
    if not isinstance(model, AudiovisualNetwork):
        raise InputError('backend onnxruntime needs an AudiovisualNetwork or '
                         'an OnnxRuntimeModel, got {}'.format(
                             type(model).__name__))
    # Re-export when the weights changed since (e.g. after training).
    key = _fingerprint(model)
    cached = _EXPORTED.get(model)
    if cached is None or cached[0] != key:
        cached = _EXPORTED[model] = (key, OnnxRuntimeModel.from_chainer(model))
    return cached[1]


# Chainer network -> (weights fingerprint, OnnxRuntimeModel). Kept outside
# the network so that copying or pickling it never meets an ORT session.
_EXPORTED = weakref.WeakKeyDictionary()


def _fingerprint(model):
    """Sums of every parameter and BN average: changes when weights do."""
    from deep_impression.models.weights import saved_arrays
    import chainer
    cpu = chainer.backend.CpuDevice()
    return tuple(float(numpy.sum(cpu.send(value), dtype=numpy.float64))
                 for _, value in sorted(saved_arrays(model).items()))
