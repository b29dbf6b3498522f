"""The work behind the web app, without Gradio: what one page request asks
of the library, with the same calls as the command line.

* one video: :func:`~deep_impression.inference.predict.predict_video` on
  the chosen backend, then
  :func:`~deep_impression.interpret.cam.explain_video` and the ``explain``
  figures and overlay video;
* a folder:
  :func:`~deep_impression.inference.results.resume_predictions`, the
  resumable batch of ``predict --output FILE.csv``.

Bad input raises :class:`~deep_impression.errors.DeepImpressionError`
with the command line's one-line message; the page shows it.
"""

import hashlib
import os
import threading

from deep_impression import fileio
from deep_impression.constants import TRAITS
from deep_impression.errors import InputError

#: Sampled frames of the explanation figures (``explain --frames``).
EXPLAIN_FRAMES = 8


class Session(object):
    """The weights of the app, loaded once on first use, and its outputs.

    Loading waits for the first request so that the page is up at once and
    unusable weights are reported in the page (the app keeps serving).

    Args:
        weights: weight file or run directory, as ``predict --weights``
            (``None``: $DEEP_IMPRESSION_WEIGHTS or weights/model).
        model: architecture name, as ``predict --model``.
        backend: ``'onnxruntime'`` (the CPU default) or ``'chainer'``.
        device: Chainer device (the chainer backend, and the explanations).
        out: folder of everything the app writes (figures, videos, CSVs).
        cache: ONNX export cache folder, as ``predict --onnx-cache``.
    """

    def __init__(self, weights=None, model='challenge', backend='onnxruntime',
                 device=None, out='runs/app', cache=None):
        self.weights, self.model_name = weights, model
        self.backend, self.device = backend, device
        self.out, self.cache = out, cache
        self._models = {}
        # Gradio answers requests on worker threads; one model run at a time.
        self.lock = threading.Lock()

    def predictor(self):
        """The model that predicts, on :attr:`backend` (loaded once)."""
        if 'predict' not in self._models:
            from deep_impression.inference.backends import load_backend
            if self.model_name == 'challenge':
                model = load_backend(self.backend, weights=self.weights,
                                     device=self.device, cache=self.cache)
            else:
                from deep_impression.models import weights
                if self.backend != 'chainer':
                    raise InputError('--model {}: runs on the chainer '
                                     'backend only'.format(self.model_name))
                model = weights.load(self.model_name, self.weights,
                                     device=self.device)
            self._models['predict'] = model
        return self._models['predict']

    def explainer(self):
        """The Chainer network of the class activation maps (the challenge
        model only); ``None`` for the other architectures."""
        if self.model_name != 'challenge':
            return None
        if 'explain' not in self._models:
            model = self.predictor()
            if self.backend != 'chainer':
                from deep_impression.models.weights import load_model
                model = load_model(self.weights, device=self.device)
            self._models['explain'] = model
        return self._models['explain']

    def provenance(self):
        """The provenance fields of this app's predictions."""
        from deep_impression.inference.predict import provenance
        return provenance(self.predictor(), self.backend)

    def output_dir(self, *parts):
        return fileio.ensure_dir(os.path.join(self.out, *parts))

    def predict_video(self, path, on_frames=None):
        """Traits and provenance of one video, as ``predict``.

        Args:
            path: a video file on this machine.
            on_frames: called with each batch's frame count (progress).

        Returns:
            dict: ``traits`` (float32 ``(5,)`` in [0, 1],
            :data:`~deep_impression.TRAITS` order), ``record`` (the
            ``predict`` record: video, traits, provenance), ``frames``
            (frames the network ran), ``warnings`` (one line each: a
            damaged file, a far-from-16:9 picture, as ``predict`` prints
            them), and for :meth:`explain` ``figures`` (empty), ``video``
            and ``note`` (``None``).

        Raises:
            DeepImpressionError: the video or the weights cannot be used.
        """
        from deep_impression.inference.predict import predict_video
        if not path or not os.path.isfile(path):
            raise InputError('{}: no such file'.format(path or 'video'))
        counted, warnings = [0], []

        def frames_done(n):
            counted[0] += n
            if on_frames is not None:
                on_frames(n)
        with self.lock:
            model = self.predictor()
            traits = predict_video(path, model, self.backend,
                                   on_frames=frames_done,
                                   warn=warnings.append)
            record = dict(video=path)
            record.update(zip(TRAITS, (float(v) for v in traits)))
            record.update(self.provenance())
        return dict(traits=traits, record=record, frames=counted[0],
                    warnings=warnings, figures=[], video=None, note=None)

    def explain(self, path, result, video=True, on_step=None):
        """Add the ``explain`` figures of a video to :meth:`predict_video`'s
        ``result``: ``figures``, a list of ``(name, PNG path)`` (``'sheet'``
        the contact sheet, each trait's strip by its name, ``'audio'`` the
        auditory map over the spectrogram);
        ``video``, the overlay MP4 (when ``video``); or ``note``, why there
        are none (an architecture without activation maps).

        Args:
            on_step: called with a short text before each stage.

        Returns:
            ``result``.
        """
        with self.lock:
            self._explain(path, result, video, on_step or (lambda text: None))
        return result

    def _explain(self, path, result, video, step):
        from deep_impression.interpret.cam import explain_video
        from deep_impression.visualizations import interpretation as figures
        network = self.explainer()
        if network is None:
            result['note'] = ('the activation maps need the challenge model '
                              '(--model challenge)')
            return
        step('activation maps')
        e = explain_video(path, network, k=EXPLAIN_FRAMES)
        # One folder per video file and weights: a second look is a
        # rewrite of the same few files, never a pile of copies.
        key = hashlib.sha1('{}\0{}'.format(
            os.path.abspath(path), result['record']['weights_sha256'])
            .encode('utf-8')).hexdigest()[:12]
        folder = self.output_dir('explain', key)
        stem = os.path.splitext(os.path.basename(path))[0] or 'video'
        step('drawing the figures' + (' and the overlay video' if video
                                      else ''))
        paths = figures.explanation_figures(e, folder, stem, video=video)
        result['video'] = paths.pop('video', None)
        result['figures'] = list(paths.items())

    def analyse_folder(self, folder, output=None, on_video=None):
        """Traits of every video under a folder, as ``predict --output
        FILE.csv``: resumable (videos already in the CSV are skipped, if it
        was made with the same weights and settings) and carrying the
        provenance in every row.

        Args:
            folder: a folder on this machine, searched recursively.
            output: the CSV (default: ``<out>/folders/<name>-<hash>.csv``).
            on_video: called with ``(done, total)`` after each video.

        Returns:
            dict: ``records`` (every row of the CSV, including earlier
            runs'), ``errors`` (one line per video that failed), ``csv``
            (its path), ``skipped`` (videos already in the CSV).

        Raises:
            DeepImpressionError: not a folder, no videos in it, unusable
                weights or output file.
        """
        from deep_impression.inference.results import (ResultsWriter,
                                                       resume_predictions)
        from deep_impression.media import find_videos
        if not folder or not os.path.isdir(folder):
            raise InputError('{}: not a folder'.format(folder or 'folder'))
        videos, empty = find_videos([folder])
        if empty:
            raise InputError('{}: no media files in this folder'
                             .format(folder))
        if not output:
            name = os.path.basename(os.path.normpath(folder)) or 'folder'
            key = hashlib.sha1(os.path.abspath(folder).encode('utf-8'))
            output = os.path.join(self.output_dir('folders'), '{}-{}.csv'
                                  .format(name, key.hexdigest()[:8]))
        with self.lock:
            model = self.predictor()
            writer = ResultsWriter(output, 'csv')
            try:
                todo, records = resume_predictions(writer, videos, model,
                                                   self.backend)
                errors = []
                if on_video is not None:
                    on_video(0, len(todo))
                for i, record in enumerate(records):
                    if record['error']:
                        errors.append(record['error'])
                    if on_video is not None:
                        on_video(i + 1, len(todo))
            finally:
                writer.close()
        return dict(records=list(writer.records), errors=errors, csv=output,
                    skipped=len(videos) - len(todo))

