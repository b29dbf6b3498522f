"""The fast CPU path (deep_impression.models.fast_cpu) computes what
Chainer's own functions compute: outputs and first-order gradients within
float32 rounding (1e-5 of the largest magnitude), at every kernel, stride
and padding the two streams use, on odd sizes; the whole network's loss,
gradients and running averages equal the plain path's; its inference
equals the independent NumPy reference (tests/reference.py).

Budget: about 40 s on a quiet 2-core machine.
"""

import chainer
import chainer.functions as F
import chainer.links as L
import numpy
import pytest

from deep_impression.models import fast_cpu
from deep_impression.models.audiovisual import AudiovisualNetwork
from deep_impression.models.streams import AUDITORY, VISUAL

import reference

RTOL = 1e-5


def close(got, want, rtol=RTOL):
    """Equal within ``rtol`` of the reference's largest magnitude (float32
    rounding of sums of different order)."""
    got, want = numpy.asarray(got), numpy.asarray(want)
    assert got.shape == want.shape
    scale = max(float(numpy.abs(want).max()), 1e-30)
    err = float(numpy.abs(got.astype(numpy.float64) - want).max())
    assert err <= rtol * scale, (err, scale)


def variable(rng, shape, scale=1.0):
    return chainer.Variable(rng.normal(0, scale, shape).astype(numpy.float32))


def channel_major(x):
    """The same (N, C, H, W) values, channel-major in memory (what the fast
    path's layers hand each other)."""
    return numpy.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(
        1, 0, 2, 3)


# Every convolution of the two streams: (in_ch, out_ch, (ksize, stride,
# pad), input height and width), at odd sizes.
CONVOLUTIONS = [
    (3, 5, VISUAL.conv1, (13, 17)), (4, 6, VISUAL.block, (9, 11)),
    (4, 6, VISUAL.down, (9, 11)), (4, 6, VISUAL.shortcut, (9, 11)),
    (1, 5, AUDITORY.conv1, (1, 203)), (4, 6, AUDITORY.block, (1, 57)),
    (4, 6, AUDITORY.down, (1, 57)), (4, 6, AUDITORY.shortcut, (1, 57)),
]


@pytest.mark.parametrize('cin,cout,geometry,size', CONVOLUTIONS)
@pytest.mark.parametrize('layout', ['nchw', 'channel_major'])
def test_convolution_equals_chainers(cin, cout, geometry, size, layout):
    ksize, stride, pad = geometry
    rng = numpy.random.RandomState(0)
    x = rng.normal(0, 1, (3, cin) + size).astype(numpy.float32)
    if layout == 'channel_major':
        x = channel_major(x)
    link = L.Convolution2D(cin, cout, ksize, stride, pad)
    link.b.array[:] = rng.normal(0, 1, cout)
    results = []
    for fast in (False, True):
        xv = chainer.Variable(x.copy())
        link.cleargrads()
        with chainer.using_config(fast_cpu.CONFIG_KEY, fast):
            y = fast_cpu.convolution(link, xv)
        gy = numpy.random.RandomState(1).normal(
            0, 1, y.shape).astype(numpy.float32)
        y.grad = gy
        y.backward()
        results.append((y.array, xv.grad, link.W.grad, link.b.grad))
        assert isinstance(y.creator, fast_cpu.Convolution2D) == fast
    for got, want in zip(results[1], results[0]):
        close(got, want)


