"""The documentation: README.rst is a short front page, the Sphinx site in
docs/ builds without a warning, and every figure a reader sees comes from a
committed result file (docs/results/*.json) that names its command, commit
and machine, or is one of the papers' own numbers (docs/allowed-numbers.txt).
"""

import glob
import json
import os
import re
import subprocess
import sys

import pytest

from processes import run_bounded

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, 'docs')
RESULTS = os.path.join(DOCS, 'results')
ALLOWED = os.path.join(DOCS, 'allowed-numbers.txt')

#: Integers up to this are counts and settings of the text (2 cores, 5
#: traits, 3 runs, 8 GPUs), not figures.
SMALL = 32

#: Software names whose version numbers follow them ("Chainer 7.8.1",
#: "pip>=26", "setuptools<82").
SOFTWARE = (r'Python|Chainer|NumPy|CuPy|pip|setuptools|OpenCV|onnx|ONNX|'
            r'OpenFace|librosa|CUDA|cuDNN|PyTorch|mpi4py|Runtime|soxr|'
            r'version|v')

_NUMBER = re.compile(r'(?<![\w.\-])[-+]?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?'
                     r'(?:e([-+]?\d+))?(?![\w.]*\w)')


def _prose(text):
    """``text`` (reStructuredText) without what is not prose: literal
    blocks, directives and their options, inline literals, roles
    (``:result:`` values are filled in from the result files), section
    numbers, table and figure numbers, citations, years and versions."""
    lines, out, block = text.splitlines(), [], None
    for line in lines:
        indent = len(line) - len(line.lstrip())
        if block is not None:
            if not line.strip() or indent > block:
                continue
            block = None
        stripped = line.strip()
        if stripped.startswith('..') or stripped.endswith('::'):
            block = indent
            if stripped.startswith('..'):
                continue
            line = line[:-2]
        if re.fullmatch(r'[=\-~^"]{3,}', stripped):
            continue
        out.append(line)
    prose = '\n'.join(out)
    for pattern in (r'``.*?``', r':\w+:`[^`]*`', r'`[^`]*`_?',
                    r'§\s*\d+(\.\d+)*', r'\b(Tables?|Figures?|Fig\.)\s+\d+'
                    r'(\s*(-|and|,)\s*\d+)*', r'\[\d+\]',
                    r'arXiv:\S+', r'pp\.\s*\d+-\d+',
                    r'\b(19|20)\d\d\b',
                    r'\b(' + SOFTWARE + r')\s*[<>=]*\s*\d+(\.\d+)*(\.x)?'
                    r'(\s*(or|and|,)\s*\d+\.\d+)*\b'):
        prose = re.sub(pattern, ' ', prose, flags=re.S)
    return prose


def numbers_in(text):
    """``[(as written, value, half of its last digit)]`` of the figures in
    the prose of ``text``."""
    found = []
    for m in _NUMBER.finditer(_prose(text)):
        whole, decimals, exponent = m.group(1), m.group(2) or '', m.group(3)
        value = float(whole.replace(',', '') + decimals)
        scale = 10.0 ** int(exponent) if exponent else 1.0
        places = len(decimals) - 1 if decimals else 0
        if not decimals and not exponent and value <= SMALL:
            continue
        found.append((m.group(0), value * scale,
                      0.5 * 10.0 ** -places * scale))
    return found


