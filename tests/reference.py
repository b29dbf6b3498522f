"""An independent NumPy implementation of the release's inference.

Written from the release's facts alone (docs/paper-notes.rst, "The
authors' release": layer geometry and inference), with no Chainer: direct
sums over kernel offsets for convolutions, explicit -inf padding and
ceil-mode windows for ``cover_all`` max pooling, test-mode batch
normalisation from the stored averages. The tests compare the package's
Chainer network against it on the same weights (a dict of npz arrays).
"""

import numpy

EPS = 2e-5  # Chainer's BatchNormalization default

# (kernel, stride, pad) per layer kind, per stream.
GEOMETRY = {
    'vis': dict(conv1=((7, 7), (2, 2), (3, 3)), pool=((3, 3), (2, 2), (1, 1)),
                block=((3, 3), (1, 1), (1, 1)), down=((3, 3), (2, 2), (1, 1)),
                short=((1, 1), (2, 2), (0, 0))),
    'aud': dict(conv1=((1, 49), (1, 4), (0, 24)),
                pool=((1, 9), (1, 4), (0, 4)),
                block=((1, 9), (1, 1), (0, 4)), down=((1, 9), (1, 4), (0, 4)),
                short=((1, 1), (1, 4), (0, 0))),
}
BLOCKS = ['res2a', 'res2b', 'res3a', 'res3b', 'res4a', 'res4b', 'res5a',
          'res5b']
DOWN = {'res3a', 'res4a', 'res5a'}


def conv(x, w, b, geometry):
    """x (N, C, H, W), w (O, C, kh, kw): sum over kernel offsets."""
    (kh, kw), (sh, sw), (ph, pw) = geometry
    n, c, h, wd = x.shape
    xp = numpy.zeros((n, c, h + 2 * ph, wd + 2 * pw), numpy.float64)
    xp[:, :, ph:ph + h, pw:pw + wd] = x
    oh = (h + 2 * ph - kh) // sh + 1
    ow = (wd + 2 * pw - kw) // sw + 1
    y = numpy.zeros((n, w.shape[0], oh, ow), numpy.float64)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + sh * (oh - 1) + 1:sh,
                       j:j + sw * (ow - 1) + 1:sw]
            y += numpy.einsum('nchw,oc->nohw', patch, w[:, :, i, j])
    return y + b[None, :, None, None]


