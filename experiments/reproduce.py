"""``make reproduce``: the paper's training and evaluation, end to end.

With no ``--data``: make the synthetic stand-in for ChaLearn First
Impressions (``deep_impression.data.synth``), preprocess it, train with the
paper's recipe shortened as ``experiments/configs/quick.json`` says (so
the whole run fits in 10 minutes on a 2-core CPU), evaluate on the
validation and test splits, print Tables 1 and 2, and check that the
network beats the constant predictor (the training labels' mean); then
train shortened versions of the post-challenge models of paper §4 (the
five per-trait networks and the RNN on per-second features), print
Table 3 and check that neither ends below the constant predictor. Beside
the paper's accuracy tables it prints and writes ACC, MAE, MSE, PCC, CCC
and R² with bootstrap intervals for each split and each Table 3 model,
and paired comparisons of 5 x DNN and DNN + RNN with DNN on the same
validation clips.

With ``--data /path/to/chalearn``: preprocess the release, train 900 epochs
(``experiments/configs/paper.json``; on the GPU when CuPy finds one), and
write Tables 1 and 2 for validation and test.

Every stage keeps what an earlier run finished (clips, store, snapshots),
so running it again continues where it stopped. Also writes
``RUN/summary.json``.

Settings: the configuration file, then ``--set section.key=value``
overrides (``deep_impression.training.load_config``, as
``deep-impression train --config``), then ``--seed K`` (the training seed;
the run goes to ``RUN/train_seedK`` beside the shared data, with
``RUN/summary_seedK.json``). The run's ``config.json`` records the result.

Usage::

    python experiments/reproduce.py [--data DIR] [--out runs/reproduce]
        [--config FILE] [--set KEY=VALUE ...] [--seed K] [--device DEV]
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = os.path.join(HERE, 'configs')


def _stage(title):
    print('\n== {} =='.format(title), flush=True)


def train_post_challenge(config, store, run_dir, result, device, timings,
                         suffix=''):
    """Stages 5-6: the post-challenge models of paper §4, shortened as
    ``config['per_trait']`` and ``config['rnn']`` say, into
    ``per_trait<suffix>`` and ``rnn<suffix>`` beside ``run_dir`` (a seed's
    suffix, as its ``train_seedK``).

    Returns:
        ``{Table 3 model name: validation Evaluation}`` for "5 x DNN" and
        "DNN + RNN" (those the config names).
    """
    from deep_impression import evaluation, training
    from deep_impression.models import weights
    c = config['train']
    e = config['evaluate']
    out = os.path.dirname(os.path.abspath(run_dir))
    found = {}
    if 'per_trait' in config:
        p = config['per_trait']
        init = os.path.join(run_dir, 'model_epoch_{:04d}'.format(
            training.phase_ends(c['epochs'])[0]))
        _stage('5. per-trait fine-tuning (5 x DNN) from {}, {} epochs each'
               .format(init, p.get('epochs') or 'the rest of the schedule'))
        t = time.time()
        trained = training.train_per_trait(
            store, os.path.join(out, 'per_trait' + suffix), init,
            epochs=p.get('epochs'), device=device, resume_run=True,
            loaders=c['loaders'], fast_cpu=c['fast_cpu'])
        timings['per_trait_train_s'] = time.time() - t
        t = time.time()
        found['5 x DNN'], baseline = evaluation.evaluate_split(
            weights.load('per-trait', trained['model'], device=device),
            store, 'validation', max_frames=e['max_frames'])
        _write_run_report(os.path.join(out, 'per_trait' + suffix), store,
                          found['5 x DNN'], baseline)
        timings['per_trait_evaluate_s'] = time.time() - t
    if 'rnn' in config:
        r = config['rnn']
        _stage('6. RNN on the per-second features of {} (DNN + RNN), {} '
               'epochs'.format(result['model'], r['epochs']))
        t = time.time()
        trained = training.train_recurrent(
            store, os.path.join(out, 'rnn' + suffix), result['model'],
            epochs=r['epochs'], batch_size=r['batch_size'], device=device,
            resume_run=True, seed=c['seed'], step_seconds=r['step_seconds'],
            frames_per_step=r['frames_per_step'],
            snapshot_every=r['snapshot_every'])
        timings['rnn_features_s'] = trained['features']['seconds']
        timings['rnn_train_s'] = (time.time() - t
                                  - trained['features']['seconds'])
        found['DNN + RNN'], baseline = evaluation.evaluate_recurrent_split(
            weights.load('rnn', os.path.dirname(trained['model']),
                         device=device), store, 'validation')
        _write_run_report(os.path.join(out, 'rnn' + suffix), store,
                          found['DNN + RNN'], baseline)
    return found


def _write_run_report(run, store, ev, baseline):
    """A post-challenge run's validation report in ``run/reports`` (as
    ``evaluate`` writes it), so that ``deep-impression compare`` can take
    the run directory."""
    from deep_impression import evaluation, fileio, training
    from deep_impression.evaluation import reports
    reports.write_split_report(
        fileio.ensure_dir(os.path.join(run, training.REPORTS_DIR)),
        'validation', ev, baseline,
        constant=evaluation.training_mean(store))


def report_table3(reports_dir, scores, post_challenge, dnn=None,
                  constant=None):
    """Write and print Table 3 (accuracy beside the paper's), every metric
    of its models (``table3_metrics.*``) and the paired comparisons of each
    post-challenge model with the DNN on the same clips
    (``table3_compare.*``: is 5 x DNN or DNN + RNN different from DNN?).

    Args:
        dnn: the challenge network's validation Evaluation (for the
            metrics and comparisons), or None.
        constant: the constant predictor's ``(5,)`` prediction, or None.

    Returns:
        ``(passed, comparisons)``: whether every post-challenge model
        reaches the constant predictor on the validation clips (None
        without validation scores), and ``{label: comparison}``.
    """
    from deep_impression.evaluation import metrics, reports, scoring
    if 'validation' not in scores or not post_challenge:
        return None, {}
    v = scores['validation']
    results = {'DNN': v['model']}
    results.update({k: ev.as_dict() for k, ev in post_challenge.items()})
    paths = reports.write_table3(reports_dir, results, v['constant'])
    with open(paths['md'], encoding='utf-8') as f:
        print(f.read())
    comparisons = {}
    if dnn is not None:
        models = [('DNN', dnn)] + list(post_challenge.items())
        rows = [(name, metrics.score(ev.predictions, ev.labels))
                for name, ev in models]
        if constant is not None:
            rows.append((reports.CONSTANT_LABEL, metrics.constant_score(
                constant, dnn.labels)))
        print(reports.metrics_markdown(rows, reports.TABLE3_METRICS_TITLE))
        reports.write_metrics(reports_dir, 'table3_metrics', rows,
                              reports.TABLE3_METRICS_TITLE)
        comparisons = {'{} vs DNN'.format(name): scoring.compare_evaluations(
            ev, dnn) for name, ev in post_challenge.items()}
        print(reports.comparison_markdown(list(comparisons.items()),
                                          reports.TABLE3_COMPARE_TITLE))
        reports.write_comparisons(reports_dir, 'table3_compare',
                                  list(comparisons.items()),
                                  reports.TABLE3_COMPARE_TITLE)
    passed = True
    for name, ev in post_challenge.items():
        ok = ev.average >= v['constant']['average']
        passed = passed and ok
        print('{}: {} average validation accuracy {:.4f} {} the constant '
              'predictor\'s {:.4f}.'.format(
                  'PASS' if ok else 'FAIL', name, ev.average,
                  'reaches' if ok else 'is below', v['constant']['average']))
    return passed, comparisons


def prepare(config, out, data=None, jobs=2, timings=None):
    """Stages 1 and 2: the synthetic release (without ``data``) and its
    clip store, ``out/store``; both keep what an earlier run made."""
    from deep_impression.data.preprocess import preprocess
    timings = {} if timings is None else timings
    if data:
        raw = data
    else:
        from deep_impression.data.synth import make_dataset
        raw = os.path.join(out, 'raw')
        s = config['synth']
        _stage('1. synthetic ChaLearn-format release -> {}'.format(raw))
        t = time.time()
        make_dataset(raw, train=s['train'], val=s['val'], test=s['test'],
                     seconds=s['seconds'], size=tuple(s['size']),
                     fps=s['fps'], seed=s['seed'], jobs=jobs)
        timings['synth_s'] = time.time() - t
    store = os.path.join(out, 'store')
    _stage('2. preprocessing {} -> {}'.format(raw, store))
    t = time.time()
    p = config['preprocess']
    summary = preprocess(raw, store, jobs=jobs, width=p['width'],
                         height=p['height'])
    timings['preprocess_s'] = time.time() - t
    print('{} clips ready, {} failed'.format(summary['ok'],
                                             len(summary['failed'])))
    return store


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', default=None, metavar='DIR',
                        help='the ChaLearn First Impressions release '
                             '(default: a synthetic stand-in)')
    parser.add_argument('--out', default=os.path.join('runs', 'reproduce'),
                        metavar='DIR')
    parser.add_argument('--config', default=None, metavar='FILE',
                        help='default: configs/quick.json without --data, '
                             'configs/paper.json with it')
    parser.add_argument('--device', default=None,
                        help='Chainer device (default: the GPU if CuPy finds '
                             'one, else the CPU)')
    parser.add_argument('--jobs', type=int, default=2,
                        help='processes for making and preprocessing clips')
    parser.add_argument('--set', action='append', default=[],
                        metavar='KEY=VALUE',
                        help='override a setting, e.g. train.epochs=3 '
                             '(repeatable)')
    parser.add_argument('--seed', type=int, default=None, metavar='K',
                        help='training seed (default: the configuration\'s); '
                             'the run goes to OUT/train_seedK')
    args = parser.parse_args(argv)

    from deep_impression import evaluation, fileio, training
    from deep_impression.evaluation import reports
    from deep_impression.errors import DeepImpressionError
    from deep_impression.models.weights import load_model
    from deep_impression.runtime import device_line

    config_path = args.config or os.path.join(
        CONFIGS, 'paper.json' if args.data else 'quick.json')
    out = args.out
    started = time.time()
    timings = {}
    suffix = '' if args.seed is None else '_seed{}'.format(args.seed)

    print(device_line(args.device, 'reproduce'), flush=True)
    try:
        config = training.load_config(config_path, args.set, seed=args.seed)
        os.makedirs(out, exist_ok=True)
        print('config: {} ({}){}'.format(config_path, config['name'], ''.join(
            '; ' + o for o in args.set)))
        store = prepare(config, out, data=args.data, jobs=args.jobs,
                        timings=timings)

        run_dir = os.path.join(out, 'train' + suffix)
        c = config['train']
        _stage('3. training ({} epochs, alpha / 10 after epochs {}) -> {}'
               .format(c['epochs'],
                       ' and '.join(map(str, training.phase_ends(
                           c['epochs'])[:-1])), run_dir))
        t = time.time()
        result = training.train(store, run_dir, device=args.device,
                                resume_run=True,
                                **training.train_arguments(config))
        timings['train_s'] = time.time() - t

        e = config['evaluate']
        _stage('4. evaluation of {} on {}'.format(
            result['model'], ' and '.join(e['splits'])))
        model = load_model(result['model'],
                           device=args.device or training.default_device())
        reports_dir = os.path.join(run_dir, training.REPORTS_DIR)
        scores, evaluations = {}, {}
        constant = evaluation.training_mean(store)
        t = time.time()
        for split in e['splits']:
            ev, baseline = evaluation.evaluate_split(
                model, store, split, max_frames=e['max_frames'])
            evaluations[split] = ev
            paths = reports.write_split_report(reports_dir, split, ev,
                                               baseline, constant=constant)
            scores[split] = dict(model=ev.as_dict(),
                                 constant=evaluation.accuracy_dict(baseline),
                                 clips=len(ev.clip_ids),
                                 failed=len(ev.failed), **paths)
        timings['evaluate_s'] = time.time() - t
        post_challenge = train_post_challenge(
            config, store, run_dir, result, args.device, timings, suffix)
    except DeepImpressionError as err:
        print('reproduce: error: {}'.format(err), file=sys.stderr)
        return 2

    _stage('Results')
    with open(os.path.join(reports_dir, 'table1.md'), encoding='utf-8') as f:
        print(f.read())
    for split in e['splits']:
        print(scores[split]['markdown'])
        print(scores[split]['metrics_markdown'])
    margin = None
    if 'validation' in scores:
        v = scores['validation']
        margin = v['model']['average'] - v['constant']['average']
        print('Validation average accuracy: network {:.4f}, constant '
              'predictor (training labels\' mean) {:.4f}, difference '
              '{:+.4f}'.format(v['model']['average'],
                               v['constant']['average'], margin))
    post_passed, comparisons = report_table3(
        reports_dir, scores, post_challenge, evaluations.get('validation'),
        constant)
    timings['total_s'] = time.time() - started
    print('\nReports and plots: {}'.format(os.path.abspath(reports_dir)))
    print('  Table 1: table1.md/.csv/.json; Table 2: table2_<split>.md/.csv/'
          '.json; per-clip predictions: predictions_<split>.csv;')
    print('  ACC, MAE, MSE, PCC, CCC and R² with 95% intervals: '
          'metrics_<split>.md/.csv/.json; Table 3: table3, table3_metrics '
          'and table3_compare .md/.csv/.json;')
    print('  scatter plots: scatter_<split>.png; training loss: '
          'training_loss.png; validation accuracy: validation_accuracy.png')
    print('Trained network (release format): {}'.format(
        os.path.abspath(result['model'])))
    print('Time: {}'.format(', '.join('{} {:.0f} s'.format(k[:-2], v)
                                      for k, v in timings.items())))

    required = config.get('min_margin_over_constant')
    passed = None
    if required is not None and margin is not None:
        passed = margin >= required
        print('{}: the network {} the constant predictor by at least {} '
              'average validation accuracy.'.format(
                  'PASS' if passed else 'FAIL',
                  'beats' if passed else 'does not beat', required))
    summary = dict(config=config_path, settings=config,
                   data=args.data or 'synthetic', seed=c['seed'],
                   table1={str(k): v for k, v in result['table1'].items()},
                   scores={s: dict(model=v['model'], constant=v['constant'],
                                   clips=v['clips'], failed=v['failed'])
                           for s, v in scores.items()},
                   margin_over_constant=margin, required_margin=required,
                   passed=passed, timings=timings,
                   table3={k: ev.as_dict()
                           for k, ev in post_challenge.items()},
                   table3_compare=comparisons,
                   post_challenge_passed=post_passed)
    from provenance import write_result
    write_result(os.path.join(out, 'summary{}.json'.format(suffix)),
                 summary, indent=2)
    return 1 if False in (passed, post_passed) else 0


if __name__ == '__main__':
    sys.exit(main())
