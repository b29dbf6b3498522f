"""Download the wheels a bare GPU machine lacks into ``.whl/``.

The GPU machines lent to this project (one H200, Python 3.12, NumPy 2.5,
CuPy 14 for CUDA 13, PyTorch, SciPy, scikit-learn, OpenCV, ONNX Runtime,
mpi4py, numba and more) reach no package index, and what they lack travels
as wheels with the working tree: 64 MiB at most, tree included. They lack
Chainer, librosa and the small packages librosa needs that the machine has
not, resampy and imageio-ffmpeg (:data:`MISSING`).

Each wheel is the version installed where this script runs (the versions
the tests passed with; imageio-ffmpeg excepted, see
:data:`OTHER_VERSIONS`), for CPython 3.12 on manylinux x86_64; Chainer 7.8.1
has only a source archive on the package index, so its wheel is built
here (``pip wheel --no-deps --no-build-isolation``: its setup.py needs
``pkg_resources``, which the isolated build's current setuptools lacks).
Wheels of other versions in ``.whl/`` are removed (two versions of one
package stop the install there). Prints the list and the total size, and
fails when wheels and working tree together pass the limit.

Usage (from the repository root, with the package's virtual environment)::

    .venv/bin/python experiments/gpu_wheels.py [--dest .whl] [--mpi]

then ``experiments/gpu_check.sh`` on the GPU machine installs them.
"""

import argparse
import glob
import os
import re
import subprocess
import sys
from importlib import metadata

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

#: What the GPU machine lacks: (distribution, why the package needs it).
MISSING = (
    ('chainer', 'the framework of the whole package'),
    ('librosa', "explain's log-mel spectrogram"),
    ('soxr', 'librosa: resampling'),
    ('audioread', 'librosa: imported by librosa.core.audio'),
    ('soundfile', 'librosa: imported by librosa.core.audio'),
    ('cffi', 'soundfile: its binding to libsndfile'),
    ('pycparser', 'cffi'),
    ('pooch', 'librosa: example data (imported at start)'),
    ('platformdirs', 'pooch'),
    ('decorator', 'librosa'),
    ('resampy', 'predict --decode release (kaiser_best resampling)'),
    ('imageio-ffmpeg', 'the bundled ffmpeg binary that decodes every video'),
)
#: Versions other than the one installed here, and why.
OTHER_VERSIONS = {
    # 0.8.1's wheel alone is 65 MiB (its ffmpeg 9 build), over the limit;
    # 0.6.0's is 28 MiB and meets the package's requirement (>= 0.5).
    'imageio-ffmpeg': '0.6.0',
}
#: ``--mpi``: an MPI with its mpiexec, for the 2-rank tests (the machine
#: has mpi4py, not necessarily an mpiexec).
MPI = (('mpich', 'an MPI and its mpiexec for the 2-rank tests'),)

#: The target: CPython 3.12 on manylinux x86_64 (pip matches each
#: manylinux tag exactly, so name the common ones).
PYTHON_VERSION = '3.12'
PLATFORMS = ('manylinux_2_28_x86_64', 'manylinux_2_27_x86_64',
             'manylinux_2_17_x86_64', 'manylinux2014_x86_64',
             'manylinux1_x86_64')
#: Wheels and the working tree travel together within 64 MiB.
LIMIT_BYTES = 64 * 2 ** 20
MIB = 2 ** 20


def pinned(names, version=metadata.version, other=OTHER_VERSIONS):
    """``[(name, version)]``: each distribution at the version installed
    here (``version(name)``) or, for those in ``other``, that version;
    raises SystemExit naming what is missing."""
    out, absent = [], []
    for name in names:
        try:
            out.append((name, other.get(name) or version(name)))
        except metadata.PackageNotFoundError:
            absent.append(name)
    if absent:
        raise SystemExit('gpu_wheels: not installed here: {} (install the '
                         "package's dependencies first)".format(
                             ', '.join(absent)))
    return out


def download_command(name, version, dest, python=sys.executable):
    """The pip command that fetches one wheel for the GPU machine (or, for
    Chainer, builds it here)."""
    if name == 'chainer':
        return [python, '-m', 'pip', 'wheel', '-q', '--no-deps',
                '--no-build-isolation', '-w', dest,
                '{}=={}'.format(name, version)]
    cmd = [python, '-m', 'pip', 'download', '-q', '--no-deps',
           '--only-binary=:all:', '--python-version', PYTHON_VERSION,
           '--implementation', 'cp']
    for platform in PLATFORMS:
        cmd += ['--platform', platform]
    return cmd + ['-d', dest, '{}=={}'.format(name, version)]


def _canonical(name):
    return re.sub(r'[-_.]+', '_', name).lower()