def max_pool_cover_all(x, geometry):
    """Max pooling whose windows cover every input position (ceil mode)."""
    (kh, kw), (sh, sw), (ph, pw) = geometry
    n, c, h, wd = x.shape
    oh = -(-(h + 2 * ph - kh) // sh) + 1
    ow = -(-(wd + 2 * pw - kw) // sw) + 1
    full_h = (oh - 1) * sh + kh
    full_w = (ow - 1) * sw + kw
    xp = numpy.full((n, c, max(full_h, h + 2 * ph), max(full_w, wd + 2 * pw)),
                    -numpy.inf)
    xp[:, :, ph:ph + h, pw:pw + wd] = x
    y = numpy.full((n, c, oh, ow), -numpy.inf)
    for i in range(kh):
        for j in range(kw):
            y = numpy.maximum(y, xp[:, :, i:i + sh * (oh - 1) + 1:sh,
                                    j:j + sw * (ow - 1) + 1:sw])
    return y


def bn(x, p, prefix):
    g, be = p[prefix + '/gamma'], p[prefix + '/beta']
    m, v = p[prefix + '/avg_mean'], p[prefix + '/avg_var']
    s = g / numpy.sqrt(v + EPS)
    return x * s[None, :, None, None] + (be - m * s)[None, :, None, None]


def relu(x):
    return numpy.maximum(x, 0)


def stream(x, p, name):
    g = GEOMETRY[name]

    def c(h, layer, geometry):
        return conv(h, p[layer + '/W'], p[layer + '/b'], geometry)

    pre = name + '/conv1_relu/'
    h = relu(bn(c(x, pre + 'conv', g['conv1']), p, pre + 'bn_conv'))
    h = max_pool_cover_all(h, g['pool'])
    for block in BLOCKS:
        pre = '{}/{}_relu/'.format(name, block)
        first = g['down'] if block in DOWN else g['block']
        r = relu(bn(c(h, pre + 'res_branch2a', first), p, pre + 'bn_branch2a'))
        r = bn(c(r, pre + 'res_branch2b', g['block']), p, pre + 'bn_branch2b')
        if block in DOWN:
            s = bn(c(h, pre + 'res_branch1', g['short']), p, pre + 'bn_branch1')
        else:
            s = h
        h = relu(r + s)
    return h.mean(axis=(2, 3))


def predict(params, audio, frames):
    """audio (n,) float32; frames (T, H, W, 3) uint8 -> (5,) traits."""
    a = stream(audio.astype(numpy.float64)[None, None, None, :], params,
               'aud')[0]
    x = frames.astype(numpy.float64).transpose(0, 3, 1, 2)
    v = stream(x, params, 'vis').mean(axis=0)
    h = numpy.concatenate([a, v])
    y = params['fc/W'] @ h + params['fc/b']
    return (numpy.tanh(y) + 1) / 2


# -- the release's weight-file layout, from ORIGINAL_RELEASE.md ---------------

CHANNELS = {'conv1': 32, 'res2': 32, 'res3': 64, 'res4': 128, 'res5': 256}


def release_shapes():
    """``{key: shape}`` of the release's 282 arrays, built from the spec."""
    shapes = {'fc/W': (5, 512), 'fc/b': (5,)}
    for name, in_ch, (kh, kw) in (('aud', 1, (1, 49)), ('vis', 3, (7, 7))):
        bk = (1, 9) if name == 'aud' else (3, 3)

        def conv_bn(prefix, conv, bnname, cin, cout, k):
            shapes['{}/{}/W'.format(prefix, conv)] = (cout, cin) + k
            shapes['{}/{}/b'.format(prefix, conv)] = (cout,)
            for p in ('gamma', 'beta', 'avg_mean', 'avg_var'):
                shapes['{}/{}/{}'.format(prefix, bnname, p)] = (cout,)
            shapes['{}/{}/N'.format(prefix, bnname)] = ()

        conv_bn(name + '/conv1_relu', 'conv', 'bn_conv', in_ch, 32, (kh, kw))
        cin = 32
        for block in BLOCKS:
            cout = CHANNELS[block[:4]]
            prefix = '{}/{}_relu'.format(name, block)
            conv_bn(prefix, 'res_branch2a', 'bn_branch2a', cin, cout, bk)
            conv_bn(prefix, 'res_branch2b', 'bn_branch2b', cout, cout, bk)
            if block in DOWN:
                conv_bn(prefix, 'res_branch1', 'bn_branch1', cin, cout, (1, 1))
            cin = cout
    return shapes


def random_release_weights(seed=0):
    """Random arrays in the release's layout, with non-trivial BN averages.

    Weights are scaled (He-like) so activations stay in a sane range through
    17 layers; BN statistics are random so that any mistake in test-mode
    normalisation shows.
    """
    rng = numpy.random.RandomState(seed)
    params = {}
    for key, shape in release_shapes().items():
        leaf = key.rsplit('/', 1)[1]
        if leaf == 'W':
            fan_in = int(numpy.prod(shape[1:]))
            value = rng.normal(0, numpy.sqrt(2.0 / fan_in), shape)
        elif leaf == 'b':
            value = rng.normal(0, 0.1, shape)
        elif leaf == 'gamma':
            value = rng.uniform(0.5, 1.5, shape)
        elif leaf == 'beta':
            value = rng.normal(0, 0.2, shape)
        elif leaf == 'avg_mean':
            value = rng.normal(0, 1.0, shape)
        elif leaf == 'avg_var':
            value = rng.uniform(0.5, 4.0, shape)
        else:  # N
            value = numpy.array(rng.randint(1, 1000))
        params[key] = numpy.asarray(value, dtype=numpy.int64 if leaf == 'N'
                                    else numpy.float32)
    # The first layers see 0-255 pixels and [-1, 1] samples: give their BN
    # averages a matching scale so the network is not saturated.
    # Keep the FC output away from tanh's flat ends, so errors show.
    params['fc/W'] *= 0.05
    for name, scale in (('vis', 100.0), ('aud', 0.3)):
        prefix = name + '/conv1_relu/bn_conv/'
        params[prefix + 'avg_var'] *= scale ** 2
        params[prefix + 'avg_mean'] *= scale
    return params


def write_release_file(path, params, compress=True):
    """Write ``params`` as the release did: an npz without a suffix
    (``compress=False``: as loadable, and seconds faster to write)."""
    with open(path, 'wb') as f:
        (numpy.savez_compressed if compress else numpy.savez)(f, **params)
    return path
