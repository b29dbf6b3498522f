"""Inference speed and memory of the network on one machine, per backend.

One 15-s clip as the release predicts it: 240,000 samples of 16 kHz audio
through the auditory stream at once, and 375 frames (25 frames/s) of 456x256
through the visual stream, averaged. Paths, each measured in a child process
of its own so that peak resident memory (``VmHWM``) is its own:

* ``chainer``: the reference (:class:`AudiovisualNetwork.predict`), CPU;
* ``chainer-gpu``: the same on ``@cupy:0``, only when CuPy sees a GPU;
* ``onnxruntime``:
  :class:`~deep_impression.inference.backends.OnnxRuntimeModel`,
  fp32, graph from :mod:`~deep_impression.inference.onnx_export`;
* ``onnxruntime-int8``: the same with the visual stream quantised to int8
  (ONNX Runtime static QDQ quantisation, per-channel weights, calibrated on
  synthetic frames that are not the benchmark's);
* ``torch``: the same network written in PyTorch below, with the same
  weights (only if ``torch`` imports).

Weights are the release's file if ``--weights`` is given; otherwise random
ones made plausible (batch normalisation set to the statistics of synthetic
inputs, the FC layer scaled so the five values are not saturated), so that
the agreement between paths means something. Inputs are synthetic (smooth
pictures with a moving ellipse and noise; a voice-like tone); the cost of
dense convolutions does not depend on pixel values.

With ``--frames N`` (N < 375) a path runs N frames and the seconds per clip
are extrapolated: ``t(audio) + 375 * t(visual) / N``; the output says so.

Example (the full run)::

    .venv/bin/python experiments/benchmark_inference.py --json runs/bench.json

``--end-to-end`` times instead what a user waits for: the whole
``deep-impression predict CLIP --backend B --format json`` command, a fresh
process per run (median of ``--runs``), on a 15-s 1280x720 H.264 + AAC clip
made with the bundled ffmpeg, for Chainer and ONNX Runtime side by side (the
ONNX export cached in a fresh folder: the first ONNX Runtime call exports
and is reported apart). One more fresh process per backend runs the
command's stages one after the other for the breakdown (start-up and
imports, weights and export, decoding, network, fusion); the whole command
overlaps decoding with the network, so it takes less than their sum::

    .venv/bin/python experiments/benchmark_inference.py --end-to-end \
        --runs 5 --json runs/bench-e2e.json
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from deep_impression.constants import (FPS, FRAME_CHUNK, FRAME_HEIGHT,  # noqa
                                       FRAME_WIDTH, SAMPLE_RATE)

CLIP_SECONDS = 15
CLIP_FRAMES = CLIP_SECONDS * FPS            # 375
CLIP_SAMPLES = CLIP_SECONDS * SAMPLE_RATE   # 240,000
PATHS = ('chainer', 'chainer-gpu', 'onnxruntime', 'onnxruntime-int8',
         'torch')
#: Distinct synthetic frames; a clip repeats them (memory stays that of a
#: streamed video: one chunk of 256 frames at a time).
FRAME_POOL = 25
#: Frames of the short check clip on which all paths are compared.
CHECK_FRAMES = 4


# -- synthetic inputs and weights -----------------------------------------

def synthetic_frames(n, seed, height=FRAME_HEIGHT, width=FRAME_WIDTH):
    """``(n, H, W, 3)`` uint8: a smooth coloured background, a skin-coloured
    ellipse whose position varies, and pixel noise."""
    rng = numpy.random.RandomState(seed)
    y, x = numpy.mgrid[0:height, 0:width].astype(numpy.float32)
    out = numpy.empty((n, height, width, 3), numpy.uint8)
    for i in range(n):
        base = rng.uniform(40, 200, 3)
        grad = rng.uniform(-60, 60, 3)
        img = base + grad * (x / width)[..., None]
        cy, cx = rng.uniform(0.3, 0.7) * height, rng.uniform(0.3, 0.7) * width
        ry, rx = rng.uniform(0.2, 0.35) * height, rng.uniform(0.1, 0.2) * width
        inside = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 < 1
        img[inside] = rng.uniform([180, 120, 100], [230, 170, 140])
        img += rng.normal(0, 8, img.shape)
        out[i] = numpy.clip(img, 0, 255)
    return out


def synthetic_audio(n, seed):
    """``(n,)`` float32 in [-1, 1]: a voice-like tone (pitch, loudness and
    syllable rate drawn from ``seed``) with noise."""
    rng = numpy.random.RandomState(seed)
    t = numpy.arange(n) / SAMPLE_RATE
    pitch = rng.uniform(100, 260) * (1 + 0.05 * numpy.sin(2 * numpy.pi * 5 * t))
    phase = 2 * numpy.pi * numpy.cumsum(pitch) / SAMPLE_RATE
    voice = sum(numpy.sin(k * phase) / k for k in range(1, 6))
    syllables = (numpy.sin(2 * numpy.pi * rng.uniform(2, 5) * t) > 0)
    audio = (rng.uniform(0.1, 0.5) * voice * syllables +
             0.02 * rng.normal(size=n))
    return numpy.clip(audio, -1, 1).astype(numpy.float32)


def clip_frames(n, seed=1):
    """The benchmark clip's frames, as a stream of chunks of 256."""
    pool = synthetic_frames(FRAME_POOL, seed)
    for start in range(0, n, FRAME_CHUNK):
        idx = numpy.arange(start, min(n, start + FRAME_CHUNK)) % len(pool)
        yield pool[idx]


