"""Crafted files and names run nothing and read nothing the user did not
name (issue 23, items 1-3):

1. every ``.npz``/``.npy`` is read with pickles refused: a snapshot, a
   feature cache or a store file whose object array would run code when
   unpickled is refused in one line naming it, and the code never runs;
2. a file named like an ffmpeg protocol (``concat:``, ``file:``,
   ``subfile,,...:``, ``pipe:``) is decoded as that file, not as another;
3. a cached ONNX export is served only for the weights it was exported
   from;

and (item 12) a run whose snapshots are all unreadable is not restarted
over them unless asked.
"""

import hashlib
import os
import shutil

from deep_impression import _compat  # noqa: F401  (before chainer)

import chainer
import chainer.links as L
import numpy
import pytest

from deep_impression import cli, fileio, media, training
from deep_impression.constants import SAMPLE_RATE
from deep_impression.data import store as clip_store
from deep_impression.data.features import FeatureCache
from deep_impression.errors import DeepImpressionError
from deep_impression.inference import backends
from deep_impression.inference.predict import provenance
from deep_impression.models.weights import SHORT_DIGEST, load_model

import clips
import reference


# -- 1. pickles refused -------------------------------------------------------

class _CreatesAFile(object):
    """Unpickling this calls ``open(path, 'w')``: the file appears."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


def _object_array(marker):
    array = numpy.empty((), dtype=object)
    array[()] = _CreatesAFile(marker)
    return array


def _tiny_trainer(out):
    model = L.Classifier(L.Linear(2, 2))
    optimizer = chainer.optimizers.SGD()
    optimizer.setup(model)
    data = [(numpy.zeros(2, numpy.float32), numpy.int32(0))] * 2
    iterator = chainer.iterators.SerialIterator(data, 2)
    updater = chainer.training.StandardUpdater(iterator, optimizer)
    return chainer.training.Trainer(updater, (1, 'epoch'), out=out)


def test_crafted_snapshot_is_refused_and_runs_nothing(tmp_path):
    marker = str(tmp_path / 'created-by-the-snapshot')
    snapshot = str(tmp_path / 'snapshot_epoch_0001')
    numpy.savez(snapshot, **{'updater/iteration': _object_array(marker)})
    os.rename(snapshot + '.npz', snapshot)
    # The file is what the issue says: unpickled, it creates the marker.
    with numpy.load(snapshot, allow_pickle=True) as npz:
        npz['updater/iteration']
    assert os.path.exists(marker)
    os.remove(marker)

    trainer = _tiny_trainer(str(tmp_path))
    with pytest.raises(DeepImpressionError) as e:
        training.resume(trainer)
    assert str(e.value) == (
        '{}: updater/iteration is an object array (a pickle, which could run '
        'code when loaded); refused'.format(snapshot))
    assert not os.path.exists(marker)
    assert trainer.updater.iteration == 0


def test_resume_stops_when_no_snapshot_can_be_read(tmp_path, capsys):
    out = str(tmp_path)
    damaged = {}
    for epoch in (1, 2):
        path = os.path.join(out, 'snapshot_epoch_{:04d}'.format(epoch))
        damaged[path] = b'PK\x03\x04 cut short ' + bytes([epoch])
        with open(path, 'wb') as f:
            f.write(damaged[path])
    trainer = _tiny_trainer(out)
    with pytest.raises(DeepImpressionError) as e:
        training.run_trainer(trainer, resume_run=True)
    message = str(e.value)
    assert '\n' not in message and message.startswith(
        '{}: none of its 2 snapshot(s) can be read (newest: {}'.format(
            out, max(damaged)))
    assert '--restart-if-unreadable' in message
    # Nothing ran, nothing was overwritten.
    assert trainer.updater.iteration == 0
    for path, data in damaged.items():
        with open(path, 'rb') as f:
            assert f.read() == data
    # Asked for, it starts afresh (and says why, one line per snapshot).
    assert training.resume(_tiny_trainer(out),
                           restart_if_unreadable=True) is None
    assert capsys.readouterr().err.count('cannot resume from') == 4
    with pytest.raises(SystemExit):
        cli.main(['train', '--help'])
    assert '--restart-if-unreadable' in capsys.readouterr().out


def test_crafted_store_and_feature_cache_files_are_refused(
        tmp_path, synthetic_store):
    marker = str(tmp_path / 'created')
    root = str(tmp_path / 'store')
    shutil.copytree(synthetic_store, root)
    store = clip_store.ClipStore(root)
    clip_id = store.clip_ids('train')[0]
    numpy.save(clip_store.audio_path(root, clip_id), _object_array(marker),
               allow_pickle=True)
    with pytest.raises(DeepImpressionError, match='object array'):
        store.audio(clip_id)
    base = str(tmp_path / 'base')  # only its digest names the cache
    with open(base, 'wb') as f:
        f.write(b'weights')
    cache = FeatureCache(root, base)
    os.makedirs(cache.root)
    numpy.save(cache.path(clip_id), _object_array(marker), allow_pickle=True)
    with pytest.raises(DeepImpressionError) as e:
        cache.get(clip_id)
    assert str(e.value).startswith(cache.path(clip_id) + ': ')
    assert 'object array' in str(e.value)
    assert not os.path.exists(marker)


def test_no_module_calls_a_loader_that_allows_pickles():
    # Chainer's load_npz allows pickles (fileio.load_npz is the package's
    # one loader into Chainer objects); NumPy's own default refuses them.
    package = os.path.dirname(os.path.dirname(os.path.abspath(
        fileio.__file__)))
    offenders = []
    for root, _, files in [entry for top in ('deep_impression', 'experiments')
                           for entry in os.walk(os.path.join(package, top))]:
        for name in files:
            if name.endswith('.py'):
                path = os.path.join(root, name)
                with open(path, encoding='utf-8') as f:
                    text = f.read()
                if 'serializers.load_npz(' in text or \
                        'allow_pickle=True' in text:
                    offenders.append(path)
    assert offenders == []


# -- 2. file names that look like ffmpeg protocols ----------------------------

PROTOCOL_NAMES = ['concat:other.mp4', 'file:other.mp4', 'pipe:0.mp4',
                  'subfile,,start,0,end,0,,:other.mp4', 'meeting:2024.mp4']


@pytest.fixture(scope='module')
def named_like_protocols(tmp_path_factory):
    """A folder with ``other.mp4`` (1.5 s, 160x90) and files named
    :data:`PROTOCOL_NAMES` that are another clip (1.2 s, 128x96)."""
    d = tmp_path_factory.mktemp('protocols')
    clips.make_clip(d / 'other.mp4')
    own = clips.make_clip(d / 'own.mp4', seconds=1.2, size=(128, 96),
                          tone=440)
    for name in PROTOCOL_NAMES:
        shutil.copy(own, str(d / name))
    return str(d)


@pytest.mark.parametrize('name', PROTOCOL_NAMES)
def test_a_name_means_the_file_of_that_name(named_like_protocols, name,
                                            monkeypatch):
    monkeypatch.chdir(named_like_protocols)
    info = media.probe(name)                  # relative, as typed
    assert (info.width, info.height) == (128, 96)
    assert info.duration == pytest.approx(1.2, abs=0.05)
    absolute = os.path.join(named_like_protocols, name)
    assert media.probe(absolute) == info


def test_every_decoder_reads_the_named_file(named_like_protocols,
                                            monkeypatch):
    monkeypatch.chdir(named_like_protocols)
    name = 'concat:other.mp4'
    frames = media.read_frames(name, fps=10)
    assert len(frames) == 12 == media.count_frames(name, fps=10)
    assert len(media.decode_audio(name)) == pytest.approx(
        1.2 * SAMPLE_RATE, abs=0.05 * SAMPLE_RATE)
    assert media.ffmpeg_path(name) == 'file:' + os.path.join(
        named_like_protocols, name)


# -- 3. the ONNX export cache serves only its own weights ---------------------

def test_an_export_copied_from_other_weights_is_exported_again(
        tmp_path, capsys):
    a = reference.write_release_file(
        str(tmp_path / 'a'), reference.random_release_weights(seed=1),
        compress=False)
    b = reference.write_release_file(
        str(tmp_path / 'b'), reference.random_release_weights(seed=2),
        compress=False)
    cache = str(tmp_path / 'cache')
    backends.load_cached_export(a, cache)
    a_parts = backends.cached_export_paths(a, cache)
    b_parts = backends.cached_export_paths(b, cache)
    os.makedirs(os.path.dirname(b_parts['fusion']))
    for part in a_parts:
        shutil.copy(a_parts[part], b_parts[part])
    capsys.readouterr()

    served = backends.load_cached_export(b, cache)
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'exported from other weights' in err
    assert 'exporting {} again'.format(b) in err
    rng = numpy.random.RandomState(0)
    audio = rng.uniform(-1, 1, 3001).astype(numpy.float32)
    frames = rng.randint(0, 256, (2, 65, 97, 3)).astype(numpy.uint8)
    chainer_b, chainer_a = load_model(b), load_model(a)
    numpy.testing.assert_allclose(served.predict(audio, frames),
                                  chainer_b.predict(audio, frames),
                                  atol=1e-4)
    assert numpy.abs(chainer_a.predict(audio, frames) -
                     chainer_b.predict(audio, frames)).max() > 1e-3
    with open(b, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    assert provenance(served)['weights_sha256'] == digest[:SHORT_DIGEST]
    # The cache now holds B's own export: served again without a word.
    backends.load_cached_export(b, cache)
    assert capsys.readouterr().err == ''
