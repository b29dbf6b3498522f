"""Progress bars for long work (rate and time left), on standard error."""

import sys

from tqdm.auto import tqdm


def progress(iterable=None, total=None, desc=None, unit='it', disable=None,
             leave=True):
    """A tqdm bar with the package's defaults.

    Hidden when standard error is not a terminal unless ``disable=False``;
    ``leave=False`` clears it when done (a bar inside another one's step).
    """
    if disable is None:
        disable = not sys.stderr.isatty()
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=disable,
                dynamic_ncols=True, file=sys.stderr, leave=leave)
