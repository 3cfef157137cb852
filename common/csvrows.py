"""The rows of a small CSV file with their line numbers, for readers whose errors name
the file and the line."""

from __future__ import annotations

import csv
from pathlib import Path

from common.errors import InputError


def read_csv_rows(path: Path, what: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every row of the UTF-8 CSV file ``path`` that holds a
    value; InputError naming ``path`` and ``what`` it should be (e.g. ``"poses .csv
    file"``) if it is missing, a directory, not UTF-8 or not CSV."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            rows = [(reader.line_num, row) for row in reader]
    except FileNotFoundError:
        raise InputError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected a {what}") from None
    except (UnicodeDecodeError, csv.Error, OSError) as exc:
        raise InputError(f"{path}: not a readable {what}: {exc}") from None
    return [(line, row) for line, row in rows if any(cell.strip() for cell in row)]
