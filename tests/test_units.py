"""Units of the visual stream (Ventura et al. 2017, §4.4): top frames,
spatial histograms pooled to 14x14, face-region rankings."""

import numpy
import pytest

from deep_impression import _compat  # noqa: F401
from deep_impression.interpret import units
from deep_impression.visualizations import interpretation as figures
from deep_impression.interpret.fields import ReceptiveField
from deep_impression.models.audiovisual import AudiovisualNetwork


class FakeSource(object):
    """Random small frames, two clips."""

    def __init__(self, size=(64, 64), n=5):
        rng = numpy.random.RandomState(0)
        self.clip_ids = ['a', 'b']
        self.fps = 25
        self.name = 'fake'
        self._frames = {c: rng.randint(0, 256, (n,) + size + (3,))
                        .astype(numpy.uint8) for c in self.clip_ids}

    def num_frames(self, clip_id):
        return len(self._frames[clip_id])

    def frames(self, clip_id, indices):
        return self._frames[clip_id][numpy.asarray(indices, int)]


def _pool_with(hist, field, length):
    Py = units.pooling_matrix(hist.shape[-2], field.jump[0], field.start[0],
                              length)
    Px = units.pooling_matrix(hist.shape[-1], field.jump[1], field.start[1],
                              length)
    return numpy.einsum('iy,...yx,jx->...ij', Py, hist, Px)


def test_pooling_adds_the_cells_of_a_finer_grid():
    # A 28x28 grid of 8-pixel squares tiling a 224-pixel frame: each 14x14
    # cell adds a 2x2 block, as the paper pools conv layers.
    rng = numpy.random.RandomState(0)
    hist = rng.randint(0, 5, (3, 28, 28)).astype(float)
    field = ReceptiveField((1, 1), (8, 8), (3.5, 3.5))
    expected = hist.reshape(3, 14, 2, 14, 2).sum(axis=(2, 4))
    numpy.testing.assert_allclose(_pool_with(hist, field, 224), expected,
                                  atol=1e-12)


def test_pooling_splits_the_cells_of_a_coarser_grid():
    hist = numpy.arange(49, dtype=float).reshape(7, 7)
    field = ReceptiveField((1, 1), (32, 32), (15.5, 15.5))
    expected = numpy.kron(hist, numpy.ones((2, 2))) / 4
    numpy.testing.assert_allclose(_pool_with(hist, field, 224), expected,
                                  atol=1e-12)


@pytest.mark.parametrize('layer,grid', [('res5b_relu', (8, 8)),
                                        ('pool1', (57, 57)),
                                        ('res4b_relu', (9, 15))])
def test_pooling_keeps_every_count(layer, grid):
    rng = numpy.random.RandomState(1)
    hist = rng.randint(0, 3, grid).astype(float)
    frame = (224, 224) if grid[0] == grid[1] else (256, 456)
    pooled = units.pool_histogram(hist, layer, frame)
    assert pooled.shape == (14, 14)
    assert pooled.sum() == pytest.approx(hist.sum())


def test_top_frames_and_location_histograms():
    rng = numpy.random.RandomState(2)
    maxima = rng.rand(30, 4)
    argmax = rng.randint(0, 6, (30, 4))
    top = units.top_frames(maxima, 5)
    assert top.shape == (4, 5)
    for u in range(4):
        ranked = sorted(range(30), key=lambda r: -maxima[r, u])[:5]
        assert list(top[u]) == ranked
    hist = units.location_histograms(argmax, top, (2, 3))
    for u in range(4):
        expected = numpy.zeros(6)
        for r in top[u]:
            expected[argmax[r, u]] += 1
        numpy.testing.assert_array_equal(hist[u].ravel(), expected)


def test_region_masks_and_ranking():
    masks = units.region_masks()
    assert set(masks) == {'eyebrows', 'eyes', 'nose', 'mouth'}
    # The regions do not overlap and run top to bottom.
    total = sum(m.astype(int) for m in masks.values())
    assert total.max() == 1
    rows = {name: numpy.nonzero(m.any(axis=1))[0]
            for name, m in masks.items()}
    assert rows['eyebrows'].max() < rows['eyes'].min()
    assert rows['eyes'].max() < rows['nose'].min()
    assert rows['nose'].max() < rows['mouth'].min()
    # Unit 1 puts all its maxima on the mouth, unit 0 half of them.
    pooled = numpy.zeros((3, 14, 14))
    mouth = numpy.argwhere(masks['mouth'])[0]
    pooled[1][tuple(mouth)] = 50
    pooled[0][tuple(mouth)] = 25
    pooled[0, 0, 0] = 25
    order, counts = units.rank_units(pooled, masks['mouth'])
    assert list(order) == [1, 0, 2] and list(counts) == [50, 25, 0]


def test_unit_responses_are_the_layer_maxima(tmp_path):
    import chainer
    model = AudiovisualNetwork()
    source = FakeSource()
    layers = ['res4b_relu', 'res5b_relu']
    resp = units.unit_responses(model, source, layers, frames_per_clip=3)
    assert len(resp.clip_ids) == 6
    frames = source.frames('b', resp.frame_indices[3:])
    with chainer.using_config('train', False):
        a = model.vis.extract(frames.transpose(0, 3, 1, 2).astype(
            numpy.float32), ['res5b_relu'])['res5b_relu'].array
    flat = a.reshape(3, 256, -1)
    numpy.testing.assert_allclose(resp.maxima['res5b_relu'][3:],
                                  flat.max(axis=2), rtol=1e-6)
    numpy.testing.assert_array_equal(resp.argmax['res5b_relu'][3:],
                                     flat.argmax(axis=2))
    assert resp.grids['res5b_relu'] == a.shape[2:]
    analysis = units.analyse(resp, top=4)
    layer = analysis['layers']['res5b_relu']
    assert layer['pooled'].shape == (256, 14, 14)
    numpy.testing.assert_allclose(layer['pooled'].sum(axis=(1, 2)), 4)
    # The figures draw from the same source.
    for path in (
            figures.unit_frames_figure(source, resp, analysis, 'res5b_relu',
                                       [0, 1], str(tmp_path / 'u.png'), n=3),
            figures.layer_histograms_figure(analysis,
                                            str(tmp_path / 'h.png')),
            figures.face_regions_figure(source, resp, analysis,
                                        'res5b_relu',
                                        str(tmp_path / 'r.png'))):
        with open(path, 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'