def wheel_key(filename):
    """``(distribution, version)`` of a wheel file name, the distribution
    normalised (``imageio_ffmpeg-0.8.1-py3-none-...whl`` ->
    ``('imageio_ffmpeg', '0.8.1')``)."""
    parts = os.path.basename(filename).split('-')
    return _canonical(parts[0]), parts[1]


def stale_wheels(files, wanted):
    """The wheel files that are not one of ``wanted`` ``[(name,
    version)]``: other versions, or packages no longer needed."""
    keep = {(_canonical(n), v) for n, v in wanted}
    return [f for f in files if wheel_key(f) not in keep]


def tree_bytes(root=ROOT):
    """Bytes of the files git tracks under ``root`` (what travels beside
    the wheels; 0 outside a git checkout)."""
    try:
        names = subprocess.run(
            ['git', 'ls-files', '-z'], cwd=root, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    total = 0
    for name in names.decode().split('\0'):
        path = os.path.join(root, name)
        if name and os.path.isfile(path):
            total += os.path.getsize(path)
    return total


def size_report(files, tree, limit=LIMIT_BYTES):
    """``(lines, ok)``: one line per wheel with its size, the total, and
    whether wheels plus ``tree`` bytes stay under ``limit``."""
    lines, total = [], 0
    for f in sorted(files, key=os.path.basename):
        size = os.path.getsize(f)
        total += size
        lines.append('{:8.2f} MiB  {}'.format(size / MIB,
                                              os.path.basename(f)))
    ok = total + tree < limit
    lines.append('{:8.2f} MiB  {} wheels; with the working tree ({:.2f} '
                 'MiB): {:.2f} of {:.0f} MiB{}'.format(
                     total / MIB, len(files), tree / MIB,
                     (total + tree) / MIB, limit / MIB,
                     '' if ok else ' -- OVER THE LIMIT'))
    return lines, ok


def write_report(path, files, tree, ok):
    """The wheels and their sizes as JSON (``command``, ``commit``,
    ``machine``, ``wheels``, totals in MiB)."""
    import platform
    sys.path.insert(0, ROOT)
    from deep_impression import fileio
    commit = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=ROOT,
                            stdout=subprocess.PIPE, timeout=60).stdout
    wheels = {os.path.basename(f): round(os.path.getsize(f) / MIB, 3)
              for f in sorted(files)}
    fileio.write_json(path, {
        'command': ' '.join(['python'] + sys.argv),
        'commit': commit.decode().strip(),
        'machine': '{}, Python {} (the wheels: CPython {} manylinux '
                   'x86_64)'.format(platform.machine(),
                                    platform.python_version(),
                                    PYTHON_VERSION),
        'wheels_mib': wheels, 'total_mib': round(sum(wheels.values()), 2),
        'tree_mib': round(tree / MIB, 2), 'limit_mib': LIMIT_BYTES / MIB,
        'within_limit': ok})


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--dest', default=os.path.join(ROOT, '.whl'))
    p.add_argument('--mpi', action='store_true',
                   help='also the mpich wheel (mpiexec) for the 2-rank tests')
    p.add_argument('--json', default=None, metavar='FILE',
                   help='also write the list and sizes as JSON')
    p.add_argument('--list', action='store_true',
                   help='print the pinned list and the commands only')
    args = p.parse_args(argv)
    wanted = pinned([n for n, _ in MISSING + (MPI if args.mpi else ())])
    if args.list:
        for name, version in wanted:
            print(' '.join(download_command(name, version, args.dest)))
        return 0
    os.makedirs(args.dest, exist_ok=True)
    for f in stale_wheels(glob.glob(os.path.join(args.dest, '*.whl')),
                          wanted):
        print('removing {}'.format(os.path.basename(f)))
        os.remove(f)
    present = {wheel_key(f) for f in glob.glob(os.path.join(args.dest,
                                                            '*.whl'))}
    for name, version in wanted:
        if (_canonical(name), version) in present:
            continue
        print('fetching {}=={}'.format(name, version), flush=True)
        # pip's own timeouts bound each download; the build of Chainer's
        # wheel is pure Python (seconds).
        subprocess.run(download_command(name, version, args.dest),
                       check=True, timeout=900)
    files = glob.glob(os.path.join(args.dest, '*.whl'))
    missing = [n for n, v in wanted
               if (_canonical(n), v) not in {wheel_key(f) for f in files}]
    tree = tree_bytes()
    lines, ok = size_report(files, tree)
    print('\n'.join(lines))
    if args.json:
        write_report(args.json, files, tree, ok)
    if missing:
        print('gpu_wheels: no wheel for {}'.format(', '.join(missing)),
              file=sys.stderr)
        return 1
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
