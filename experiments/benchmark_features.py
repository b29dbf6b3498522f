"""What the RNN's feature cache (paper §4) costs for one 15-s clip.

Computes the per-second layer-5 features of a synthetic 15-s clip (random
16 kHz audio, 375 random 456x256 frames: the cost does not depend on the
content) with the challenge network, as ``FeatureCache.fill`` does, and
writes them as the cache does; prints the seconds and the bytes, beside the
seconds of the whole-clip prediction of the same clip for scale.

Usage::

    python experiments/benchmark_features.py [--weights FILE]
        [--frames-per-step K] [--json FILE]
"""

import argparse
import os
import tempfile
import time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--weights', default=None,
                        help='challenge network (default: random weights)')
    parser.add_argument('--frames-per-step', type=int, default=None)
    parser.add_argument('--device', default=None)
    parser.add_argument('--json', metavar='FILE', default=None,
                        help='also write the figures (with the command, '
                             'commit and machine) here')
    args = parser.parse_args(argv)

    import numpy
    from deep_impression import fileio
    from deep_impression.constants import (FPS, FRAME_HEIGHT, FRAME_WIDTH,
                                           SAMPLE_RATE)
    from deep_impression.models.audiovisual import AudiovisualNetwork
    from deep_impression.models.recurrent import step_features
    from deep_impression.models.weights import load_model

    model = (load_model(args.weights, device=args.device) if args.weights
             else AudiovisualNetwork())
    rng = numpy.random.RandomState(0)
    audio = rng.uniform(-0.5, 0.5, 15 * SAMPLE_RATE).astype(numpy.float32)
    frames = rng.randint(0, 256, (15 * FPS, FRAME_HEIGHT, FRAME_WIDTH, 3),
                         dtype=numpy.uint8)
    t = time.time()
    features = step_features(model, audio, lambda idx: frames[idx],
                             len(frames),
                             frames_per_step=args.frames_per_step)
    seconds = time.time() - t
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'clip.npy')
        with fileio.atomic_path(path, suffix='.npy') as part:
            numpy.save(part, features)
        size = os.path.getsize(path)
    t = time.time()
    model.predict(audio, frames)
    whole = time.time() - t
    print('15-s clip: features {} float32, {} bytes on disk; {:.1f} s to '
          'compute (whole-clip prediction of the same clip: {:.1f} s)'.format(
              features.shape, size, seconds, whole))
    if args.json:
        from provenance import write_result
        write_result(args.json, dict(
            clip_seconds=15, shape=list(features.shape), bytes=size,
            seconds=round(seconds, 1), whole_clip_prediction_s=round(whole, 1)))


if __name__ == '__main__':
    main()
