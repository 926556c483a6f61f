"""The errors advnets raises for its users: each message says what is wrong and what would be right.

The command line prints an `AdvnetsError` as one line and exits with its `exit_code` (2: the
request itself is wrong, as argparse's usage errors; 1: the request is sound but the files,
data or run it names cannot serve it). Any other exception is a bug and keeps its traceback.
Each class also derives from the built-in exception a caller would catch without advnets in
mind (a bad value is a `ValueError`, a missing file a `FileNotFoundError`).
"""

from __future__ import annotations


class AdvnetsError(Exception):
    """Something the user can mend; the message says how."""

    exit_code = 1


class ConfigError(AdvnetsError, ValueError):
    """A configuration key, value or flag that is not valid; the message lists what would be."""

    exit_code = 2


class ArgumentError(AdvnetsError, ValueError):
    """An argument of a command outside its range (a count, a label, a truncation)."""

    exit_code = 2


class RunError(AdvnetsError, ValueError):
    """A run that cannot be started, resumed or read as asked."""

    exit_code = 2


class NonFiniteError(RunError):
    """A loss or gradient became NaN or infinite (train.nonfinite = stop); nothing was updated with
    it."""

    exit_code = 1


class NotApplicable(AdvnetsError, ValueError):
    """A command asked of a run or data set it does not apply to (Figure 1 of an MNIST run, ...)."""


class DataError(AdvnetsError, ValueError):
    """Data that cannot be read as asked: the message names the file and what is wrong with it."""


class DataNotFoundError(AdvnetsError, FileNotFoundError):
    """A data set that is neither on disk nor downloadable; the message says how to provide it."""


class CheckpointError(AdvnetsError, ValueError):
    """A checkpoint that cannot be written or read; the message names the file and what is wrong."""


class CheckpointNotFound(AdvnetsError, FileNotFoundError):
    """A path that is neither a run folder with a checkpoint nor a checkpoint folder."""


class EvaluationError(AdvnetsError, ValueError):
    """An evaluation that cannot be made as asked (a metric unknown or inapplicable, a bad
    protocol)."""

    exit_code = 2


class MissingFeature(AdvnetsError, RuntimeError):
    """An optional part that is not installed or not available here (an extra, a weights file)."""
