"""Shared fixtures: one tiny synthetic release and its clip store per session.

``synthetic_raw``: a synthetic ChaLearn-format release (6 training, 2
validation, 2 test clips of 2 s, 160x90 at 30 frames/s, seed 7), as the
archives extract. ``synthetic_store``: the clip store preprocessing made of
it (456x256 frames at 25 frames/s, 16 kHz audio). Treat both as read-only;
copy them to change anything.
"""

import os

import pytest

#: Parameters of the session's synthetic release.
SYNTHETIC = dict(train=6, val=2, test=2, seconds=2.0, size=(160, 90), fps=30,
                 seed=7)


@pytest.fixture(scope='session', autouse=True)
def onnx_cache(tmp_path_factory):
    """The ONNX export cache of every test (and of the processes they
    start): a fresh folder, never the user's ``~/.cache``."""
    path = str(tmp_path_factory.mktemp('onnx-cache'))
    before = os.environ.get('DEEP_IMPRESSION_CACHE')
    os.environ['DEEP_IMPRESSION_CACHE'] = path
    yield path
    if before is None:
        os.environ.pop('DEEP_IMPRESSION_CACHE', None)
    else:
        os.environ['DEEP_IMPRESSION_CACHE'] = before


@pytest.fixture(scope='session')
def synthetic_raw(tmp_path_factory):
    """Path (str) of the session's synthetic raw release."""
    from deep_impression.data.synth import make_dataset
    path = tmp_path_factory.mktemp('synthetic') / 'raw'
    make_dataset(str(path), jobs=2, **SYNTHETIC)
    return str(path)


@pytest.fixture(scope='session')
def synthetic_store(synthetic_raw, tmp_path_factory):
    """Path (str) of the clip store made from ``synthetic_raw``."""
    from deep_impression.data.preprocess import preprocess
    path = tmp_path_factory.mktemp('synthetic') / 'store'
    summary = preprocess(synthetic_raw, str(path), jobs=2)
    assert not summary['failed'], summary['failed']
    return str(path)
