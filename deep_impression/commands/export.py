"""``deep-impression export``: the network as an ONNX file."""

import sys

from deep_impression.commands._arguments import add_weights


def add_parser(sub):
    p = sub.add_parser(
        'export', help='write the network as an ONNX model',
        description='Write the network, with weights from a release-format '
                    'file, as one ONNX model with three parts: the auditory '
                    'stream (input "audio" (1, 1, 1, n)), the visual stream '
                    '(input "frames" (N, 3, H, W), any N, H, W) and the '
                    'fusion ("clip_audio_features", "clip_visual_features" '
                    '-> "traits"). Use it with `deep-impression predict '
                    '--backend onnxruntime --onnx FILE`.')
    add_weights(p)
    p.add_argument('--out', metavar='FILE', required=True,
                   help='ONNX file to write (written atomically)')
    return p


def run(args):
    from deep_impression.inference.onnx_export import export_file
    path = export_file(args.weights, args.out)
    print('deep-impression: wrote {}'.format(path), file=sys.stderr)
    return 0
