"""Release-format weight files: layout, round trip, and refused files."""

import os
import zipfile

import numpy
import pytest

import deep_impression
from deep_impression.errors import WeightsError
from deep_impression.models.audiovisual import AudiovisualNetwork
from deep_impression.models.weights import (check_weights, expected_arrays,
                                     load_model, save_weights)

import reference


@pytest.fixture(scope='module')
def params():
    return reference.random_release_weights(seed=5)


@pytest.fixture
def release_file(tmp_path, params):
    return reference.write_release_file(str(tmp_path / 'model'), params)


def test_network_keys_and_shapes_are_the_releases():
    shapes = expected_arrays(AudiovisualNetwork())
    assert len(shapes) == 282
    assert shapes == reference.release_shapes()
    assert shapes['aud/res3a_relu/bn_branch1/avg_var'] == (64,)
    assert shapes['vis/conv1_relu/conv/W'] == (32, 3, 7, 7)
    assert shapes['aud/conv1_relu/conv/W'] == (32, 1, 1, 49)
    assert shapes['fc/W'] == (5, 512)


def test_release_file_fills_every_parameter_and_persistent(release_file,
                                                           params):
    net = load_model(release_file)
    loaded = {path.lstrip('/'): p.array for path, p in net.namedparams()}
    for link_path, link in net.namedlinks():
        for name in link._persistent:
            loaded[(link_path + '/' + name).lstrip('/')] = getattr(link, name)
    assert set(loaded) == set(params)
    for key, value in params.items():
        numpy.testing.assert_array_equal(numpy.asarray(loaded[key]), value,
                                         err_msg=key)


def test_save_gives_the_same_282_keys_and_values(tmp_path, release_file,
                                                 params):
    net = load_model(release_file)
    out = save_weights(net, str(tmp_path / 'again' / 'model'))
    with numpy.load(out) as npz:
        assert sorted(npz.files) == sorted(params)
        for key in npz.files:
            numpy.testing.assert_array_equal(npz[key], params[key])
    assert not [f for f in os.listdir(tmp_path / 'again') if f != 'model']


def test_suffix_or_not_and_environment_default(tmp_path, release_file,
                                               monkeypatch):
    with_suffix = str(tmp_path / 'model.npz')
    os.link(release_file, with_suffix)
    a = load_model(with_suffix).fc.W.array
    monkeypatch.setenv('DEEP_IMPRESSION_WEIGHTS', release_file)
    b = load_model().fc.W.array
    numpy.testing.assert_array_equal(a, b)


def test_load_model_is_in_cpu_test_mode_by_default(release_file):
    net = load_model(release_file, device='@numpy')
    assert net.xp is numpy


def _rewrite(path, params, **changes):
    new = dict(params)
    for key, value in changes.items():
        if value is None:
            del new[key.replace('__', '/')]
        else:
            new[key.replace('__', '/')] = value
    return reference.write_release_file(path, new)


def test_missing_file(tmp_path):
    with pytest.raises(WeightsError, match='no such weight file') as e:
        load_model(str(tmp_path / 'nothing'))
    assert 'nothing' in str(e.value)


def test_truncated_file(tmp_path, release_file):
    data = open(release_file, 'rb').read()
    path = str(tmp_path / 'cut')
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(WeightsError, match='cut'):
        load_model(path)


def test_not_an_npz(tmp_path):
    path = str(tmp_path / 'model.txt')
    with open(path, 'w') as f:
        f.write('hello')
    with pytest.raises(WeightsError, match='not an npz'):
        load_model(path)


def test_corrupt_member_inside_zip(tmp_path, params):
    path = str(tmp_path / 'bad')
    with zipfile.ZipFile(path, 'w') as z:
        z.writestr('fc/W.npy', b'not an array')
    with pytest.raises(WeightsError, match='bad'):
        check_weights(path)


def test_missing_key_named(tmp_path, params):
    path = _rewrite(str(tmp_path / 'm'), params,
                    aud__res5b_relu__bn_branch2b__gamma=None)
    with pytest.raises(WeightsError,
                       match=r'aud/res5b_relu/bn_branch2b/gamma .*missing'):
        load_model(path)


