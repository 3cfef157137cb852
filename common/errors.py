"""The one error type that soundstage raises for bad input.

Every loader and entry point raises :class:`InputError` for input it cannot use
(files, fields, arguments); the command-line scripts turn it into a one-paragraph
message and exit code 2. Anything else escaping is a bug.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input: the message names the file, field or argument and what was expected."""
