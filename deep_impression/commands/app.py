"""``deep-impression app``: the web page, served on this machine.

Gradio (the optional ``app`` extra) is imported only when the command runs,
so the other commands never need it.
"""

import sys

from deep_impression.commands._arguments import (add_device, add_model,
                                                 add_weights, positive_int)
from deep_impression.errors import DeepImpressionError

LOOPBACK = ('127.0.0.1', 'localhost', '::1')


def add_parser(sub):
    from deep_impression.inference.backends import BACKENDS
    p = sub.add_parser(
        'app', help='a local web page: drop a video, see its traits and the '
                    'activation maps',
        description='Serve a web page on this machine: the traits of one '
                    'video with the explain figures and overlay video, a '
                    'folder as a resumable CSV, and the model card. Needs '
                    'the app extra: pip install \'deep-impression[app]\'.')
    add_weights(p)
    add_model(p)
    add_device(p)
    p.add_argument('--backend', choices=BACKENDS, default='onnxruntime',
                   help='onnxruntime (fast on the CPU; the default) or '
                        'chainer (the reference; needed by --model per-trait '
                        'and rnn, and for a GPU --device)')
    p.add_argument('--onnx-cache', metavar='DIR', default=None,
                   help='folder of the cached ONNX export of --weights (as '
                        'predict)')
    p.add_argument('--host', default='127.0.0.1',
                   help='address to serve on (default 127.0.0.1: this '
                        'machine only)')
    p.add_argument('--port', type=positive_int, default=7860,
                   help='port (default %(default)s)')
    p.add_argument('--out', metavar='DIR', default='runs/app',
                   help='where the app writes figures, videos and CSVs '
                        '(default: %(default)s)')
    p.add_argument('--max-upload-mb', type=float, default=500, metavar='MB',
                   help='largest upload accepted (default %(default)g MB)')
    return p


def run(args):
    import importlib.util
    if not 0 < args.max_upload_mb < float('inf'):
        raise DeepImpressionError('--max-upload-mb: must be a positive '
                                  'number, got {}'.format(args.max_upload_mb))
    # Only looked for: the page sets Gradio's settings before importing it.
    if importlib.util.find_spec('gradio') is None:
        raise DeepImpressionError(
            'app: needs Gradio, the app extra: pip install '
            '\'deep-impression[app]\'')
    from deep_impression.app.page import serve
    from deep_impression.app.session import Session
    if args.host not in LOOPBACK:
        print('deep-impression: warning: serving on {}: anyone who can '
              'reach this machine can use the page and read files it can '
              'open'.format(args.host), file=sys.stderr)
    session = Session(weights=args.weights, model=args.model,
                      backend=args.backend, device=args.device, out=args.out,
                      cache=args.onnx_cache)
    serve(session, args.host, args.port, args.max_upload_mb)
    return 0