@pytest.mark.parametrize('relu', [False, True])
@pytest.mark.parametrize('shape', [(3, 5, 7, 9), (4, 3, 1, 37)])
def test_batch_normalization_equals_chainers_and_numpy(relu, shape):
    rng = numpy.random.RandomState(2)
    x = channel_major(rng.normal(1.5, 2.0, shape).astype(numpy.float32))
    gy = rng.normal(0, 1, shape).astype(numpy.float32)
    results = []
    for fast in (False, True):
        link = L.BatchNormalization(shape[1])
        link.gamma.array[:] = numpy.linspace(0.5, 1.5, shape[1])
        link.beta.array[:] = numpy.linspace(-0.3, 0.3, shape[1])
        link.avg_var[:] = 2.0
        link.cleargrads()
        xv = chainer.Variable(x.copy())
        with chainer.using_config(fast_cpu.CONFIG_KEY, fast):
            y = fast_cpu.batch_normalization(link, xv, relu=relu)
        y.grad = gy
        y.backward()
        results.append((y.array, xv.grad, link.gamma.grad, link.beta.grad,
                        link.avg_mean.copy(), link.avg_var.copy()))
        assert isinstance(y.creator, fast_cpu.BatchNormalization) == fast
    for got, want in zip(results[1], results[0]):
        close(got, want)
    # Independent NumPy: batch statistics over (N, H, W), eps 2e-5,
    # running averages with decay 0.9 and the unbiased variance.
    x64 = x.astype(numpy.float64)
    mean = x64.mean(axis=(0, 2, 3))
    var = x64.var(axis=(0, 2, 3))
    c = (None, slice(None), None, None)
    want = ((x64 - mean[c]) / numpy.sqrt(var[c] + 2e-5) *
            numpy.linspace(0.5, 1.5, shape[1])[c] +
            numpy.linspace(-0.3, 0.3, shape[1])[c])
    if relu:
        want = numpy.maximum(want, 0)
    close(results[1][0], want)
    m = x.size // shape[1]
    close(results[1][4], 0.1 * mean)
    close(results[1][5], 0.9 * 2.0 + 0.1 * var * m / (m - 1))


POOLINGS = [(VISUAL.pool1, (13, 17)), (VISUAL.pool1, (12, 16)),
            (AUDITORY.pool1, (1, 103)), (AUDITORY.pool1, (1, 96))]


@pytest.mark.parametrize('geometry,size', POOLINGS)
def test_max_pooling_equals_chainers_with_ties(geometry, size):
    ksize, stride, pad = geometry
    rng = numpy.random.RandomState(3)
    # After a ReLU many inputs are 0: ties must send the gradient where
    # Chainer's argmax does (the first offset of the window).
    x = numpy.maximum(rng.normal(0, 1, (2, 3) + size), 0).astype(
        numpy.float32)
    x[0, 0] = 0
    gy = None
    results = []
    for fast in (False, True):
        xv = chainer.Variable(channel_major(x))
        with chainer.using_config(fast_cpu.CONFIG_KEY, fast):
            y = fast_cpu.max_pooling(xv, ksize, stride, pad)
        if gy is None:
            gy = rng.normal(0, 1, y.shape).astype(numpy.float32)
        y.grad = gy
        y.backward()
        results.append((y.array, xv.grad))
    numpy.testing.assert_array_equal(results[1][0], results[0][0])
    numpy.testing.assert_array_equal(results[1][1], results[0][1])
    # Independent NumPy: ceil-mode windows over -inf padding.
    x64 = x.astype(numpy.float64)
    numpy.testing.assert_array_equal(
        results[1][0], reference.max_pool_cover_all(x64, geometry))


def _training_step(fast, dtype=numpy.float32, seed=0):
    """Loss, gradients and running averages of one training-mode step of
    the whole network on tiny inputs (in float64: the plain path on
    float64 copies of the same weights)."""
    numpy.random.seed(seed)
    net = AudiovisualNetwork()
    for p in net.params():
        p.array = p.array.astype(dtype)
    for link in net.links():
        if isinstance(link, L.BatchNormalization):
            link.avg_mean = link.avg_mean.astype(dtype)
            link.avg_var = link.avg_var.astype(dtype)
    net.cleargrads()
    rng = numpy.random.RandomState(seed)
    audio = rng.uniform(-0.5, 0.5, (2, 1, 1, 1531)).astype(dtype)
    frames = rng.uniform(0, 255, (2, 3, 37, 45)).astype(dtype)
    labels = rng.uniform(0.2, 0.8, (2, 5)).astype(dtype)
    with chainer.using_config(fast_cpu.CONFIG_KEY, fast):
        loss = F.mean_absolute_error(net(audio, frames), labels)
    loss.backward()
    grads = {name: p.grad.astype(numpy.float64)
             for name, p in net.namedparams()}
    averages = {name + '/' + key: getattr(link, key).astype(numpy.float64)
                for name, link in net.namedlinks()
                if isinstance(link, L.BatchNormalization)
                for key in ('avg_mean', 'avg_var')}
    return float(loss.array), grads, averages