def fit_fc(model, audio_features, visual_features, seed=0, logit_std=0.3):
    """Set the FC layer to random directions scaled to a realistic spread.

    On the given ``(n, 256)`` features (one row per clip or frame), each
    trait's logit gets mean 0 and standard deviation ``logit_std`` (half of
    it from each stream's variance): 0.3 gives five values spread about
    0.15 around 0.5, as the challenge's labels. Untrained random weights
    otherwise saturate ``tanh`` or hide every difference.
    """
    rng = numpy.random.RandomState(seed)
    W, b = [], numpy.zeros(model.fc.b.shape, numpy.float64)
    for f in (numpy.asarray(audio_features, numpy.float64),
              numpy.asarray(visual_features, numpy.float64)):
        w = rng.normal(size=(model.fc.b.shape[0], f.shape[1]))
        std = (f @ w.T).std(axis=0)
        w *= logit_std / numpy.sqrt(2) / numpy.maximum(std, 1e-12)[:, None]
        b -= w @ f.mean(axis=0)
        W.append(w)
    model.fc.W.array[...] = numpy.concatenate(W, axis=1)
    model.fc.b.array[...] = b
    return model


def make_synthetic_weights(path, seed=0):
    """Random weights with realistic batch-norm statistics; write ``path``.

    He-normal convolutions; each BN layer's averages set to the statistics
    of synthetic inputs (4 frames, 4 audio crops) and random ``gamma``,
    ``beta``; the FC layer by :func:`fit_fc` on 8 other synthetic frames.
    """
    from deep_impression import _compat  # noqa: F401
    import chainer
    import chainer.links as L
    from deep_impression.models.audiovisual import AudiovisualNetwork
    from deep_impression.models.weights import save_weights
    numpy.random.seed(seed)
    model = AudiovisualNetwork()
    rng = numpy.random.RandomState(seed)
    bns = [link for _, link in model.namedlinks()
           if isinstance(link, L.BatchNormalization)]
    for bn in bns:
        bn.decay = 0.0  # the running averages become this batch's statistics
        c = bn.gamma.shape[0]
        bn.gamma.array[...] = rng.uniform(0.6, 1.4, c)
        bn.beta.array[...] = rng.normal(0, 0.2, c)
    frames = synthetic_frames(4, seed + 100, 128, 228)
    frames = frames.transpose(0, 3, 1, 2).astype(numpy.float32)
    audio = numpy.stack([synthetic_audio(50176, seed + 200 + i)
                         for i in range(4)])[:, None, None, :]
    with chainer.using_config('train', True), \
            chainer.using_config('enable_backprop', False):
        model.aud(audio)
        model.vis(frames)
    for bn in bns:
        bn.decay = 0.9
    frames = synthetic_frames(8, seed + 300).transpose(0, 3, 1, 2)
    audio = numpy.stack([synthetic_audio(2 * SAMPLE_RATE, seed + 400 + i)
                         for i in range(8)])[:, None, None, :]
    with chainer.using_config('train', False), \
            chainer.using_config('enable_backprop', False):
        a = model.aud(audio).array
        v = model.vis(frames.astype(numpy.float32)).array
    fit_fc(model, a, v, seed)
    save_weights(model, path)
    return path


# -- PyTorch: the same network, written independently --------------------

