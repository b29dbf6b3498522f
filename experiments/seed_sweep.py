"""The quick run of ``make reproduce`` over several training seeds.

Makes the synthetic data and its store once (``OUT/raw``, ``OUT/store``),
then runs ``experiments/reproduce.py --seed K`` for each seed, the challenge
network only unless ``--post-challenge`` is given (the runs in
``OUT/train_seedK``, their summaries in ``OUT/summary_seedK.json``; a seed
already finished is read back, not run again) and prints one table: per
seed the network's average validation accuracy, the constant predictor's
(the training labels' mean), the margin and the margin on each trait. Also
writes the table as ``OUT/seed_sweep.md`` and everything as
``OUT/seed_sweep.json``.

Usage::

    python experiments/seed_sweep.py [--seeds 0 1 2 3 4] [--parallel 2]
        [--out runs/seed_sweep] [--config FILE] [--set KEY=VALUE ...]
        [--post-challenge]
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import reproduce  # noqa: E402  (beside this file)


def _run_seeds(seeds, args):
    """Run reproduce.py for each seed, ``args.parallel`` at a time."""
    waiting = list(seeds)
    running = []
    failed = []
    while waiting or running:
        while waiting and len(running) < max(args.parallel, 1):
            seed = waiting.pop(0)
            cmd = [sys.executable, os.path.join(HERE, 'reproduce.py'),
                   '--out', args.out, '--config', args.config,
                   '--seed', str(seed), '--jobs', '1']
            for item in args.set:
                cmd += ['--set', item]
            log = open(os.path.join(args.out, 'seed{}.log'.format(seed)),
                       'w')
            print('seed {}: running (log: {})'.format(seed, log.name),
                  flush=True)
            running.append((seed, subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT), log))
        seed, proc, log = running.pop(0)
        if proc.wait() not in (0, 1):   # 1: ran, below the margin
            failed.append(seed)
        log.close()
        print('seed {}: done (exit {})'.format(seed, proc.returncode),
              flush=True)
    return failed


def challenge_only(path, out):
    """``path``'s configuration without its post-challenge sections,
    written as ``out/sweep_config.json``; returns that path."""
    from deep_impression import fileio
    with open(path, encoding='utf-8') as f:
        config = json.load(f)
    for section in ('per_trait', 'rnn'):
        config.pop(section, None)
    return fileio.write_json(os.path.join(out, 'sweep_config.json'), config,
                             indent=2)


def sweep_rows(summaries):
    """Table rows from ``{seed: summary}`` (reproduce.py's summaries)."""
    from deep_impression.constants import PAPER_TRAIT_ORDER
    rows = []
    for seed in sorted(summaries):
        v = summaries[seed]['scores']['validation']
        row = dict(seed=seed, network=v['model']['average'],
                   constant=v['constant']['average'])
        row['margin'] = row['network'] - row['constant']
        for trait in PAPER_TRAIT_ORDER:
            row[trait] = v['model'][trait] - v['constant'][trait]
        rows.append(row)
    return rows


def to_markdown(rows):
    """The sweep as a reStructuredText/markdown-friendly grid table."""
    from deep_impression.constants import PAPER_TRAIT_ORDER
    head = (['Seed', 'Network', 'Constant', 'Margin'] +
            ['{} margin'.format(t.capitalize()) for t in PAPER_TRAIT_ORDER])
    body = [[str(r['seed'])] + ['{:.4f}'.format(r['network']),
                                '{:.4f}'.format(r['constant'])] +
            ['{:+.4f}'.format(r[k]) for k in ['margin'] +
             list(PAPER_TRAIT_ORDER)] for r in rows]
    widths = [max(len(line[i]) for line in [head] + body)
              for i in range(len(head))]
    rule = '  '.join('=' * w for w in widths)
    lines = [rule, '  '.join(h.ljust(w) for h, w in zip(head, widths)), rule]
    lines += ['  '.join(c.ljust(w) for c, w in zip(line, widths)).rstrip()
              for line in body]
    return '\n'.join([line.rstrip() for line in lines] + [rule])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seeds', type=int, nargs='+',
                        default=[0, 1, 2, 3, 4])
    parser.add_argument('--out', default=os.path.join('runs', 'seed_sweep'))
    parser.add_argument('--config',
                        default=os.path.join(reproduce.CONFIGS, 'quick.json'))
    parser.add_argument('--set', action='append', default=[],
                        metavar='KEY=VALUE')
    parser.add_argument('--parallel', type=int, default=1,
                        help='seeds trained at once (default %(default)s)')
    parser.add_argument('--jobs', type=int, default=2,
                        help='processes making and preprocessing the clips')
    parser.add_argument('--post-challenge', action='store_true',
                        help="also train the configuration's per_trait and "
                        'rnn models (default: the challenge network only, '
                        'whose validation the table shows)')
    args = parser.parse_args(argv)

    from deep_impression import fileio, training
    os.makedirs(args.out, exist_ok=True)
    if not args.post_challenge:
        args.config = challenge_only(args.config, args.out)
    config = training.load_config(args.config, args.set)
    reproduce.prepare(config, args.out, jobs=args.jobs)
    todo = [s for s in args.seeds if not os.path.exists(os.path.join(
        args.out, 'summary_seed{}.json'.format(s)))]
    failed = _run_seeds(todo, args)
    if failed:
        print('seed_sweep: seeds {} failed; see their logs in {}'.format(
            failed, args.out), file=sys.stderr)
        return 2
    summaries = {}
    for seed in args.seeds:
        with open(os.path.join(args.out,
                               'summary_seed{}.json'.format(seed))) as f:
            summaries[seed] = json.load(f)
    rows = sweep_rows(summaries)
    table = to_markdown(rows)
    required = config.get('min_margin_over_constant') or 0.0
    ok = all(r['margin'] >= required and all(
        r[t] >= 0 for t in r if t not in ('seed', 'network', 'constant',
                                          'margin')) for r in rows)
    print('\nValidation average accuracy per training seed ({}; margins '
          'are network - constant predictor):\n'.format(
              os.path.basename(args.config)))
    print(table)
    print('\n{}: every seed beats the constant predictor by at least {} '
          'and is not below it on any trait.'.format(
              'PASS' if ok else 'FAIL', required))
    fileio.write_text(os.path.join(args.out, 'seed_sweep.md'), table + '\n')
    from provenance import write_result
    write_result(os.path.join(args.out, 'seed_sweep.json'), dict(
        config=args.config, overrides=args.set, seeds=args.seeds,
        required_margin=required, passed=ok, rows=rows,
        timings={s: summaries[s]['timings'] for s in args.seeds}), indent=2)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