def test_training_step_of_the_network_is_as_exact_as_the_plain_path():
    truth = _training_step(False, numpy.float64)
    plain = _training_step(False)
    fast = _training_step(True)
    assert abs(fast[0] - plain[0]) <= RTOL * abs(plain[0])
    for name in plain[2]:
        close(fast[2][name], plain[2][name])

    def errors(run):
        # Relative to each parameter's largest gradient; the biases of
        # convolutions before batch normalisation have a zero gradient
        # (rounding noise only) and are left out.
        return {name: numpy.abs(g - truth[1][name]).max() /
                numpy.abs(truth[1][name]).max()
                for name, g in run[1].items()
                if not (name.endswith('/b') and not name.startswith('/fc'))}
    plain_errors, fast_errors = errors(plain), errors(fast)
    assert sorted(fast[1]) == sorted(plain[1])
    # 17 layers of float32 sums: Chainer's own path is about 1e-4 from
    # float64 here; the fast path must be no further.
    assert max(fast_errors.values()) <= 1.5 * max(plain_errors.values())
    assert numpy.median(list(fast_errors.values())) <= 1.5 * numpy.median(
        list(plain_errors.values()))


def test_inference_equals_the_numpy_reference():
    # Test mode: the fast convolutions and pooling with Chainer's fixed
    # batch normalisation, against the float64 NumPy network.
    params = reference.random_release_weights(seed=5)
    net = AudiovisualNetwork()
    for name, p in net.namedparams():
        p.array[:] = params[name.lstrip('/')]
    for name, link in net.namedlinks():
        if isinstance(link, L.BatchNormalization):
            key = name.lstrip('/')
            link.avg_mean[:] = params[key + '/avg_mean']
            link.avg_var[:] = params[key + '/avg_var']
    rng = numpy.random.RandomState(4)
    audio = rng.uniform(-0.8, 0.8, (1, 1, 1, 3001)).astype(numpy.float32)
    frames = rng.uniform(0, 255, (2, 3, 41, 53)).astype(numpy.float32)
    with chainer.using_config(fast_cpu.CONFIG_KEY, True), \
            chainer.using_config('train', False):
        a = net.aud(audio).array
        v = net.vis(frames).array
    close(a, reference.stream(audio.astype(numpy.float64), params, 'aud'))
    close(v, reference.stream(frames.astype(numpy.float64), params, 'vis'))


def test_plain_path_when_off_or_not_numpy_float32():
    link = L.Convolution2D(2, 3, 3, 1, 1)
    x = numpy.ones((1, 2, 5, 5), numpy.float32)
    assert not fast_cpu.enabled()          # off unless switched on
    y = fast_cpu.convolution(link, x)
    assert not isinstance(y.creator, fast_cpu.Convolution2D)
    with chainer.using_config(fast_cpu.CONFIG_KEY, True):
        y = fast_cpu.convolution(link, x)
        assert isinstance(y.creator, fast_cpu.Convolution2D)
        pooled = fast_cpu.max_pooling(x.astype(numpy.float64), 3, 2, 1)
        assert not isinstance(pooled.creator, fast_cpu.MaxPooling2D)
        bn = L.BatchNormalization(3)
        with chainer.using_config('train', False):
            h = fast_cpu.batch_normalization(bn, y)
        assert not isinstance(h.creator, fast_cpu.BatchNormalization)


class _NodeTypes(chainer.FunctionHook):
    name = 'node_types'

    def __init__(self):
        self.seen = set()

    def forward_preprocess(self, function, in_data):
        self.seen.add(type(function))


def _one_update(fast, path):
    """One Updater step on two tiny examples; the node types it ran and
    the network's snapshot (key -> shape, dtype) saved after it."""
    from deep_impression.training.updater import Regressor, Updater
    rng = numpy.random.RandomState(0)
    examples = [(rng.uniform(-1, 1, (1, 1, 900)).astype(numpy.float32),
                 rng.uniform(0, 255, (3, 32, 32)).astype(numpy.float32),
                 rng.uniform(0, 1, 5).astype(numpy.float32))
                for _ in range(2)]
    numpy.random.seed(0)
    net = AudiovisualNetwork()
    optimizer = chainer.optimizers.Adam()
    optimizer.setup(Regressor(net))
    updater = Updater(chainer.iterators.SerialIterator(examples, 2),
                      optimizer, fast_cpu=fast)
    with _NodeTypes() as hook:
        updater.update()
    chainer.serializers.save_npz(str(path), net)
    with numpy.load(str(path)) as saved:
        return hook.seen, {k: (saved[k].shape, saved[k].dtype)
                           for k in saved.files}


