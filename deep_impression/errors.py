"""The package's one exception type for bad input."""


class DeepImpressionError(Exception):
    """Bad input: a message that names the file (or argument) and the problem.

    The command line prints ``str(error)`` as a single line, never a
    traceback.
    """


class MediaError(DeepImpressionError):
    """A video or audio file that cannot be used."""


class WeightsError(DeepImpressionError):
    """A weight file that does not match the network."""


class InputError(DeepImpressionError):
    """An array of the wrong dtype or shape given to the library."""
