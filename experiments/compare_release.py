"""This package against the authors' release: their network code, their
decoding.

Given a checkout of the authors' repository (github ``yagguc/deep_impression``,
MIT), this script imports their own ``auditory_stream.py``,
``visual_stream.py`` and ``audiovisual_stream.py`` from that checkout,
unchanged, under Python 3 and Chainer 7.8.1. A small adapter is applied at
import time (nothing of theirs is copied here):

* the Python 2 name ``xrange`` is given to their modules as ``range``;
* their modules' ``chainer`` is a thin stand-in for the real one, with the
  Chainer v1 signatures they call: ``BatchNormalization(x, test)`` (test
  mode = ``train`` off), ``Variable(data, volatile)`` (no gradient), and
  ``cuda.to_gpu`` sending to the chosen device (the CPU by default) instead
  of the hard-wired GPU. Everything else is Chainer 7.8.1 itself
  (``Chain(**links)`` still works there).

The same weight file (``--weights``, the release's ``model``; by default
random weights written in the release's format by
:func:`deep_impression.save_weights`) is loaded into both networks, and the
largest difference of the five values is printed

1. on random inputs (2 s of audio, 300 small frames: the release's loop over
   chunks of 256 frames runs twice), and
2. on each VIDEO, decoded once the release's way and fed to both networks.

The exit status is 1 when any of these exceeds ``--tolerance`` (1e-4), so a
slip in either network (a pooling flag, a pad) is caught.

Then the decoding itself is measured with this package's network: each
VIDEO decoded the package's way (25 frames/s, soxr audio) and the release's
way (every native frame, 16-bit PCM averaged over channels and resampled
with ``kaiser_best``, :mod:`deep_impression.media`), and how far the five
values move: both decodings, only the audio, only the frames.

``--make-clips DIR`` writes four short test clips with the bundled ffmpeg
(25, 30, 60 frames/s and a variable frame rate) and measures them.

Example::

    .venv/bin/python experiments/compare_release.py \\
        --release ../deep_impression_release --make-clips runs/clips
"""

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import types

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from deep_impression import _compat  # noqa: F401,E402  (before chainer)

import chainer  # noqa: E402
import chainer.links as L  # noqa: E402

from deep_impression import fileio, media  # noqa: E402
from deep_impression.constants import TRAITS  # noqa: E402

#: The release's network files, in import order.
RELEASE_MODULES = ('auditory_stream', 'visual_stream', 'audiovisual_stream')

#: The clips of ``--make-clips``: name, frame rate (``None``: variable),
#: seconds, audio rate (Hz) and channels. Short, so that the release's
#: network (whole 256-frame chunks at once) fits in a few GB on the CPU.
CLIPS = (('clip_25fps.mp4', 25, 2.0, 48000, 1),
         ('clip_30fps.mp4', 30, 2.0, 44100, 2),
         ('clip_60fps.mp4', 60, 1.5, 48000, 2),
         ('clip_vfr.mp4', None, 2.0, 44100, 2))


# -- the adapter -------------------------------------------------------------

class _V1BatchNormalization(L.BatchNormalization):
    """Chainer v1's call ``bn(x, test)``: ``test=True`` is test mode."""

    def forward(self, x, test=False, finetune=False):
        with chainer.using_config('train', not test):
            return super().forward(x, finetune=finetune)


def _v1_variable(data, volatile=False, name=None):
    """Chainer v1's ``Variable(data, volatile)``: volatile = no gradient."""
    return chainer.Variable(data, name=name, requires_grad=not volatile)


class _Namespace(types.ModuleType):
    """A module's stand-in: the overrides given, else the real module's."""

    def __init__(self, real, **overrides):
        super().__init__(real.__name__)
        self._real = real
        self.__dict__.update(overrides)

    def __getattr__(self, name):
        return getattr(self._real, name)


def v1_chainer(device):
    """The ``chainer`` the release's modules see: Chainer 7.8.1 with the v1
    signatures they call, ``cuda.to_gpu`` sending to ``device``."""
    return _Namespace(
        chainer, Variable=_v1_variable,
        links=_Namespace(chainer.links,
                         BatchNormalization=_V1BatchNormalization),
        cuda=_Namespace(chainer.backends.cuda, to_gpu=device.send))


def import_release(release_dir, device):
    """Import the release's network files from ``release_dir``, adapted.

    Returns:
        the ``audiovisual_stream`` module (its ``ResNet18`` is the network).
    """
    missing = [n for n in RELEASE_MODULES
               if not os.path.isfile(os.path.join(release_dir, n + '.py'))]
    if missing:
        sys.exit('{}: not a checkout of the release (no {}.py)'.format(
            release_dir, missing[0]))
    shim = v1_chainer(device)
    saved = {name: sys.modules.get(name) for name in RELEASE_MODULES}
    modules = {}
    try:
        for name in RELEASE_MODULES:
            spec = importlib.util.spec_from_file_location(
                name, os.path.join(release_dir, name + '.py'))
            module = importlib.util.module_from_spec(spec)
            module.xrange = range
            # audiovisual_stream does `import auditory_stream`.
            sys.modules[name] = modules[name] = module
            spec.loader.exec_module(module)
            module.chainer = shim
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old
    return modules['audiovisual_stream']


