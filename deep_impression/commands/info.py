"""``deep-impression info``: what this machine offers the package.

Chainer's own runtime report, then whether CuPy sees a GPU and whether
Chainer uses cuDNN there, NCCL and MPI, ONNX Runtime's providers, the
ffmpeg in use, and the device ``train`` and ``predict`` pick by default
(:func:`deep_impression.runtime.runtime_info`).
"""

import json


def add_parser(sub):
    p = sub.add_parser(
        'info', help='print the runtime: Chainer, CuPy and the GPU, cuDNN, '
                     'NCCL, MPI, ONNX Runtime, ffmpeg, default devices',
        description='Print what this machine offers the package: the first '
                    'thing to run on a new (GPU) machine.')
    p.add_argument('--json', action='store_true',
                   help='print one JSON object instead of text')
    return p


def _yes(flag):
    return 'yes' if flag else 'no'


def format_info(info):
    """The text report of a :func:`~deep_impression.runtime.runtime_info`
    dict (one line per fact)."""
    gpu, ch, mpi = info['gpu'], info['chainer'], info['mpi']
    ort, ff, dev = info['onnxruntime'], info['ffmpeg'], info['devices']
    if gpu['gpus']:
        gpus = ', '.join('{}: {}'.format(i, n) for i, n in
                         enumerate(gpu['gpus']))
    else:
        gpus = 'none ({})'.format(gpu['error'] or 'CuPy sees no GPU')
    lines = [
        'Python: {}'.format(info['python']),
        'CuPy: {}'.format(gpu['cupy'] or 'not importable'),
        'GPUs CuPy sees: {}'.format(gpus),
        'Chainer uses CuPy: {}; cuDNN: {}'.format(
            _yes(ch['cuda_available']), _yes(ch['cudnn_enabled'])),
        'NCCL: {}'.format(ch['nccl'] or 'not available'),
        'MPI: mpi4py {}; mpiexec {}'.format(
            mpi['mpi4py'] or 'not importable',
            mpi['mpiexec'] or 'not found'),
        'ONNX Runtime: {}'.format(
            '{} ({})'.format(ort['onnxruntime'], ', '.join(ort['providers']))
            if ort['onnxruntime'] else 'not importable ({})'.format(
                ort['error'])),
        'ffmpeg: {}'.format(
            '{} ({})'.format(ff['path'], ff['version']) if ff['path']
            else 'not found ({})'.format(ff['error'])),
        'default device: train {}, predict {} (--device changes either)'
        .format(dev['train'], dev['predict']),
    ]
    return '\n'.join(lines)


def run(args):
    import chainer
    from deep_impression.runtime import runtime_info
    info = runtime_info()
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
        return 0
    print("Chainer's runtime (chainer.print_runtime_info()):")
    chainer.print_runtime_info()
    print()
    print(format_info(info))
    return 0
