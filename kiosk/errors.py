"""Errors meant for the person at the terminal: their message is one line that names the problem.

Entry points catch ``KioskError`` and print ``error: <message>`` instead of a traceback.
"""


class KioskError(Exception):
    """A problem with input, configuration or environment that the user can fix."""


def one_line_reason(error: object) -> str:
    """A driver's multi-line error text (SQLite, libpq) on one line: whitespace runs become one space."""
    return " ".join(str(error).split())