def torch_network(chainer_model):
    """The network in PyTorch with ``chainer_model``'s weights (eval mode).

    Batch normalisation is kept as layers (not folded) and the ``cover_all``
    max pooling is an explicit -inf pad of ``pad + stride - 1`` at the end,
    so that agreement with Chainer checks both.
    """
    import torch
    import torch.nn as nn
    import torch.nn.functional as tF
    from deep_impression.models.streams import (AUDITORY, BLOCKS, CHANNELS,
                                                VISUAL)

    def conv(c_in, c_out, geometry):
        (kh, kw), (sh, sw), (ph, pw) = geometry
        return nn.Conv2d(c_in, c_out, (kh, kw), (sh, sw), (ph, pw))

    def bn(c):
        return nn.BatchNorm2d(c, eps=2e-5)

    class Block(nn.Module):
        def __init__(self, c_in, c_out, g, down):
            super().__init__()
            self.a = conv(c_in, c_out, g.down if down else g.block)
            self.bn_a = bn(c_out)
            self.b = conv(c_out, c_out, g.block)
            self.bn_b = bn(c_out)
            self.down = down
            if down:
                self.s = conv(c_in, c_out, g.shortcut)
                self.bn_s = bn(c_out)

        def forward(self, x):
            h = tF.relu(self.bn_a(self.a(x)))
            h = self.bn_b(self.b(h))
            s = self.bn_s(self.s(x)) if self.down else x
            return tF.relu(h + s)

    class Stream(nn.Module):
        def __init__(self, g):
            super().__init__()
            self.g = g
            self.conv1 = conv(g.in_channels, CHANNELS[0], g.conv1)
            self.bn1 = bn(CHANNELS[0])
            blocks, c_in = [], CHANNELS[0]
            for _, stage, down in BLOCKS:
                blocks.append(Block(c_in, CHANNELS[stage - 1], g, down))
                c_in = CHANNELS[stage - 1]
            self.blocks = nn.ModuleList(blocks)

        def forward(self, x):
            h = tF.relu(self.bn1(self.conv1(x)))
            (kh, kw), (sh, sw), (ph, pw) = self.g.pool1
            h = tF.pad(h, (pw, pw + sw - 1, ph, ph + sh - 1),
                       value=-float('inf'))
            h = tF.max_pool2d(h, (kh, kw), (sh, sw))
            for block in self.blocks:
                h = block(h)
            return h.mean(dim=(2, 3))

    class Network(nn.Module):
        def __init__(self):
            super().__init__()
            self.aud = Stream(AUDITORY)
            self.vis = Stream(VISUAL)
            self.fc = nn.Linear(2 * CHANNELS[-1], 5)

    net = Network()

    def copy_conv(t, c):
        t.weight.data = torch.from_numpy(numpy.array(c.W.array))
        t.bias.data = torch.from_numpy(numpy.array(c.b.array))

    def copy_bn(t, c):
        t.weight.data = torch.from_numpy(numpy.array(c.gamma.array))
        t.bias.data = torch.from_numpy(numpy.array(c.beta.array))
        t.running_mean.data = torch.from_numpy(numpy.array(c.avg_mean))
        t.running_var.data = torch.from_numpy(numpy.array(c.avg_var))

    for t_stream, c_stream in ((net.aud, chainer_model.aud),
                               (net.vis, chainer_model.vis)):
        copy_conv(t_stream.conv1, c_stream.conv1_relu.conv)
        copy_bn(t_stream.bn1, c_stream.conv1_relu.bn_conv)
        for t_block, (name, _, down) in zip(t_stream.blocks, BLOCKS):
            c_block = getattr(c_stream, name + '_relu')
            copy_conv(t_block.a, c_block.res_branch2a)
            copy_bn(t_block.bn_a, c_block.bn_branch2a)
            copy_conv(t_block.b, c_block.res_branch2b)
            copy_bn(t_block.bn_b, c_block.bn_branch2b)
            if down:
                copy_conv(t_block.s, c_block.res_branch1)
                copy_bn(t_block.bn_s, c_block.bn_branch1)
    net.fc.weight.data = torch.from_numpy(numpy.array(chainer_model.fc.W.array))
    net.fc.bias.data = torch.from_numpy(numpy.array(chainer_model.fc.b.array))
    return net.eval()


class TorchModel(object):
    """``predict(audio, frames)`` as the release, on the PyTorch network."""

    def __init__(self, chainer_model, batch_size):
        import torch
        self.torch = torch
        self.net = torch_network(chainer_model)
        self.batch_size = batch_size

    @property
    def frame_batch(self):
        return self.batch_size

    def predict(self, audio, frames):
        from deep_impression.inference import clip
        return clip.predict_clip(self, audio, frames)

    def frame_features(self, frames):
        from deep_impression import inputs
        with self.torch.inference_mode():
            return self.net.vis(self.torch.from_numpy(
                inputs.frames_to_nchw(frames))).numpy()

    def fuse_features(self, audio_features, visual_features):
        torch = self.torch
        with torch.inference_mode():
            y = self.net.fc(torch.cat([torch.from_numpy(audio_features),
                                       torch.from_numpy(visual_features)], 1))
            return ((torch.tanh(y) + 1) / 2).numpy()

    def audio_features(self, audio):
        with self.torch.inference_mode():
            return self.net.aud(self.torch.from_numpy(
                audio.reshape(1, 1, 1, -1)))[0].numpy()


# -- int8 -------------------------------------------------------------------