def release_network(release_dir, weights, device):
    """The release's ``ResNet18`` with ``weights`` loaded as their
    ``util.load_model`` does (``load_npz``, here with pickles refused), on
    ``device``."""
    net = import_release(release_dir, device).ResNet18()
    fileio.load_npz(weights, net)
    net.to_device(device)
    return net


def release_predict(net, audio, frames):
    """The release's ``model(x)``: ``x = [audio (1, 1, 1, n) float32,
    frames (T, 3, H, W) float32]`` as their ``util.py`` builds it."""
    x = [numpy.asarray(audio, numpy.float32)[None, None, None, :],
         numpy.ascontiguousarray(frames.transpose(0, 3, 1, 2), numpy.float32)]
    with chainer.using_config('enable_backprop', False):
        return numpy.asarray(net(x), dtype=numpy.float32)


# -- weights and clips -------------------------------------------------------

def write_random_weights(path, seed=0):
    """Random weights in the release's format, BN averages included.

    He-normal convolutions and FC layer, random BN scales and shifts, and BN
    averages set to the statistics of each layer's input on one batch of
    random audio and frames (as training leaves them, roughly): so that
    activations keep a trained network's scale and the five values stay off
    tanh's flat ends, where differences would vanish.
    """
    from deep_impression import save_weights
    from deep_impression.models.audiovisual import AudiovisualNetwork
    numpy.random.seed(seed)  # Chainer's initialisers draw from it
    rng = numpy.random.RandomState(seed)
    model = AudiovisualNetwork()
    bns = [link for _, link in model.namedlinks()
           if isinstance(link, L.BatchNormalization)]
    for link in bns:
        c = link.avg_mean.shape[0]
        link.gamma.array[...] = rng.uniform(0.5, 1.5, c)
        link.beta.array[...] = rng.normal(0, 0.3, c)
        link.decay = 0.0  # the next training-mode pass sets the averages
    audio = rng.uniform(-0.3, 0.3, (4, 1, 1, 16000)).astype(numpy.float32)
    frames = rng.uniform(0, 255, (8, 3, 64, 112)).astype(numpy.float32)
    with chainer.using_config('train', True):
        model.aud(audio)
        model.vis(frames)
    for link in bns:
        link.decay = 0.9  # Chainer's default, as in the release
    model.fc.W.array *= 0.3  # logits of about +-0.5 on the test clips
    model.fc.b.array[...] = rng.uniform(-0.2, 0.2, len(TRAITS))
    return save_weights(model, path)


def make_clip(path, fps, seconds, sample_rate, channels):
    """A moving test pattern and a noisy tone, H.264 + AAC, with the bundled
    ffmpeg; ``fps=None``: 1 s at 30 frames/s, then 15 frames/s."""
    rate = fps or 30
    video = 'testsrc2=size=640x360:rate={}'.format(rate)
    audio = ('sine=frequency=220:sample_rate={0}[s];'
             'anoisesrc=color=pink:amplitude=0.2:seed=3:sample_rate={0}[n];'
             '[s][n]amix=inputs=2:duration=shortest[out0]'.format(sample_rate))
    cmd = [media.ffmpeg_exe(), '-v', 'error', '-y', '-f', 'lavfi', '-i',
           video, '-f', 'lavfi', '-i', audio]
    if fps is None:
        frames = int(30 + 15 * (seconds - 1))
        cmd += ['-vf', 'setpts=(if(lt(N\\,30)\\,N/30\\,1+(N-30)/15))/TB',
                '-fps_mode', 'vfr', '-frames:v', str(frames)]
    cmd += ['-t', str(seconds), '-c:v', 'libx264', '-pix_fmt', 'yuv420p',
            '-ac', str(channels), '-c:a', 'aac', path]
    subprocess.run(cmd, check=True)
    return path


def make_clips(folder):
    """Write :data:`CLIPS` into ``folder``; their paths."""
    os.makedirs(folder, exist_ok=True)
    return [make_clip(os.path.join(folder, name), *rest)
            for name, *rest in CLIPS]


# -- the comparison ----------------------------------------------------------

def _fmt(values):
    return ' '.join('{:.6f}'.format(v) for v in values)


