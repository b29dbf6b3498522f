"""How much a trained network loses when validated on whole clips.

Training sees random crops (``audio_crop`` samples, ``frame_crop`` pixels
square); validation (paper §2.3) sees each clip whole: all of its audio and
whole frames, their layer-5 features averaged. This script takes a run
directory of ``deep-impression train`` and predicts its validation clips
four ways, the same frames each time (``--frames`` evenly spaced ones):

* ``crops``: audio and visual features of ``--crops`` training crops per
  clip (the training transform's random choices, seeded), averaged;
* ``whole audio``: the whole clip's audio, visual features from the crops;
* ``whole frames``: audio features from the crops, whole frames;
* ``whole clip``: both whole, as validation does.

Printed: per way the average and per-trait accuracy and the mean error
(prediction minus label) per trait, beside the constant predictor, plus
each stream's input length and its last feature map's length (the network's
geometry, independent of the weights). Also written as JSON (``--json``)
and as a bar chart (``--plot``).

Why it matters: with inputs as short as the quick configuration's, every
position of the last feature map of a crop has the input's zero padding in
its receptive field; a longer whole input adds positions that training never
showed, and the per-trait means of the predictions move.

Example::

    .venv/bin/python experiments/whole_clip_gap.py runs/reproduce/train \\
        --json runs/whole_clip_gap.json --plot runs/whole_clip_gap.png
"""

import argparse
import json
import os
import sys

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from deep_impression import _compat  # noqa: F401,E402

WAYS = ('crops', 'whole audio', 'whole frames', 'whole clip')


def map_length(stream, shape):
    """Spatial shape of ``stream``'s last residual map for one input."""
    import chainer
    x = numpy.zeros((1,) + tuple(shape), dtype=numpy.float32)
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        return stream.extract(x, ['res5b_relu'])['res5b_relu'].shape[2:]


def clip_features(model, transform, clip, indices, crops, rng):
    """(audio crops, audio whole, visual crops, visual whole) features of
    one clip (a :class:`~deep_impression.data.store.Clip`), each
    ``(256,)``: the whole clip's as validation computes them on the frames
    ``indices``, the crops' (``transform``'s random choices, the frame
    drawn from ``indices``) averaged."""
    audio = numpy.asarray(clip.audio(), dtype=numpy.float32)
    height, width = clip.frame(indices[0]).shape[:2]
    a_crops, v_crops = [], []
    for _ in range(crops):
        p = transform.sample(len(audio), 1, max(height, transform.frame_crop),
                             max(width, transform.frame_crop), rng)
        p['frame_index'] = int(indices[rng.integers(0, len(indices))])
        a, v, _ = transform.apply(clip, p, audio=audio)
        a_crops.append(model.audio_features(a.ravel()))
        # Back to the uint8 HWC frames the stream's API takes (exact).
        v_crops.append(v.transpose(1, 2, 0).astype(numpy.uint8))
    pictures = numpy.stack([clip.frame(i) for i in indices])
    a_whole, v_whole = model.clip_features(audio, pictures)
    return (numpy.mean(a_crops, axis=0), a_whole,
            model.frame_features(numpy.stack(v_crops)).mean(axis=0),
            v_whole)


