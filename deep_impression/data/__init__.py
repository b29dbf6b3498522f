"""Data (paper §3): the ChaLearn First Impressions release, a synthetic
release in the same format, preprocessing into a clip store, and the
Chainer datasets and transforms that feed training and evaluation.

Modules, along the data path:

* :mod:`~deep_impression.data.chalearn`: the release's files (clips in
  folders and zips, Python 2 annotation pickles);
* :mod:`~deep_impression.data.synth`: a small synthetic release in that
  exact format, for tests and ``make reproduce``;
* :mod:`~deep_impression.data.preprocess`: clips -> 16 kHz audio and
  456x256 frames at 25 frames/s, resumable and parallel;
* :mod:`~deep_impression.data.store`: the clip store it writes (JPEG frames,
  raw audio, a manifest) and :class:`ClipStore` to read it;
* :mod:`~deep_impression.data.datasets`: ``DatasetMixin`` datasets and the
  training transform of §2.2.
"""
