"""The one exception type for user mistakes.

Library code raises :class:`UserError` for bad input — a missing or malformed file, an impossible
option — with a one-line message naming the file (and line, column), option or argument, what was
expected and what came. The command line prints the message alone and exits with status 2; it is a
``ValueError`` so that Python callers can catch it as one.
"""


class UserError(ValueError):
    """A mistake in what the user gave lstmkit; the message says what and where."""


class Notice(UserWarning):
    """Something the user should know that is not an error, e.g. prompt characters the
    vocabulary lacks (mapped to ``<unk>``). The command line prints it as one ``note:`` line."""