def measure(run_dir, frames=10, crops=10, seed=0, progress_bar=None):
    """Accuracies of the four ways on the run's validation clips."""
    from deep_impression import evaluation
    from deep_impression.constants import TRAITS
    from deep_impression.data.datasets import TrainingTransform
    from deep_impression.data.store import open_store
    from deep_impression.inputs import even_indices
    from deep_impression.models.weights import load_model
    from deep_impression.progress import progress
    with open(os.path.join(run_dir, 'config.json'), encoding='utf-8') as f:
        config = json.load(f)
    model = load_model(os.path.join(run_dir, 'model'))
    transform = TrainingTransform(config['audio_crop'], config['frame_crop'])
    store = open_store(config['data'])
    rng = numpy.random.default_rng(seed)
    predictions = {way: [] for way in WAYS}
    labels = []
    lengths = None
    for clip_id in progress(store.clip_ids('validation'),
                            desc='validation clips',
                            disable=progress_bar is False):
        clip = store.clip(clip_id)
        indices = even_indices(clip.num_frames, frames)
        a_crop, a_whole, v_crop, v_whole = clip_features(
            model, transform, clip, indices, crops, rng)
        pairs = {'crops': (a_crop, v_crop), 'whole audio': (a_whole, v_crop),
                 'whole frames': (a_crop, v_whole),
                 'whole clip': (a_whole, v_whole)}
        fused = model.fuse_features(*[numpy.stack(x) for x in zip(
            *[pairs[way] for way in WAYS])])
        for way, p in zip(WAYS, fused):
            predictions[way].append(p)
        labels.append(clip.labels)
        if lengths is None:
            samples = len(clip.audio(mmap=True))
            height, width = clip.frame(0).shape[:2]
            lengths = dict(
                audio_crop=[config['audio_crop'], map_length(
                    model.aud, (1, 1, config['audio_crop']))],
                audio_whole=[samples, map_length(model.aud, (1, 1, samples))],
                frame_crop=[[transform.frame_crop] * 2, map_length(
                    model.vis, (3,) + (transform.frame_crop,) * 2)],
                frame_whole=[[height, width], map_length(
                    model.vis, (3, height, width))])
    labels = numpy.asarray(labels, dtype=numpy.float64)
    constant = evaluation.constant_accuracy(
        evaluation.split_labels(config['data'], 'train'), labels)
    result = dict(run=os.path.abspath(run_dir), clips=len(labels),
                  frames=frames, crops=crops, traits=list(TRAITS),
                  geometry={k: [v[0], list(v[1])] for k, v in lengths.items()},
                  constant=dict(average=float(constant.mean()),
                                accuracy=constant.tolist()), ways={})
    for way in WAYS:
        p = numpy.asarray(predictions[way], dtype=numpy.float64)
        acc = evaluation.accuracy(p, labels)
        result['ways'][way] = dict(average=float(acc.mean()),
                                   accuracy=acc.tolist(),
                                   mean_error=(p - labels).mean(0).tolist())
    return result


def print_result(result):
    traits = result['traits']
    g = result['geometry']
    print('{} validation clips, {} frames each, {} crops each'.format(
        result['clips'], result['frames'], result['crops']))
    print('last feature map: audio crop {} -> {}, whole {} -> {}; frame crop '
          '{} -> {}, whole {} -> {}'.format(*[x for k in (
              'audio_crop', 'audio_whole', 'frame_crop', 'frame_whole')
              for x in g[k]]))
    head = '{:<13}{:>8}  ' + '  '.join(['{:>14}'] * len(traits))
    print(head.format('', 'average', *traits))
    row = '{:<13}{:>8.4f}  ' + '  '.join(['{:>14}'] * len(traits))
    print(row.format('constant', result['constant']['average'],
                     *['{:.4f}'.format(a)
                       for a in result['constant']['accuracy']]))
    for way in WAYS:
        w = result['ways'][way]
        print(row.format(way, w['average'], *[
            '{:.4f} ({:+.3f})'.format(a, e)
            for a, e in zip(w['accuracy'], w['mean_error'])]))
    print('(accuracy, and in brackets the mean error: prediction - label)')


def plot(result, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from deep_impression.visualizations import save_figure
    traits = result['traits']
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / (len(WAYS) + 1)
    x = numpy.arange(len(traits) + 1)
    series = [('constant', [result['constant']['average']]
               + result['constant']['accuracy'])]
    series += [(way, [result['ways'][way]['average']]
                + result['ways'][way]['accuracy']) for way in WAYS]
    for k, (name, values) in enumerate(series):
        ax.bar(x + (k - len(WAYS) / 2) * width, values, width, label=name)
    ax.set_xticks(x)
    ax.set_xticklabels(['average'] + list(traits), rotation=15)
    low = min(min(v) for _, v in series)
    ax.set_ylim(max(0.0, low - 0.03), 1.0)
    ax.set_ylabel('validation accuracy (1 - MAE)')
    ax.set_title('Crops against whole clips: {}'.format(result['run']),
                 fontsize=9)
    ax.legend(fontsize=8, ncol=5, loc='upper center')
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('run', help='run directory of deep-impression train')
    p.add_argument('--frames', type=int, default=10,
                   help='evenly spaced frames per clip (default 10)')
    p.add_argument('--crops', type=int, default=10,
                   help='training crops per clip (default 10)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--json', metavar='FILE', default=None)
    p.add_argument('--plot', metavar='PNG', default=None)
    args = p.parse_args(argv)
    result = measure(args.run, args.frames, args.crops, args.seed)
    print_result(result)
    if args.json:
        from provenance import write_result
        write_result(args.json, result)
    if args.plot:
        plot(result, args.plot)
    return 0


if __name__ == '__main__':
    sys.exit(main())