def quantize_visual_stream(onnx_model, out_path, calibration_frames,
                           batch_size=4, nodes_to_exclude=()):
    """Static QDQ int8 quantisation of the visual stream; returns the path.

    Per-channel int8 weights, uint8 activations, ranges from MinMax
    calibration on ``calibration_frames`` (``(N, H, W, 3)`` uint8); the
    nodes named in ``nodes_to_exclude`` stay fp32.
    """
    import onnx
    from onnxruntime import quantization as q
    from deep_impression import inputs
    from deep_impression.inference import onnx_export
    fp32_path = out_path + '.fp32.onnx'
    onnx.save_model(onnx_export.submodel(onnx_model, 'visual_stream'),
                    fp32_path)

    class Reader(q.CalibrationDataReader):
        def __init__(self):
            self.batches = iter([
                {onnx_export.FRAMES: inputs.frames_to_nchw(
                    calibration_frames[s:s + batch_size])}
                for s in range(0, len(calibration_frames), batch_size)])

        def get_next(self):
            return next(self.batches, None)

    q.quantize_static(fp32_path, out_path, Reader(),
                      quant_format=q.QuantFormat.QDQ, per_channel=True,
                      activation_type=q.QuantType.QUInt8,
                      weight_type=q.QuantType.QInt8,
                      calibrate_method=q.CalibrationMethod.MinMax,
                      nodes_to_exclude=list(nodes_to_exclude))
    os.remove(fp32_path)
    return out_path


# -- one path in a child process ---------------------------------------------