def _leaves(obj):
    """Every number in a JSON value, also those written inside strings
    ("0.923-0.933")."""
    if isinstance(obj, bool):
        return
    if isinstance(obj, (int, float)):
        yield float(obj)
    elif isinstance(obj, str):
        for m in _NUMBER.finditer(obj.replace('-', ' ')):
            yield float(m.group(1).replace(',', '') + (m.group(2) or '')) * (
                10.0 ** int(m.group(3)) if m.group(3) else 1.0)
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _leaves(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _leaves(v)


def result_files():
    return sorted(glob.glob(os.path.join(RESULTS, '*.json')))


def committed_numbers():
    """The numbers of every result file (not their provenance) and of the
    allow-list."""
    values = []
    for path in result_files():
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
        values += _leaves({k: v for k, v in data.items()
                           if k not in ('command', 'commit', 'machine',
                                        'source')})
    with open(ALLOWED, encoding='utf-8') as f:
        for line in f:
            if line.strip() and not line.startswith('#'):
                values.append(float(line.split()[0].replace(',', '')))
    return values


def pages():
    return [os.path.join(ROOT, 'README.rst')] + sorted(
        glob.glob(os.path.join(DOCS, '**', '*.rst'), recursive=True))


def test_prose_numbers_are_found_and_literals_left_out():
    text = ('Title\n=====\n\nIt took 7 min 40 s and 33.88 s (5,601,989 '
            'parameters, 1.5e-7, §2.2, Table 3, 2016, Chainer 7.8.1).\n\n'
            '.. code-block:: console\n\n   run 4567\n\n``9999`` and '
            ':result:`x:y` but 0.9370.\n')
    assert [n[0] for n in numbers_in(text)] == [
        '40', '33.88', '5,601,989', '1.5e-7', '0.9370']
    assert numbers_in('0.9370')[0][1:] == pytest.approx((0.937, 0.00005))


def test_every_result_file_names_command_commit_and_machine():
    assert result_files()
    for path in result_files():
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
        for key in ('command', 'commit', 'machine'):
            assert key in data, '{}: no {}'.format(path, key)
        assert data['command'] and data['machine'], path


def test_every_number_in_the_docs_is_in_a_committed_result():
    values = committed_numbers()
    missing = []
    for path in pages():
        with open(path, encoding='utf-8') as f:
            text = f.read()
        for written, value, half in numbers_in(text):
            if not any(abs(abs(value) - abs(v)) <= half * (1 + 1e-9)
                       for v in values):
                missing.append('{}: {}'.format(
                    os.path.relpath(path, ROOT), written))
    assert not missing, ('numbers in no docs/results/*.json nor in '
                         'docs/allowed-numbers.txt: ' + ', '.join(missing))


def test_readme_is_a_short_front_page():
    with open(os.path.join(ROOT, 'README.rst'), encoding='utf-8') as f:
        text = f.read()
    assert len(text.splitlines()) <= 200
    assert 'shared/' not in text and 'docs/' in text


def test_docs_build_with_warnings_as_errors(tmp_path):
    code, out, _ = run_bounded(
        [sys.executable, '-m', 'sphinx', '-b', 'html', '-W', '--keep-going',
         '-E', '-q', DOCS, str(tmp_path / 'html')], 600, 'sphinx-build',
        env=dict(os.environ, PYTHONPATH=ROOT))
    assert code == 0, out.decode(errors='replace')[-3000:]
    html = (tmp_path / 'html' / 'guide' / 'commands.html').read_text(
        encoding='utf-8')
    # The command reference comes from the parsers: every command is there.
    from deep_impression.cli import COMMANDS
    for name in COMMANDS:
        assert 'deep-impression {}'.format(name.replace('_', '-')) in html
    # Result tables are filled in from the result files.
    seed = (tmp_path / 'html' / 'guide' / 'training.html').read_text(
        encoding='utf-8')
    with open(os.path.join(RESULTS, 'seed_sweep.json'),
              encoding='utf-8') as f:
        first = json.load(f)['rows'][0]
    assert '{:.4f}'.format(first['network']) in seed
    assert 'results/seed_sweep.json' in seed


def test_no_file_cites_documents_outside_the_repository():
    tracked = subprocess.run(['git', '-C', ROOT, 'grep', '-l', '-E',
                              r'shared/(STACK|ORIGINAL_RELEASE|STYLE)'],
                             capture_output=True, text=True, timeout=60)
    assert tracked.stdout.strip() in ('', 'tests/test_docs.py'), tracked.stdout
