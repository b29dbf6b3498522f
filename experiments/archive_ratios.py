"""How far the files of a release compress in a zip archive, beside a zip
bomb: the evidence for :data:`deep_impression.data.chalearn.ARCHIVE_LIMITS`.

Deflates, as ``zipfile.ZIP_DEFLATED`` does by default (zlib level 6):

* an annotation pickle of the challenge's size (6,000 training clips, the
  six keys, Python 2 format as :func:`~deep_impression.data.chalearn.
  write_annotations` writes it; random 11-character ids, uniform values);
* synthetic clips (:mod:`deep_impression.data.synth`, H.264 + AAC as the
  release's mp4 files, ``--seconds`` long at ``--size``);
* a zip of those clips, as the release nests its folders of 80;
* a run of zeros, the classic zip bomb.

Prints the ratios (uncompressed size / compressed size) and writes them
with the command, the commit and the machine as JSON (``--json``).

Example::

    .venv/bin/python experiments/archive_ratios.py \\
        --json docs/results/archive-ratios.json
"""

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import zipfile
import zlib

import numpy

from deep_impression import fileio
from deep_impression.data import chalearn, synth


def deflated(data):
    """``(bytes, deflated bytes, ratio)`` of ``data`` at zlib level 6."""
    packed = zlib.compressobj(6, zlib.DEFLATED, -15)
    size = len(packed.compress(data)) + len(packed.flush())
    return dict(bytes=len(data), deflated_bytes=size,
                ratio=round(len(data) / size, 3))


def annotation_pickle(clips, seed=0):
    """Pickle bytes of an annotation file for ``clips`` random clips."""
    rng = numpy.random.default_rng(seed)
    letters = numpy.array(list('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ'
                               'RSTUVWXYZ0123456789_-'))
    names = ['{}.{:03d}.mp4'.format(''.join(rng.choice(letters, 11)),
                                    int(rng.integers(0, 10)))
             for _ in range(clips)]
    return chalearn.dumps_py2_annotations(
        {k: {n: float(rng.uniform()) for n in names}
         for k in chalearn.ANNOTATION_KEYS})


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--clips', type=int, default=4,
                   help='synthetic clips to encode')
    p.add_argument('--seconds', type=float, default=15.0)
    p.add_argument('--size', default='640x360', metavar='WxH')
    p.add_argument('--zeros-mib', type=int, default=64)
    p.add_argument('--json', metavar='FILE', default=None)
    args = p.parse_args(argv)
    size = tuple(int(v) for v in args.size.split('x'))

    results = dict(annotation_pickle_6000_clips=deflated(
        annotation_pickle(6000)))
    seeds = numpy.random.SeedSequence(0).spawn(args.clips)
    clips = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, seed in enumerate(seeds):
            path = os.path.join(tmp, '{}.mp4'.format(k))
            features = numpy.random.default_rng(seed).uniform(
                0, 1, len(synth.FEATURES))
            synth.write_clip(path, seed, features, seconds=args.seconds,
                             size=size)
            with open(path, 'rb') as f:
                clips.append(f.read())
    results['synthetic_clips'] = [deflated(c) for c in clips]
    folder = io.BytesIO()
    with zipfile.ZipFile(folder, 'w') as zf:   # stored, as the folders are
        for k, data in enumerate(clips):
            zf.writestr('folder/{}.mp4'.format(k), data)
    results['zip_of_the_clips'] = deflated(folder.getvalue())
    results['zeros'] = deflated(bytes(args.zeros_mib << 20))
    limits = chalearn.ARCHIVE_LIMITS
    out = dict(
        command=' '.join([os.path.relpath(sys.argv[0])] + (
            sys.argv[1:] if argv is None else list(argv))),
        commit=subprocess.run(['git', 'rev-parse', 'HEAD'],
                              capture_output=True, text=True).stdout.strip(),
        machine='{} ({}, {} cores; a busy shared machine, which deflate '
                'ratios do not depend on)'
                .format(platform.platform(), platform.processor() or
                        platform.machine(), os.cpu_count()),
        clip_seconds=args.seconds, clip_size=list(size),
        limits=dict(max_bytes=limits.max_bytes, max_ratio=limits.max_ratio),
        results=results)
    for name, r in results.items():
        for one in (r if isinstance(r, list) else [r]):
            print('{:30s} {:11d} B -> {:10d} B  ratio {:8.3f}'.format(
                name, one['bytes'], one['deflated_bytes'], one['ratio']))
    if args.json:
        fileio.write_text(args.json, json.dumps(out, indent=1) + '\n')


if __name__ == '__main__':
    main()
