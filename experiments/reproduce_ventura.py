"""``make reproduce-ventura``: Ventura et al. (2017) on the synthetic faces.

Stages (each keeps what an earlier run finished):

1. a synthetic release with drawn faces (``synth`` look ``'face'``) and
   the true AU intensities as OpenFace CSVs (``RUN/raw/openface``);
2. three stores: whole frames squashed to a square (img), the same test
   clips undistorted (for the face detector of the overlap study) and the
   aligned face crops of ``preprocess --faces`` (face);
3. training: CAM-DAN+ on img and on face, DAN+ on img (the "[23]-like"
   row: the winners' visual network), as ``experiments/configs/
   ventura-quick.json`` says;
4. Table 1 (test split, 10 frames per clip) beside the paper's;
5. the face overlap of CAM-DAN+ (img) beside 72.80% / 0.76;
6. the units of CAM-DAN+ (face) on conv5_3 per face region (Figure 8
   masks);
7. Table 2: per AU the conv5_3 unit whose top frames share most with the
   AU's, and its significance, beside the generator's known AU-trait
   links.

Stage times are printed and written with every figure to
``RUN/ventura_summary.json``.

Usage::

    python experiments/reproduce_ventura.py [--out runs/ventura]
        [--config FILE] [--set KEY=VALUE ...] [--device DEV]
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
CONFIG = os.path.join(HERE, 'configs', 'ventura-quick.json')

#: The three trainings: (row of Table 1, architecture, store).
RUNS = (('[23]-like DNN (DAN+, img)', 'dan-plus', 'img'),
        ('img (CAM-DAN+)', 'cam-dan-plus', 'img'),
        ('face (CAM-DAN+)', 'cam-dan-plus', 'face'))


def _stage(title):
    print('\n== {} =='.format(title), flush=True)


def make_stores(config, out, timings):
    """Stages 1-2: ``{'raw', 'img', 'wide', 'face'}`` paths."""
    from deep_impression.data.preprocess import preprocess
    from deep_impression.data.synth import make_dataset
    from deep_impression.interpret.faces import FaceCrops, print_dropped
    s, p, v = config['synth'], config['preprocess'], config['ventura']
    paths = {k: os.path.join(out, k) for k in ('raw', 'img', 'wide', 'face')}
    _stage('1. synthetic clips with faces')
    t = time.time()
    make_dataset(paths['raw'], train=s['train'], val=s['val'],
                 test=s['test'], seconds=s['seconds'], size=tuple(s['size']),
                 fps=s['fps'], seed=s['seed'], jobs=2, look='face')
    timings['synth_s'] = time.time() - t
    _stage('2. stores: img {}x{}, wide {}x{}, face crops {}'.format(
        p['width'], p['height'], *v['wide_size'], v['face_size']))
    t = time.time()
    fps = v['store_fps']
    preprocess(paths['raw'], paths['img'], jobs=2, width=p['width'],
               height=p['height'], fps=fps)
    preprocess(paths['raw'], paths['wide'], jobs=2, width=v['wide_size'][0],
               height=v['wide_size'][1], fps=fps)
    timings['preprocess_img_s'] = time.time() - t
    t = time.time()
    preprocess(paths['raw'], paths['face'], jobs=2, fps=fps,
               width=v['wide_size'][0], height=v['wide_size'][1],
               frame_transform=FaceCrops(size=v['face_size']))
    print_dropped(paths['face'], file=sys.stdout)
    timings['preprocess_face_s'] = time.time() - t
    return paths


def table1(config, stores, out, device, timings):
    """Stages 3-4: the three trainings and their test accuracies."""
    from deep_impression import evaluation, training
    from deep_impression.evaluation import accuracy_dict
    from deep_impression.models import weights
    rows, models = {}, {}
    for label, arch, kind in RUNS:
        store = stores[kind]
        crop = (config['ventura']['face_size'] if kind == 'face'
                else config['train']['frame_crop'])
        run = os.path.join(out, '{}_{}'.format(arch, kind))
        _stage('3. train {} on {} ({})'.format(arch, kind, label))
        t = time.time()
        result = training.train(
            store, run, device=device, resume_run=True, progress_bar=False,
            **dict(training.train_arguments(config), model=arch,
                   frame_crop=crop))
        timings['train_{}_{}_s'.format(arch, kind)] = time.time() - t
        t = time.time()
        model = weights.load(arch, result['model'], device=device)
        scores, constant = evaluation.evaluate_split(
            model, store, 'test',
            max_frames=config['evaluate']['max_frames'])
        timings['test_{}_{}_s'.format(arch, kind)] = time.time() - t
        rows[label] = scores.as_dict()
        rows['constant predictor'] = accuracy_dict(constant)
        models[(arch, kind)] = model
    return rows, models


def print_table1(rows):
    from deep_impression.evaluation.paper import (VENTURA_TABLE1,
                                                  VENTURA_TABLE1_COLUMNS)
    _stage('4. Table 1 (test split; accuracy = 1 - mean absolute error)')
    head = ['MA', 'O', 'C', 'E', 'A', 'N']
    print('| | ' + ' | '.join(head) + ' |')
    print('|---' * (len(head) + 1) + '|')
    for name, values in VENTURA_TABLE1.items():
        print('| paper {} | '.format(name) + ' | '.join(
            '{:.3f}'.format(v) for v in values) + ' |')
    for name, a in rows.items():
        print('| ours {} | '.format(name) + ' | '.join(
            '{:.3f}'.format(a[c]) for c in VENTURA_TABLE1_COLUMNS) + ' |')


def face_overlap(config, stores, model, timings):
    """Stage 5: the overlap of CAM-DAN+ (img) maps with detected faces."""
    from deep_impression.interpret import overlap
    from deep_impression.interpret.sources import StoreSource
    _stage('5. face overlap of CAM-DAN+ (img) maps, test split')
    t = time.time()
    scores = overlap.score_frames(model, StoreSource(stores['wide'], 'test'),
                                  config['evaluate']['max_frames'])
    result = overlap.face_overlap(scores, top=config['ventura']['overlap_top'])
    timings['overlap_s'] = time.time() - t
    print(overlap.report_markdown(result, 'synthetic test clips'))
    return result


def face_units(config, stores, model, timings):
    """Stage 6: conv5_3 units per face region (CAM-DAN+ on faces)."""
    from deep_impression.interpret import units
    from deep_impression.interpret.sources import StoreSource
    _stage('6. conv5_3 units of CAM-DAN+ (face) per face region')
    t = time.time()
    source = StoreSource(stores['face'], 'test')
    responses = units.unit_responses(model, source, ['conv5_3'],
                                     config['evaluate']['max_frames'])
    analysis = units.analyse(responses, top=config['ventura']['units_top'])
    text, data = units.report(analysis, responses, 'synthetic test faces',
                              'conv5_3', n_units=5)
    timings['units_s'] = time.time() - t
    print(text)
    return data


def table2(config, stores, model, out, timings):
    """Stage 7: AU-unit matches (CAM-DAN+ on faces) and the known links."""
    from deep_impression import fileio
    from deep_impression.data.synth import FACE_MIXING
    from deep_impression.data.synth_faces import MOVEMENT_AUS, MOVEMENTS
    from deep_impression.constants import TRAITS
    from deep_impression.interpret import action_units
    from deep_impression.interpret.sources import StoreSource
    _stage('7. Table 2: AUs and conv5_3 units (CAM-DAN+, face, test)')
    t = time.time()
    figures = fileio.ensure_dir(os.path.join(out, 'figures'))
    result, _ = action_units.analyse(
        StoreSource(stores['face'], 'test'),
        os.path.join(stores['raw'], 'openface'), 'train', figures,
        model=model, layer='conv5_3',
        frames_per_clip=config['evaluate']['max_frames'],
        top=config['ventura']['au_top'])
    timings['action_units_s'] = time.time() - t
    links = {}
    for m, name in enumerate(MOVEMENTS):
        weights = FACE_MIXING[:, 5 + m]
        for au in MOVEMENT_AUS[name]:
            links[au] = ', '.join('{} {:+.1f}'.format(TRAITS[k], w)
                                  for k, w in enumerate(weights) if w)
    print('| AU | best unit | intersection | significance | generator\'s '
          'link (trait weight) |')
    print('|---|---|---|---|---|')
    for match in result['units']['matches']:
        if match['au'] not in links:
            # Never drawn: intensity 0 in every frame, so its "top frames"
            # are a tie and any match is meaningless.
            print('| {} | - | - | - | none (not drawn: intensity 0 in every '
                  'frame) |'.format(match['au']))
            continue
        print('| {} | {} | {}/{} | {:.3g} | {} |'.format(
            match['au'], match['unit'], match['k'], match['n'], match['p'],
            links[match['au']]))
    result['known_links'] = links
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', default=os.path.join('runs', 'ventura'))
    p.add_argument('--config', default=CONFIG)
    p.add_argument('--set', action='append', default=[], metavar='KEY=VALUE')
    p.add_argument('--device', default='@numpy')
    p.add_argument('--machine', default='unstated (say: CPU, cores, busy '
                                        'or quiet)')
    args = p.parse_args(argv)
    from deep_impression import fileio, training
    config = training.load_config(args.config, args.set)
    out = fileio.ensure_dir(args.out)
    timings, start = {}, time.time()
    stores = make_stores(config, out, timings)
    rows, models = table1(config, stores, out, args.device, timings)
    print_table1(rows)
    overlap = face_overlap(config, stores, models[('cam-dan-plus', 'img')],
                           timings)
    units = face_units(config, stores, models[('cam-dan-plus', 'face')],
                       timings)
    aus = table2(config, stores, models[('cam-dan-plus', 'face')], out,
                 timings)
    timings['total_s'] = time.time() - start
    _stage('stage times (s; {})'.format(args.machine))
    for key, value in timings.items():
        print('{:28s} {:8.1f}'.format(key, value))
    import subprocess
    commit = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=HERE,
                            capture_output=True, text=True).stdout.strip()
    path = fileio.write_json(os.path.join(out, 'ventura_summary.json'), dict(
        command='python experiments/reproduce_ventura.py ' + ' '.join(
            argv if argv is not None else sys.argv[1:]),
        commit=commit, machine=args.machine, config=config,
        table1=rows,
        overlap={k: overlap[k] for k in ('top', 'threshold', 'face_level',
                                          'frames_scored',
                                          'frames_with_face', 'paper')},
        overlap_traits={k: {m: v for m, v in t.items() if m != 'top_frames'}
                        for k, t in overlap['traits'].items()},
        units=units['regions'] if 'regions' in units else units,
        unit_layers=units.get('layers'),
        action_units=aus, timings_s=timings), indent=1)
    print(path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
