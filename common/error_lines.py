"""The one line of an error message that says what went wrong, for reasons in reports, summaries and the CLI."""

from __future__ import annotations


def error_line(error: object, last: bool = False, limit: int | None = 500) -> str:
    """The line of `str(error)` that says what went wrong ("" when the message is empty).

    Args:
      error: An exception, or any text (e.g. a child process's stderr).
      last: Take the last non-empty line (a traceback's cause) instead of the first.
      limit: At most this many characters (None: all).

    Returns:
      The stripped line. tf.function errors open with "in user code:" and a
      stack, so for them it is always the last line.
    """
    found = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    if not found:
        return ""
    line = found[-1] if last or found[0] == "in user code:" else found[0]
    return line if limit is None else line[:limit]