def peak_rss_mb():
    """Peak resident memory of this process (``VmHWM``), in MB."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024.0
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _sync(path):
    if path == 'chainer-gpu':
        import cupy
        cupy.cuda.Device().synchronize()


def run_path(path, config):
    """Time one path on the benchmark clip; a dict of figures."""
    from deep_impression import _compat  # noqa: F401
    import chainer
    from deep_impression.inference import backends
    from deep_impression.models.weights import load_model
    n = config['frames']
    audio = synthetic_audio(CLIP_SAMPLES, seed=2)
    t_setup = time.perf_counter()
    result = dict(path=path, frames=n, audio_samples=CLIP_SAMPLES)
    if path in ('chainer', 'chainer-gpu'):
        if path == 'chainer-gpu':
            try:
                import cupy
                if cupy.cuda.runtime.getDeviceCount() < 1:
                    raise RuntimeError('no GPU')
            except Exception as e:  # ImportError, CUDARuntimeError, ...
                return dict(path=path, skipped='no CuPy GPU ({})'.format(
                    str(e).splitlines()[0] if str(e) else type(e).__name__))
            model = load_model(config['weights'], device='@cupy:0')
            result['device'] = str(cupy.cuda.runtime.getDeviceProperties(
                0)['name'])
        else:
            model = load_model(config['weights'])
            result['threads'] = backends.available_cores()

        def audio_features(a):
            with chainer.using_config('train', False), \
                    chainer.using_config('enable_backprop', False):
                return model.aud(model.device.send(
                    a.reshape(1, 1, 1, -1))).array
    elif path.startswith('onnxruntime'):
        chainer_model = load_model(config['weights'])
        from deep_impression.inference import onnx_export
        onnx_model = onnx_export.export(chainer_model)
        visual = None
        if path == 'onnxruntime-int8':
            tmp = tempfile.mkdtemp(prefix='bench-int8-')
            calibration = synthetic_frames(config['calibration_frames'],
                                           seed=12345)
            t_q = time.perf_counter()
            visual = quantize_visual_stream(
                onnx_model, os.path.join(tmp, 'visual_int8.onnx'),
                calibration)
            result['quantize_seconds'] = time.perf_counter() - t_q
            del calibration
        model = backends.OnnxRuntimeModel(
            onnx_model, threads=config['threads'],
            batch_size=config['batch_size'],
            optimization=config['optimization'], visual_stream=visual)
        del onnx_model, chainer_model
        result.update(threads=model.threads, batch_size=model.batch_size,
                      optimization=config['optimization'])
        audio_features = model.audio_features
    elif path == 'torch':
        try:
            import torch
        except ImportError:
            return dict(path=path, skipped='torch does not import')
        torch.set_num_threads(config['threads'] or
                              backends.available_cores())
        model = TorchModel(load_model(config['weights']),
                           config['batch_size'])
        result.update(threads=torch.get_num_threads(),
                      batch_size=config['batch_size'],
                      torch_version=torch.__version__)
        audio_features = model.audio_features
    else:
        raise ValueError(path)
    result['setup_seconds'] = time.perf_counter() - t_setup

    # Warm-up (allocators, kernels, graph caches), and the values of a
    # short check clip that every path computes alike: 2 s of audio and
    # CHECK_FRAMES frames.
    check = model.predict(audio[:2 * SAMPLE_RATE],
                          synthetic_frames(CHECK_FRAMES, seed=99))
    result['check_values'] = [float(v) for v in check]
    _sync(path)

    t0 = time.perf_counter()
    audio_features(audio)
    _sync(path)
    t_audio = time.perf_counter() - t0

    t0 = time.perf_counter()
    values = model.predict(audio, clip_frames(n))
    _sync(path)
    t_total = time.perf_counter() - t0
    t_visual = max(t_total - t_audio, 1e-9)
    result.update(
        values=[float(v) for v in values],
        seconds=t_total, audio_seconds=t_audio, visual_seconds=t_visual,
        ms_per_frame=1000 * t_visual / n, frames_per_second=n / t_visual,
        clip_seconds=t_audio + CLIP_FRAMES * t_visual / n,
        extrapolated=n != CLIP_FRAMES,
        peak_rss_mb=peak_rss_mb())
    return result


def run_child(path, config):
    """Run ``path`` in a fresh interpreter; its result dict."""
    cmd = [sys.executable, os.path.abspath(__file__), '--child', path,
           '--config', json.dumps(config)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = proc.stdout.decode().strip().splitlines()
    if proc.returncode != 0 or not lines:
        err = proc.stderr.decode('utf-8', 'replace').strip().splitlines()
        return dict(path=path, failed=err[-1] if err else
                    'exit status {}'.format(proc.returncode))
    return json.loads(lines[-1])


# -- end to end: the whole `deep-impression predict` command -----------------

#: Backends timed end to end, in table order (the first is the reference).
END_TO_END_BACKENDS = ('chainer', 'onnxruntime')
#: Stages of the breakdown: (key, label).
STAGES = (('startup', 'start-up and imports'),
          ('weights', 'weights and export (cache)'),
          ('decoding', 'decoding, alone'),
          ('network', 'network (both streams)'),
          ('fusion', 'fusion'))


def make_user_clip(path, seconds=CLIP_SECONDS):
    """A clip as users have them: 1280x720 H.264 at 30 frames/s with AAC
    stereo audio at 44.1 kHz, made from ffmpeg's test sources (moving
    pattern, tone plus noise) with the bundled ffmpeg."""
    from deep_impression.media import ffmpeg_exe
    subprocess.run(
        [ffmpeg_exe(), '-v', 'error', '-y',
         '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30',
         '-f', 'lavfi', '-i', 'sine=frequency=180:sample_rate=44100',
         '-f', 'lavfi', '-i', 'anoisesrc=color=pink:amplitude=0.05',
         '-filter_complex', '[1:a][2:a]amix=inputs=2,aformat='
                            'channel_layouts=stereo[a]',
         '-map', '0:v', '-map', '[a]', '-t', str(seconds),
         '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p',
         '-c:a', 'aac', '-b:a', '128k', path], check=True)
    return path


def fit_weights_to_clip(weights, clip_path, seed=0, logit_std=0.3):
    """Redraw the FC layer of synthetic ``weights`` (in place) for the
    benchmark clip, so that its five values are not saturated and the
    backends' agreement on them means something: random rows scaled so that
    each logit is about ``N(0, logit_std)`` on the mean features of 8 of its
    frames and of its audio (a test pattern varies too little over time for
    :func:`fit_fc`)."""
    from deep_impression import media
    from deep_impression.models.weights import load_model, save_weights
    model = load_model(weights)
    frames = media.read_frames(clip_path)
    features = [model.audio_features(media.load_clip_audio(clip_path)),
                model.frame_features(frames[numpy.linspace(
                    0, len(frames) - 1, 8).astype(int)]).mean(axis=0)]
    rng = numpy.random.RandomState(seed)
    model.fc.W.array[...] = numpy.concatenate([
        rng.normal(0, logit_std, (len(model.fc.b.array), len(f))) /
        (numpy.linalg.norm(f) + 1e-6) for f in features], axis=1)
    model.fc.b.array[...] = rng.normal(0, logit_std, len(model.fc.b.array))
    save_weights(model, weights)
    return weights


def _predict_command(backend, clip, weights):
    return [sys.executable, '-m', 'deep_impression', 'predict', clip,
            '--backend', backend, '--weights', weights, '--format', 'json']


def time_command(cmd, env):
    """Wall seconds and peak resident memory (MB, the process and the
    decoders it waited for) of one fresh process, and its JSON output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's rusage
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        lines = stderr.decode('utf-8', 'replace').strip().splitlines()
        raise RuntimeError('{} failed: {}'.format(
            ' '.join(cmd[2:5]), lines[-1] if lines else proc.returncode))
    from deep_impression.constants import TRAITS
    row = json.loads(stdout.decode())[0]
    return seconds, usage.ru_maxrss / 1024.0, [row[t] for t in TRAITS]


