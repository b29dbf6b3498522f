"""Figures of the evaluation reports."""

import numpy
from matplotlib.figure import Figure

from deep_impression.constants import PAPER_TRAIT_ORDER, TRAITS
from deep_impression.evaluation.metrics import point_metrics
from deep_impression.visualizations import save_figure


def scatter_plot(path, predictions, labels, title=None):
    """Predicted against annotated values, one panel per trait, as PNG,
    with the identity line (a perfect prediction) and the trait's accuracy
    and concordance correlation (CCC) in the panel's title.

    Args:
        path: output ``.png``.
        predictions, labels: ``(N, 5)`` in TRAITS order.
    """
    predictions = numpy.asarray(predictions, dtype=numpy.float64)
    labels = numpy.asarray(labels, dtype=numpy.float64)
    scores = point_metrics(predictions, labels)
    fig = Figure(figsize=(3.2 * len(PAPER_TRAIT_ORDER), 3.6))
    axes = fig.subplots(1, len(PAPER_TRAIT_ORDER))
    for ax, trait in zip(axes, PAPER_TRAIT_ORDER):
        k = TRAITS.index(trait)
        ax.plot([0, 1], [0, 1], color='0.6', lw=1, zorder=0)
        ax.scatter(labels[:, k], predictions[:, k], s=12, alpha=0.7)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect('equal')
        ccc = scores['ccc'][1 + k]   # column 0 is the mean of the five
        ax.set_title('{}\naccuracy {:.4f}, CCC {}'.format(
            trait.capitalize(), scores['accuracy'][1 + k],
            'undefined' if numpy.isnan(ccc) else '{:.3f}'.format(ccc)),
            fontsize=10)
        ax.set_xlabel('annotated')
    axes[0].set_ylabel('predicted')
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)
