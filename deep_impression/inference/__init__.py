"""Inference: a video or arrays in, five trait values out.

* :mod:`~deep_impression.inference.clip`: the one whole-clip loop (frames in
  batches through the visual stream, mean over frames, fusion) that every
  backend runs;
* :mod:`~deep_impression.inference.backends`: backends by name (Chainer,
  ONNX Runtime);
* :mod:`~deep_impression.inference.onnx_export`: the network as an ONNX
  graph built from its Chainer parameters;
* :mod:`~deep_impression.inference.predict`: :func:`predict_video`.
"""