def run_stages(backend, config):
    """The command's stages one after the other in this (fresh) process:
    seconds of each, and the CPU seconds of decoding (ffmpeg) and of the
    network. ``config['spawned']`` is the parent's wall clock at spawn."""
    import resource
    from deep_impression import cli
    cli.build_parser()
    if backend == 'chainer':
        import deep_impression.models.audiovisual  # noqa: F401
    else:
        import onnxruntime  # noqa: F401
    out = dict(startup=time.time() - config['spawned'])
    from deep_impression import media
    from deep_impression.inference import backends, clip
    t0 = time.perf_counter()
    model = backends.load_backend(backend, weights=config['weights'],
                                  cache=config['cache'])
    out['weights'] = time.perf_counter() - t0
    t0 = time.perf_counter()
    audio = media.load_clip_audio(config['clip'])
    frames = list(media.iter_frames(config['clip'], chunk=clip.STREAM_CHUNK))
    out['decoding'] = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    out['decoding_cpu'] = usage.ru_utime + usage.ru_stime
    t0, c0 = time.perf_counter(), time.process_time()
    a, v = clip.clip_features(model, audio, frames)
    out['network'] = time.perf_counter() - t0
    out['network_cpu'] = time.process_time() - c0
    t0 = time.perf_counter()
    model.fuse_features(a[None], v[None])
    out['fusion'] = time.perf_counter() - t0
    out['frames'] = sum(len(f) for f in frames)
    return out