def test_updater_switch_and_unchanged_snapshot_format(tmp_path):
    fast_types = {fast_cpu.Convolution2D, fast_cpu.BatchNormalization,
                  fast_cpu.MaxPooling2D}
    seen_on, saved_on = _one_update(True, tmp_path / 'on.npz')
    seen_off, saved_off = _one_update(False, tmp_path / 'off.npz')
    assert fast_types <= seen_on
    assert not fast_types & seen_off
    assert saved_on == saved_off and len(saved_on) > 200


@pytest.mark.parametrize('argv,want', [([], True), (['--fast-cpu', 'off'],
                                                    False),
                                       (['--fast-cpu', 'on'], True),
                                       (['--set', 'train.fast_cpu=false'],
                                        False)])
def test_train_command_switch(argv, want):
    from deep_impression.cli import build_parser
    from deep_impression.commands import train
    args = build_parser().parse_args(['train', 'store', '--out', 'run'] +
                                     argv)
    assert train._config(args)['train']['fast_cpu'] is want


def test_train_command_refuses_other_values(capsys):
    from deep_impression.cli import build_parser
    with pytest.raises(SystemExit):
        build_parser().parse_args(['train', 'store', '--out', 'run',
                                   '--fast-cpu', 'yes'])
    assert "expected on or off, got 'yes'" in capsys.readouterr().err


def test_patch_matrices_are_reused_without_changing_results():
    # The second step gets the first step's patch matrix back (no fresh
    # pages) and still computes its own input's convolution.
    fast_cpu.release_buffers()
    link = L.Convolution2D(3, 4, 3, 1, 1)
    rng = numpy.random.RandomState(6)
    cols = []
    for step in range(2):
        x = rng.normal(0, 1, (2, 3, 7, 9)).astype(numpy.float32)
        gy = rng.normal(0, 1, (2, 4, 7, 9)).astype(numpy.float32)
        got = []
        for fast in (True, False):
            xv = chainer.Variable(x)
            link.cleargrads()
            with chainer.using_config(fast_cpu.CONFIG_KEY, fast):
                y = fast_cpu.convolution(link, xv)
            if fast:
                cols.append(y.creator.col.base)
            y.grad = gy
            y.backward()
            got.append((y.array.copy(), xv.grad, link.W.grad.copy()))
        for a, b in zip(*got):
            close(a, b)
    assert cols[1] is cols[0]
    fast_cpu.release_buffers()
    assert not fast_cpu._BUFFERS.free


TINY = dict(batch=2, frame_crop=32, audio_crop=1024, frame_size=(40, 32))


def _experiments():
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), 'experiments'))
    import benchmark_training
    import profile_training
    return profile_training, benchmark_training


def test_profile_splits_a_step_into_its_kinds_of_work():
    from chainer.utils import conv
    profile_training, _ = _experiments()
    originals = numpy.matmul, numpy.tensordot, conv.im2col_cpu
    for fast in (False, True):
        seconds, kinds = profile_training.profile(TINY, fast, 1, 'cpu')
        assert sum(kinds.values()) == pytest.approx(seconds)
        assert kinds['GEMM'] > 0 and kinds['Adam'] > 0
        named = [k for k in kinds if not k.startswith('other')]
        assert ('im2col' in kinds) != fast
        assert 'max pooling forward' in named
    # The timed functions are put back.
    assert (numpy.matmul, numpy.tensordot, conv.im2col_cpu) == originals


def test_benchmark_runs_both_paths_on_the_same_weights():
    _, benchmark_training = _experiments()
    result = benchmark_training.benchmark(TINY, 1)
    losses = result['first_loss']
    assert abs(losses['fast'] - losses['plain']) <= RTOL * losses['plain']
    assert set(result['ms_per_example']) == {'plain', 'fast'}
    assert all(v > 0 for v in result['cpu_ms_per_example'].values())


def test_five_training_steps_track_the_plain_path():
    # Adam moves every weight by about alpha per step whatever the size of
    # its gradient, so rounding differences grow a little with each step;
    # the losses must still agree closely (1.4e-4 relative seen here; a
    # batch of 2 with 1x1 maps at the end diverges faster).
    _experiments()
    import training_cost
    size = dict(batch=4, frame_crop=48, audio_crop=4096)
    losses = {}
    for fast in (False, True):
        step = training_cost.TrainingStep(size, fast)
        losses[fast] = []
        for _ in range(5):
            step()
            losses[fast].append(step.last_loss)
    numpy.testing.assert_allclose(losses[True], losses[False], rtol=1e-3)
    assert losses[False][-1] < losses[False][0]
