"""Errors meant for the person at the terminal: their message is one line that names the problem.

Entry points catch ``KioskError`` and print ``error: <message>`` instead of a traceback.
"""


class KioskError(Exception):
    """A problem with input, configuration or environment that the user can fix."""