def _stage_child(backend, config, env):
    config = dict(config, spawned=time.time())
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), '--stage-child', backend,
         '--config', json.dumps(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    lines = proc.stdout.decode().strip().splitlines()
    if proc.returncode != 0 or not lines:
        err = proc.stderr.decode('utf-8', 'replace').strip().splitlines()
        raise RuntimeError('stages of {} failed: {}'.format(
            backend, err[-1] if err else proc.returncode))
    return json.loads(lines[-1])


def measure_end_to_end(backend, config, runs, env):
    """Whole-command times (a cold-cache first call for ONNX Runtime, then
    ``runs`` warm ones) and the breakdown of one more fresh process."""
    cmd = _predict_command(backend, config['clip'], config['weights'])
    result = dict(backend=backend)
    if backend == 'onnxruntime':
        result['first_call_seconds'] = time_command(cmd, env)[0]
    times, peaks = [], []
    for i in range(runs):
        print('  {} run {}/{} ...'.format(backend, i + 1, runs), flush=True)
        seconds, peak, values = time_command(cmd, env)
        times.append(seconds)
        peaks.append(peak)
    result.update(seconds=times, median_seconds=float(numpy.median(times)),
                  peak_rss_mb=max(peaks), values=values)
    result['stages'] = _stage_child(backend, config, env)
    result['stages_sum'] = sum(result['stages'][k] for k, _ in STAGES)
    return result


def end_to_end_table(results, machine):
    """The side-by-side table of :func:`end_to_end` (a string)."""
    names = [r['backend'] for r in results]
    row = '{:<34}' + ' {:>12}' * len(results)
    lines = [row.format('seconds', *names)]

    def add(label, values, fmt='{:.2f}'):
        lines.append(row.format(label, *[
            '-' if v is None else fmt.format(v) for v in values]))

    for key, label in STAGES:
        add(label, [r['stages'][key] for r in results])
    add('sum of the stages', [r['stages_sum'] for r in results])
    add('whole command, median', [r['median_seconds'] for r in results])
    add('overlap gained (sum - median)',
        [r['stages_sum'] - r['median_seconds'] for r in results])
    add('first call (export, cold cache)',
        [r.get('first_call_seconds') for r in results])
    add('peak memory of the command, MB', [r['peak_rss_mb'] for r in results],
        '{:.0f}')
    add('CPU s: decoding (ffmpeg)',
        [r['stages']['decoding_cpu'] for r in results])
    add('CPU s: network', [r['stages']['network_cpu'] for r in results])
    add('floor: CPU s / {} cores'.format(machine['cores']),
        [(r['stages']['decoding_cpu'] + r['stages']['network_cpu']) /
         machine['cores'] for r in results])
    for r in results:
        lines.append('five values, {}: {}'.format(r['backend'], ', '.join(
            '{:.6f}'.format(v) for v in r['values'])))
    ref = results[0]
    for r in results[1:]:
        lines.append('whole command: {} / {} = {:.1f}x; max |dy| = {:.1e} '
                     '(JSON output, 6 decimals)'
                     .format(ref['backend'], r['backend'],
                             ref['median_seconds'] / r['median_seconds'],
                             r['max_abs_diff_vs_' + ref['backend']]))
    return '\n'.join(lines)


def end_to_end(args):
    """``--end-to-end``: time ``deep-impression predict`` as a user runs
    it, for each backend, and print the breakdown and the ratio."""
    tmp = tempfile.mkdtemp(prefix='bench-e2e-')
    weights = args.weights or make_synthetic_weights(
        os.path.join(tmp, 'model'))
    print('making a {}-s 1280x720 H.264 + AAC clip ...'.format(
        args.clip_seconds), flush=True)
    config = dict(clip=make_user_clip(os.path.join(tmp, 'clip.mp4'),
                                      args.clip_seconds),
                  weights=weights, cache=os.path.join(tmp, 'cache'))
    if args.weights is None:
        fit_weights_to_clip(weights, config['clip'])
    env = dict(os.environ, DEEP_IMPRESSION_CACHE=config['cache'],
               PYTHONPATH=os.pathsep.join(
                   [os.path.dirname(HERE)] +
                   [p for p in [os.environ.get('PYTHONPATH')] if p]))
    machine = _machine()
    results = []
    for backend in args.backends.split(','):
        results.append(measure_end_to_end(backend, config, args.runs, env))
    for r in results[1:]:
        r['max_abs_diff_vs_' + results[0]['backend']] = float(numpy.abs(
            numpy.subtract(r['values'], results[0]['values'])).max())
    machine['load_average_1min_after'] = os.getloadavg()[0]
    print('\nend to end: `deep-impression predict CLIP --format json`, '
          '{}-s 1280x720 H.264 + AAC clip ({} frames used), fresh process '
          'per run, median of {}; {} cores, load average {:.2f} before, '
          '{:.2f} after'.format(
              args.clip_seconds, results[0]['stages']['frames'], args.runs,
              machine['cores'], machine['load_average_1min'],
              machine['load_average_1min_after']))
    print(end_to_end_table(results, machine))
    out = dict(mode='end-to-end', machine=machine,
               clip=dict(seconds=args.clip_seconds, size='1280x720',
                         codecs='H.264 + AAC'),
               weights=args.weights or 'synthetic random', runs=args.runs,
               results=results)
    if args.json:
        _write_json(args.json, out)
    return 0


# -- the report ----------------------------------------------------------------

def report(results, reference='chainer'):
    ref = next((r for r in results if r['path'] == reference and
                'seconds' in r), None)
    lines = ['{:<18} {:>9} {:>9} {:>9} {:>8} {:>9} {:>10}  {}'.format(
        'path', 's/clip', 'ms/frame', 'frames/s', 'x ' + reference,
        'peak MB', 'max |dy|', 'note')]
    lines.append('(max |dy|: largest difference of the five values from '
                 '{} on a {}-frame check clip)'.format(reference,
                                                       CHECK_FRAMES))
    for r in results:
        if 'seconds' not in r:
            lines.append('{:<18} {}'.format(
                r['path'], r.get('skipped') or 'FAILED: ' + r.get('failed')))
            continue
        speedup = diff = ''
        if ref is not None:
            r['speedup_vs_' + reference] = ref['clip_seconds'] / \
                r['clip_seconds']
            # On the check clip: the same inputs for every path.
            r['max_abs_diff_vs_' + reference] = float(numpy.abs(
                numpy.subtract(r['check_values'],
                               ref['check_values'])).max())
            speedup = '{:.1f}'.format(r['speedup_vs_' + reference])
            diff = '{:.2e}'.format(r['max_abs_diff_vs_' + reference])
        note = []
        if r['extrapolated']:
            note.append('extrapolated from {} frames'.format(r['frames']))
        if 'threads' in r:
            note.append('{} threads'.format(r['threads']))
        if 'batch_size' in r:
            note.append('batch {}'.format(r['batch_size']))
        lines.append('{:<18} {:>9.2f} {:>9.1f} {:>9.2f} {:>8} {:>9.0f} '
                     '{:>10}  {}'.format(
                         r['path'], r['clip_seconds'], r['ms_per_frame'],
                         r['frames_per_second'], speedup, r['peak_rss_mb'],
                         diff, ', '.join(note)))
    int8 = next((r for r in results if r['path'] == 'onnxruntime-int8' and
                 'values' in r), None)
    fp32 = next((r for r in results if r['path'] == 'onnxruntime' and
                 'values' in r), None)
    if int8 and fp32 and int8['frames'] == fp32['frames']:
        d = float(numpy.abs(numpy.subtract(int8['values'],
                                           fp32['values'])).max())
        int8['max_abs_diff_vs_onnxruntime_fp32'] = d
        lines.append('int8 vs fp32 ONNX Runtime on the benchmark clip: '
                     'max |dy| = {:.4f}'.format(d))
    return '\n'.join(lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--weights', default=None,
                   help='release-format weight file (default: synthetic '
                        'random weights)')
    p.add_argument('--frames', type=int, default=CLIP_FRAMES,
                   help='frames to run per path (default %(default)s = one '
                        '15-s clip; fewer: per-clip time extrapolated)')
    p.add_argument('--chainer-frames', type=int, default=None,
                   help='frames for the Chainer CPU path only (default: '
                        '--frames)')
    p.add_argument('--paths', default=','.join(PATHS),
                   help='comma-separated subset of ' + ', '.join(PATHS))
    p.add_argument('--batch-size', type=int, default=16,
                   help='frames per ONNX Runtime / PyTorch call')
    p.add_argument('--threads', type=int, default=None,
                   help='intra-op threads (default: available cores)')
    p.add_argument('--optimization', default='all',
                   choices=('none', 'basic', 'extended', 'all'),
                   help='ONNX Runtime graph optimisation level')
    p.add_argument('--calibration-frames', type=int, default=32,
                   help='synthetic frames to calibrate the int8 path')
    p.add_argument('--sweep', action='store_true',
                   help='also time ONNX Runtime per frame for batch sizes '
                        '1, 8, 16, 32 and optimisation levels extended/all')
    p.add_argument('--json', metavar='FILE', default=None,
                   help='also write the results here')
    e = p.add_argument_group(
        'end to end', 'time the whole `deep-impression predict` command on a '
        '1280x720 H.264 + AAC clip, per backend, with a breakdown')
    e.add_argument('--end-to-end', action='store_true',
                   help='run this mode instead of the network-only one')
    e.add_argument('--runs', type=int, default=5,
                   help='fresh processes per backend; the median is '
                        'reported (default %(default)s)')
    e.add_argument('--clip-seconds', type=float, default=CLIP_SECONDS,
                   help='length of the clip (default %(default)s)')
    e.add_argument('--backends', default=','.join(END_TO_END_BACKENDS),
                   help='comma-separated, the first is the reference '
                        '(default %(default)s)')
    p.add_argument('--child', default=None, help=argparse.SUPPRESS)
    p.add_argument('--stage-child', default=None, help=argparse.SUPPRESS)
    p.add_argument('--config', default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        print(json.dumps(run_path(args.child, json.loads(args.config))))
        return 0
    if args.stage_child:
        print(json.dumps(run_stages(args.stage_child,
                                    json.loads(args.config))))
        return 0
    if args.end_to_end:
        return end_to_end(args)
    paths = [p for p in args.paths.split(',') if p]
    unknown = set(paths) - set(PATHS)
    if unknown:
        sys.exit('unknown path(s): {}'.format(', '.join(sorted(unknown))))
    tmp = None
    weights = args.weights
    if weights is None:
        tmp = tempfile.mkdtemp(prefix='bench-weights-')
        weights = make_synthetic_weights(os.path.join(tmp, 'model'))
    base = dict(weights=weights, frames=args.frames,
                batch_size=args.batch_size, threads=args.threads,
                optimization=args.optimization,
                calibration_frames=args.calibration_frames)
    machine = _machine()
    print('machine: {cores} cores available, load average {load_average_1min:'
          '.2f}; clip: {} frames {}x{} + {} samples'.format(
              CLIP_FRAMES, FRAME_WIDTH, FRAME_HEIGHT, CLIP_SAMPLES,
              **machine), flush=True)
    results = []
    for path in paths:
        config = dict(base)
        if path == 'chainer' and args.chainer_frames:
            config['frames'] = args.chainer_frames
        print('running {} ...'.format(path), flush=True)
        results.append(run_child(path, config))
    sweep = []
    if args.sweep:
        for optimization in ('extended', 'all'):
            for batch in (1, 8, 16, 32):
                config = dict(base, frames=min(args.frames, 64),
                              batch_size=batch, optimization=optimization)
                print('sweep: onnxruntime batch {} optimization {} ...'
                      .format(batch, optimization), flush=True)
                r = run_child('onnxruntime', config)
                sweep.append(r)
    text = report(results)
    print(text)
    for r in sweep:
        if 'ms_per_frame' in r:
            print('sweep onnxruntime optimization={optimization:<8} '
                  'batch={batch_size:<3} {ms_per_frame:6.1f} ms/frame, '
                  'peak {peak_rss_mb:.0f} MB'.format(**r))
    out = dict(machine=machine, clip=dict(frames=CLIP_FRAMES,
                                          width=FRAME_WIDTH,
                                          height=FRAME_HEIGHT,
                                          audio_samples=CLIP_SAMPLES),
               weights=args.weights or 'synthetic random', results=results,
               sweep=sweep,
               load_average_1min_after=os.getloadavg()[0])
    print(json.dumps(out, indent=1))
    if args.json:
        _write_json(args.json, out)
    return 0


def _machine():
    from deep_impression.inference.backends import available_cores
    return dict(cores=available_cores(), processor=platform.processor() or
                platform.machine(), python=platform.python_version(),
                load_average_1min=os.getloadavg()[0])


def _write_json(path, out):
    from provenance import write_result
    write_result(path, out)


if __name__ == '__main__':
    sys.exit(main())
