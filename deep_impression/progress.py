"""Progress bars for long work (rate and time left), on standard error."""

import sys

from tqdm.auto import tqdm


def progress(iterable=None, total=None, desc=None, unit='it', disable=None):
    """A tqdm bar with the package's defaults.

    Hidden when standard error is not a terminal unless ``disable=False``.
    """
    if disable is None:
        disable = not sys.stderr.isatty()
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=disable,
                dynamic_ncols=True, file=sys.stderr)