def compare_random(release, model, seed):
    """Largest difference on random audio and 300 small random frames."""
    rng = numpy.random.RandomState(seed + 1)
    audio = rng.uniform(-0.5, 0.5, 32000).astype(numpy.float32)
    frames = rng.randint(0, 256, (300, 48, 80, 3)).astype(numpy.uint8)
    y_release = release_predict(release, audio, frames)
    y_package = model.predict(audio, frames)
    print('random inputs (32000 samples, 300 frames of 80x48):')
    print('  release {}'.format(_fmt(y_release)))
    print('  package {}'.format(_fmt(y_package)))
    diff = float(numpy.abs(y_release - y_package).max())
    print('  largest difference {:.2e}'.format(diff))
    return diff


def compare_video(path, release, model):
    """Both networks on the release's decoding of ``path``, then the
    package's network on both decodings. Returns a dict of figures."""
    audio_r = media.decode_audio_release(path)
    frames_r = media.read_frames(path, fps=None)
    audio_p = media.decode_audio(path)
    frames_p = media.read_frames(path)
    y_release = release_predict(release, audio_r, frames_r)
    a_r, v_r = model.clip_features(audio_r, frames_r)
    a_p, v_p = model.clip_features(audio_p, frames_p)
    both = model.fuse_features(numpy.stack([a_r, a_p, a_p, a_r]),
                               numpy.stack([v_r, v_p, v_r, v_p]))
    y_package = both[0]
    row = dict(video=os.path.basename(path),
               fps=media.probe(path).fps,
               frames_release=len(frames_r), frames_package=len(frames_p),
               network=float(numpy.abs(y_release - y_package).max()),
               decoding=float(numpy.abs(both[1] - both[0]).max()),
               audio_only=float(numpy.abs(both[2] - both[0]).max()),
               frames_only=float(numpy.abs(both[3] - both[0]).max()))
    print('{} ({} native frames, {} at 25 frames/s):'.format(
        path, row['frames_release'], row['frames_package']))
    print('  release network, release decoding {}'.format(_fmt(y_release)))
    print('  package network, release decoding {}'.format(_fmt(y_package)))
    print('  package network, package decoding {}'.format(_fmt(both[1])))
    print('  largest difference of the networks {:.2e}'.format(row['network']))
    return row


def print_table(rows):
    """The decoding table: how far the five values move per clip."""
    print('\ndecoding: package (25 frames/s, soxr) vs release (native '
          'frames, kaiser_best); largest change of the five values')
    head = '{:<16} {:>6} {:>15} {:>9} {:>10} {:>11}'.format(
        'clip', 'fps', 'frames nat/25', 'both', 'audio only', 'frames only')
    print(head)
    for r in rows:
        print('{:<16} {:>6} {:>15} {:>9.5f} {:>10.5f} {:>11.5f}'.format(
            r['video'], '{:g}'.format(r['fps']) if r['fps'] else '?',
            '{}/{}'.format(r['frames_release'], r['frames_package']),
            r['decoding'], r['audio_only'], r['frames_only']))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('videos', nargs='*', metavar='VIDEO')
    p.add_argument('--release', required=True, metavar='DIR',
                   help='a checkout of github.com/yagguc/deep_impression')
    p.add_argument('--weights', default=None, metavar='FILE',
                   help='the release\'s "model" file (default: random '
                        'weights in its format)')
    p.add_argument('--make-clips', metavar='DIR', default=None,
                   help='write test clips of 25, 30, 60 frames/s and a '
                        'variable rate here and measure them too')
    p.add_argument('--device', default='@numpy',
                   help='Chainer device for both networks (default @numpy)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--tolerance', type=float, default=1e-4)
    p.add_argument('--json', metavar='FILE', default=None,
                   help='also write the figures (with the command, commit '
                        'and machine) here')
    args = p.parse_args(argv)

    from deep_impression import load_model
    device = chainer.get_device(args.device)
    videos = list(args.videos)
    if args.make_clips:
        videos += make_clips(args.make_clips)
    with tempfile.TemporaryDirectory() as tmp:
        weights = args.weights
        if weights is None:
            weights = write_random_weights(os.path.join(tmp, 'model'),
                                           args.seed)
        print('weights: {}'.format(args.weights or 'random (seed {}), in '
                                   'the release\'s format'.format(args.seed)))
        release = release_network(args.release, weights, device)
        model = load_model(weights, device=args.device)
        worst = random_diff = compare_random(release, model, args.seed)
        rows = [compare_video(v, release, model) for v in videos]
    worst = max([worst] + [r['network'] for r in rows])
    if rows:
        print_table(rows)
    print('\nlargest difference of the two networks: {:.2e} ({} {:g})'.format(
        worst, 'within' if worst <= args.tolerance else 'ABOVE',
        args.tolerance))
    if args.json:
        from provenance import write_result
        write_result(args.json, dict(
            tolerance=args.tolerance, worst=worst, random_inputs=random_diff,
            weights=args.weights or 'random (seed {})'.format(args.seed),
            rows=rows))
    return 0 if worst <= args.tolerance else 1


if __name__ == '__main__':
    sys.exit(main())
