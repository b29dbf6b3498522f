"""The tools of the GPU check, on the CPU: the wheel list of
experiments/gpu_wheels.py (nothing downloaded) and
experiments/benchmark_gpu.py at tiny sizes on @numpy."""

import json
import os
import sys

import numpy
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'experiments'))
import benchmark_gpu  # noqa: E402
import gpu_wheels  # noqa: E402


def test_the_list_names_what_the_gpu_machine_lacks():
    names = [n for n, _ in gpu_wheels.MISSING]
    for name in ('chainer', 'librosa', 'resampy', 'imageio-ffmpeg', 'soxr',
                 'audioread', 'soundfile', 'pooch'):
        assert name in names
    # The machine has these: carrying them would only add megabytes.
    for name in ('numpy', 'scipy', 'onnxruntime', 'torch', 'numba'):
        assert name not in names
    assert len(set(names)) == len(names)


def test_versions_are_those_installed_here_unless_named():
    versions = {'chainer': '7.8.1', 'librosa': '0.11.0',
                'imageio-ffmpeg': '0.8.1'}
    got = gpu_wheels.pinned(['chainer', 'librosa', 'imageio-ffmpeg'],
                            version=versions.__getitem__,
                            other={'imageio-ffmpeg': '0.6.0'})
    assert got == [('chainer', '7.8.1'), ('librosa', '0.11.0'),
                   ('imageio-ffmpeg', '0.6.0')]
    with pytest.raises(SystemExit, match='not-a-package'):
        gpu_wheels.pinned(['not-a-package'])


def test_download_commands_target_python_312_manylinux():
    cmd = gpu_wheels.download_command('librosa', '0.11.0', '.whl')
    assert cmd[1:4] == ['-m', 'pip', 'download']
    assert cmd[-1] == 'librosa==0.11.0'
    for flag in ('--no-deps', '--only-binary=:all:'):
        assert flag in cmd
    assert cmd[cmd.index('--python-version') + 1] == '3.12'
    platforms = [cmd[i + 1] for i, a in enumerate(cmd) if a == '--platform']
    assert 'manylinux2014_x86_64' in platforms
    assert all(p.endswith('_x86_64') for p in platforms)
    # Chainer: a source archive only, built here without isolation.
    chainer = gpu_wheels.download_command('chainer', '7.8.1', '.whl')
    assert chainer[3] == 'wheel' and '--no-build-isolation' in chainer
    assert chainer[-1] == 'chainer==7.8.1'


def test_other_versions_are_stale_and_sizes_add_up(tmp_path):
    names = ['imageio_ffmpeg-0.8.1-py3-none-manylinux_2_28_x86_64.whl',
             'imageio_ffmpeg-0.6.0-py3-none-manylinux2014_x86_64.whl',
             'chainer-7.8.1-py3-none-any.whl', 'mpich-5.0.2-py3-none.whl']
    files = []
    for k, name in enumerate(names):
        path = tmp_path / name
        path.write_bytes(b'x' * (1000 * (k + 1)))
        files.append(str(path))
    wanted = [('imageio-ffmpeg', '0.6.0'), ('chainer', '7.8.1')]
    assert sorted(map(os.path.basename, gpu_wheels.stale_wheels(
        files, wanted))) == sorted([names[0], names[3]])
    lines, ok = gpu_wheels.size_report(files[1:3], tree=500, limit=6000)
    assert ok and '2 wheels' in lines[-1]
    assert lines[0].endswith(names[2])          # sorted by name
    _, ok = gpu_wheels.size_report(files[1:3], tree=1000, limit=6000)
    assert not ok                               # 2000 + 3000 + 1000


def test_benchmark_runs_on_the_cpu_and_writes_json(tmp_path,
                                                   synthetic_store):
    path = str(tmp_path / 'bench.json')
    assert benchmark_gpu.main([
        '--device', '@numpy', '--batchsize', '2', '--frame-crop', '32',
        '--audio-crop', '1024', '--clip-seconds', '0.12', '--frame-size',
        '48x64', '--repeats', '1', '--warmup', '0', '--store',
        synthetic_store, '--loaders', '0', '--wait-updates', '1',
        '--json', path]) == 0
    with open(path) as f:
        report = json.load(f)
    for key in ('command', 'commit', 'machine'):
        assert report[key]
    assert report['settings']['clip_frames'] == 3       # 0.12 s at 25/s
    assert report['package']['train_ms_per_example'] > 0
    assert report['package']['eval_ms_per_clip'] > 0
    assert 0 <= report['data_wait']['share'] <= 1
    try:
        import torch  # noqa: F401
    except ImportError:
        assert 'torch does not import' in report['pytorch']['skipped']
        assert 'ratio' not in report
    else:
        # The same weights in both frameworks: the same traits.
        assert report['pytorch']['max_abs_difference'] < 1e-4
        assert report['ratio']['eval_ms_per_clip'] > 0


def test_summary_names_the_ratio():
    report = {'device': '@cupy:0', 'settings': {'clip_seconds': 15.0},
              'package': {'train_ms_per_example': 3.8,
                          'eval_ms_per_clip': 140.0},
              'pytorch': {'torch': '2.11', 'train_ms_per_example': 0.76,
                          'eval_ms_per_clip': 28.0,
                          'max_abs_difference': 2e-6},
              'ratio': {'train_ms_per_example': 5.0,
                        'eval_ms_per_clip': 5.0},
              'data_wait': {'share': 0.25, 'updates': 10,
                            'ms_per_update': 160.0, 'loaders': 4}}
    lines = benchmark_gpu.summary_lines(report)
    assert lines[0] == ('device @cupy:0: package 3.80 ms per training '
                        'example, 140.0 ms per 15-s clip')
    assert 'package / PyTorch 5.00 (train), 5.00 (clip)' in lines[1]
    assert lines[2].startswith('data wait: 25% of 10 updates')


def test_frame_size_must_be_h_by_w():
    with pytest.raises(SystemExit):
        benchmark_gpu.parse_args(['--frame-size', '256'])
    assert benchmark_gpu.clip(1.0, (8, 12))[1].shape == (25, 8, 12, 3)
    assert numpy.float32 == benchmark_gpu.clip(1.0, (8, 12))[0].dtype
