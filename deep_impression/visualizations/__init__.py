"""Figures: every picture the package draws is saved by :func:`save_figure`.

* :mod:`~deep_impression.visualizations.interpretation`: activation maps,
  units and overlays of Ventura et al. (2017);
* :mod:`~deep_impression.visualizations.reports`: figures of the
  evaluation reports (predicted against annotated traits).
"""

from deep_impression import fileio


def save_figure(fig, path, dpi=100):
    """Write a matplotlib figure to ``path`` as PNG, atomically
    (:mod:`deep_impression.fileio`), so an interrupted run never leaves half
    a picture; returns ``path``."""
    with fileio.atomic_open(path, 'wb') as f:
        fig.savefig(f, format='png', dpi=dpi)
    return path
