"""Who made a result file: the command, the commit and the machine.

Every experiment script writes its JSON through :func:`write_result`, so a
figure quoted in the documentation (``docs/results/*.json``) can be traced to
the command line that printed it, the code it ran and the machine it ran on.
"""

import os
import platform
import shlex
import subprocess
import sys

from deep_impression import fileio

#: The repository's root (the folder above ``experiments/``).
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _commit():
    """The checkout's short commit id with ``+`` when it has uncommitted
    changes, or ``None`` outside a git checkout."""
    try:
        head = subprocess.run(
            ['git', '-C', ROOT, 'rev-parse', '--short', 'HEAD'],
            capture_output=True, text=True, timeout=10, check=True)
        dirty = subprocess.run(
            ['git', '-C', ROOT, 'status', '--porcelain', '--untracked-files=no'],
            capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ('+' if dirty.stdout.strip() else '')


def _machine():
    """CPU model, cores this process may use, and whether the machine was
    busy (1-minute load average at or above the core count) when asked."""
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            names = [line.split(':', 1)[1].strip() for line in f
                     if line.startswith('model name')]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(
        os, 'sched_getaffinity') else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else None
    state = 'load unknown' if load is None else '{} (load average {:.1f})'.format(
        'busy' if load >= cores else 'quiet', load)
    return '{}, {} cores, {}'.format(cpu, cores, state)


def provenance(argv=None):
    """``dict(command=..., commit=..., machine=...)`` for this process:
    ``argv`` (default ``sys.argv``) as one shell-quoted command line."""
    argv = sys.argv if argv is None else argv
    script = os.path.relpath(os.path.abspath(argv[0]), ROOT) if argv else ''
    return dict(command=' '.join(['python', shlex.quote(script)]
                                 + [shlex.quote(a) for a in argv[1:]]),
                commit=_commit(), machine=_machine())


def write_result(path, result, **kwargs):
    """Write ``result`` (a dict) as JSON to ``path`` atomically, with
    :func:`provenance`'s keys first; returns ``path``. A ``machine`` the
    script recorded itself (a dict of details) moves to
    ``machine_details``."""
    result = dict(result)
    if 'machine' in result:
        result['machine_details'] = result.pop('machine')
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return fileio.write_json(path, dict(provenance(), **result), **kwargs)
