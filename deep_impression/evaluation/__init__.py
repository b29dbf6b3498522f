"""Evaluation (paper §2.3): accuracy, whole-clip evaluation, and reports
beside the paper's published tables.

* :mod:`~deep_impression.evaluation.metrics`: accuracy (1 - mean absolute
  error) and the constant predictor; ACC, MAE, MSE, PCC, CCC and R² with
  bootstrap intervals, and the paired comparison of two models;
* :mod:`~deep_impression.evaluation.evaluator`: whole-clip evaluation of a
  network on a split;
* :mod:`~deep_impression.evaluation.scoring`: scoring any predictions file
  against annotations, comparing two, metrics per group;
* :mod:`~deep_impression.evaluation.reports`: Tables 1-3 and the metric,
  comparison and group tables as Markdown, CSV and JSON;
* :mod:`~deep_impression.evaluation.paper`: the paper's numbers.
"""

from deep_impression.evaluation.evaluator import (  # noqa: F401
    ClipEvaluator, Evaluation, SequenceEvaluator, evaluate,
    evaluate_recurrent_split, evaluate_sequences, evaluate_split,
    evaluation_of, predict_clips, read_predictions_csv, split_labels,
    training_mean, write_predictions_csv)
from deep_impression.evaluation.metrics import (  # noqa: F401
    METRICS, accuracy, accuracy_dict, compare, constant_accuracy,
    constant_prediction, point_metrics, score)
