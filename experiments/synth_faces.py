"""How often the package's face detector finds the synthetic faces.

Ventura et al.'s face analyses (face overlap, face crops, face regions)
need a face in the frame; on the synthetic stand-in the drawn faces of
``make_dataset(look='face')`` (:mod:`deep_impression.data.synth_faces`)
play that part. This makes ``--clips`` face clips, decodes them as the
package does (456x256, 25 frames/s) and runs
:class:`~deep_impression.interpret.faces.FaceDetector` (OpenCV's Haar
cascade) on every ``--stride``-th frame; it prints and writes (``--json``)
the share of frames with a face, per clip and in all, and the same for the
eye detector inside the face (which aligns ``preprocess --faces`` crops on
the eyes; without two eyes a crop is aligned on the face box).

Example::

    .venv/bin/python experiments/synth_faces.py --clips 12 \\
        --json docs/results/synth_faces_hit_rate.json
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--clips', type=int, default=12)
    p.add_argument('--seconds', type=float, default=2.0)
    p.add_argument('--size', default='320x180', metavar='WxH',
                   help='size of the synthetic videos (default 320x180, as '
                        'configs/ventura-quick.json)')
    p.add_argument('--stride', type=int, default=2,
                   help='test every K-th decoded frame (default 2)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--json', default=None, metavar='FILE')
    p.add_argument('--machine', default='unstated',
                   help='a short description of the machine for the JSON')
    args = p.parse_args(argv)
    from deep_impression import fileio, media
    from deep_impression.data.synth import make_dataset
    from deep_impression.interpret.faces import FaceDetector
    from deep_impression.progress import progress
    size = tuple(int(v) for v in args.size.split('x'))
    detector = FaceDetector()
    per_clip = []
    with tempfile.TemporaryDirectory() as tmp:
        clips = make_dataset(tmp, train=args.clips, val=0, test=0,
                             seconds=args.seconds, size=size, fps=25,
                             seed=args.seed, look='face', jobs=2)
        for clip in progress(clips, desc='detect', unit='clip'):
            frames = numpy.concatenate(list(media.iter_frames(
                clip['path'])))[::args.stride]
            faces = eyes = 0
            for frame in frames:
                box = detector.face(frame)
                if box is not None:
                    faces += 1
                    eyes += detector.eyes(frame, box) is not None
            per_clip.append(dict(clip=clip['name'], frames=len(frames),
                                 faces=faces, eyes=eyes))
    n = sum(c['frames'] for c in per_clip)
    result = dict(
        frames=n, face_hit_rate=sum(c['faces'] for c in per_clip) / n,
        eye_pair_rate=sum(c['eyes'] for c in per_clip) / n,
        worst_clip_face_rate=min(c['faces'] / c['frames'] for c in per_clip),
        per_clip=per_clip)
    print('frames tested: {}; face found in {:.1%}; two eyes found in '
          '{:.1%}; worst clip {:.1%}'.format(
              n, result['face_hit_rate'], result['eye_pair_rate'],
              result['worst_clip_face_rate']))
    if args.json:
        commit = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=HERE,
                                capture_output=True, text=True).stdout.strip()
        fileio.write_json(args.json, dict(
            command='python experiments/synth_faces.py ' + ' '.join(
                argv if argv is not None else sys.argv[1:]),
            commit=commit, machine=args.machine or platform.processor(),
            settings=vars(args), results=result), indent=1)
        print(args.json)
    return 0


if __name__ == '__main__':
    sys.exit(main())