def test_extra_key_named(tmp_path, params):
    path = _rewrite(str(tmp_path / 'm'), params,
                    vis__extra__W=numpy.zeros((2, 2), 'f'))
    with pytest.raises(WeightsError, match=r'unexpected key vis/extra/W'):
        load_model(path)


def test_misshaped_key_names_both_shapes(tmp_path, params):
    path = _rewrite(str(tmp_path / 'm'), params,
                    fc__W=numpy.zeros((5, 256), 'f'))
    with pytest.raises(WeightsError) as e:
        load_model(path)
    message = str(e.value)
    assert 'fc/W' in message and '(5, 256)' in message
    assert '(5, 512)' in message


def test_public_api_names():
    for name in ('TRAITS', 'load_model', 'predict_video',
                 'AudiovisualNetwork', 'DeepImpressionError'):
        assert hasattr(deep_impression, name)


# -- which file is it: layout, git blob id, SHA-256 --------------------------

def _git_hash_object(path):
    """The git blob id as git itself computes it (None without git)."""
    import shutil
    import subprocess
    if shutil.which('git') is None:
        return None
    return subprocess.run(['git', 'hash-object', '--no-filters', path],
                          capture_output=True, text=True, check=True,
                          timeout=60).stdout.strip()


def test_digests_are_gits_blob_id_and_sha256(tmp_path):
    import hashlib
    from deep_impression.models.weights import file_digests
    path = str(tmp_path / 'blob')
    data = bytes(range(256)) * 9000 + b'tail'  # more than one 1 MiB block
    with open(path, 'wb') as f:
        f.write(data)
    sha256, blob = file_digests(path)
    assert sha256 == hashlib.sha256(data).hexdigest()
    assert blob == hashlib.sha1(b'blob 2304004\x00' + data).hexdigest()
    expected = _git_hash_object(path)
    if expected is not None:
        assert blob == expected
    empty = str(tmp_path / 'empty')
    open(empty, 'wb').close()
    # git's well-known id of the empty blob.
    assert file_digests(empty)[1] == 'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391'


def test_inspect_counts_parameters_and_tells_release(release_file,
                                                     monkeypatch):
    from deep_impression.models import weights
    info = weights.inspect_weights(release_file)
    with numpy.load(release_file) as npz:
        trainable = sum(npz[k].size for k in npz.files
                        if k.rsplit('/', 1)[-1] not in
                        ('avg_mean', 'avg_var', 'N'))
        assert info['arrays'] == len(npz.files) == 282
    assert info['parameters'] == trainable
    assert info['size'] == os.path.getsize(release_file)
    assert info['release'] is False
    # The id the authors' repository lists for its "model" (commit ad45d66).
    assert weights.RELEASE_GIT_BLOB_ID == (
        'f7d082d3e0d823d5e39dd308855ff946ef9f92d3')
    # A file is the release exactly when git's blob id of its bytes,
    # computed here by git's own formula, is the release's id.
    import hashlib
    with open(release_file, 'rb') as f:
        data = f.read()

    def blob_id(content):
        header = b'blob %d\x00' % len(content)
        return hashlib.sha1(header + content).hexdigest()

    monkeypatch.setattr(weights, 'RELEASE_GIT_BLOB_ID', blob_id(data))
    assert weights.inspect_weights(release_file)['release'] is True
    monkeypatch.setattr(weights, 'RELEASE_GIT_BLOB_ID',
                        blob_id(data[:-1] + bytes([data[-1] ^ 1])))
    assert weights.inspect_weights(release_file)['release'] is False


def test_weights_command(release_file, tmp_path, capsys):
    from deep_impression.cli import main
    import hashlib
    assert main(['weights', release_file]) == 0
    out = capsys.readouterr().out
    with open(release_file, 'rb') as f:
        assert hashlib.sha256(f.read()).hexdigest() in out
    assert 'layout ok (282 arrays' in out and 'release:     no' in out
    bad = str(tmp_path / 'junk')
    with open(bad, 'wb') as f:
        f.write(b'not a zip')
    assert main(['weights', bad]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and bad in err[0] and 'not an npz' in err[0]
