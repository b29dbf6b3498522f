"""What a new user meets first: README.rst, LICENSE, CITATION.cff, pip."""

import os
import shutil
import subprocess
import sys
import venv

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: The pip route README.rst documents ("Set up and run"), run as written
#: (with the environment's own interpreter in place of ``.venv/bin/``).
PIP_COMMANDS = (
    "python -m pip install -U 'pip>=26'",
    'python -m pip install --build-constraint build-constraints.txt .',
)


def read(name):
    with open(os.path.join(ROOT, name), encoding='utf-8') as f:
        return f.read()


def test_readme_renders_with_warnings_as_errors():
    import docutils.core
    import docutils.utils
    try:
        docutils.core.publish_doctree(
            read('README.rst'), source_path='README.rst',
            settings_overrides={'halt_level': 2, 'report_level': 2,
                                'warning_stream': False})
    except docutils.utils.SystemMessage as e:
        pytest.fail('README.rst does not render: {}'.format(e))


def test_readme_documents_the_pip_route_and_make():
    text = read('README.rst')
    for command in PIP_COMMANDS:
        assert command in text
    assert 'make install' in text
    assert 'Model card' in text


def test_license_is_mit_and_matches_setup():
    text = read('LICENSE')
    assert text.startswith('MIT License')
    assert 'Copyright (c) 2026 deep-impression developers' in text
    assert "license='MIT'" in read('setup.py')


def test_citation_cites_both_papers():
    text = read('CITATION.cff')
    assert text.startswith('#') and 'cff-version: 1.2.0' in text
    assert 'arXiv:1609.05119' in text
    assert 'Multimodal\n    Apparent Personality Trait Recognition' in text
    assert ('Interpreting CNN Models for Apparent Personality Trait '
            'Regression') in text
    # Every line is "key: value", a list item or a folded continuation: no
    # tabs, which YAML forbids.
    assert '\t' not in text


def test_build_constraint_keeps_pkg_resources():
    lines = [line.strip() for line in read('build-constraints.txt')
             .splitlines() if line.strip() and not line.startswith('#')]
    assert lines == ['setuptools<82']
    assert 'setuptools>=61,<82' in read('pyproject.toml')


def _copy_source(dest):
    """The checkout's source tree without environments, builds or data.

    ``runs``, ``data`` and ``weights`` are left out at the top only: the
    package's own ``deep_impression/data`` must travel (a pattern for any
    folder named ``data`` once dropped it, and the wheel then lacked it)."""
    anywhere = shutil.ignore_patterns(
        '.git', '.venv', 'build', 'dist', '*.egg-info', '__pycache__',
        '.pytest_cache', '*.onnx', '*.npz', '*.mp4')

    def ignore(folder, names):
        left_out = set(anywhere(folder, names))
        if os.path.samefile(folder, ROOT):
            left_out |= {'runs', 'data', 'weights'} & set(names)
        return left_out
    shutil.copytree(ROOT, dest, ignore=ignore)


@pytest.mark.slow
def test_fresh_virtual_environment_installs_with_pip(tmp_path):
    """The documented pip commands, in a new virtual environment (network;
    about a minute with a warm pip cache)."""
    source = tmp_path / 'src'
    _copy_source(source)
    env_dir = tmp_path / 'env'
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = str(env_dir / 'bin' / 'python')
    environ = {k: v for k, v in os.environ.items()
               if k not in ('PYTHONPATH', 'PIP_CONSTRAINT',
                            'PIP_BUILD_CONSTRAINT', 'VIRTUAL_ENV')}
    for command in PIP_COMMANDS:
        argv = command.split()
        argv = [python] + [a.strip("'") for a in argv[1:]]
        done = subprocess.run(argv + ['-q', '--disable-pip-version-check'],
                              cwd=str(source), env=environ,
                              capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, (command, done.stderr[-4000:])
    done = subprocess.run(
        [str(env_dir / 'bin' / 'deep-impression'), '--version'],
        cwd=str(tmp_path), env=environ, capture_output=True, text=True,
        timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.strip() == 'deep-impression 0.1.0'
    done = subprocess.run(
        [python, '-c', 'import deep_impression, chainer; '
                       'print(chainer.__version__, '
                       'deep_impression.AudiovisualNetwork().count_params())'],
        cwd=str(tmp_path), env=environ, capture_output=True, text=True,
        timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    version, count = done.stdout.split()
    assert version == '7.8.1' and int(count) > 1000000
    print(sys.version.split()[0], 'venv installed:', done.stdout.strip())
