"""What the network looks at: the interpretation methods of Ventura et al.
(2017), "Interpreting CNN models for apparent personality trait regression",
brought to the audiovisual network.

Modules, one method each:

* :mod:`~deep_impression.interpret.fields`: receptive fields of named layers
  computed from the stream geometry
  (:data:`~deep_impression.models.streams.VISUAL`,
  :data:`~deep_impression.models.streams.AUDITORY`);
* :mod:`~deep_impression.interpret.cam`: class activation maps (paper §3.1),
  visual per trait and auditory along time, and ``explain_video``;
* :mod:`~deep_impression.interpret.faces`: face and eye detection (OpenCV
  Haar cascades), OpenFace boxes, aligned 224x224 face crops (paper §4.3);
* :mod:`~deep_impression.interpret.sources`: frames and audio of clips from
  a clip store or from video files;
* :mod:`~deep_impression.interpret.overlap`: face / CAM overlap (paper §4.2);
* :mod:`~deep_impression.interpret.units`: top frames per unit, spatial
  histograms and face-region ranking (paper §4.4);
* :mod:`~deep_impression.interpret.action_units`: OpenFace action units,
  correlations, linear model and AU detectors among units (paper §4.5);
* :mod:`~deep_impression.visualizations.interpretation`: the pictures
  (matplotlib, Agg).
"""
