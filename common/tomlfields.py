"""Reading TOML data files into validated values, with errors that name file and field.

Arrays, listening zones, targets and training configs are all TOML; they share these
readers so that every bad file gets the same kind of message:
``studio.toml: drivers[2].radius_m: expected a positive number, got -0.01``.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import InputError


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; a missing file or a syntax error raises :class:`InputError`."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a UTF-8 text file ({exc.reason})") from None


class Fields:
    """Typed access to one TOML table; ``where`` prefixes every message (file and path)."""

    def __init__(self, table: Any, where: str):
        if not isinstance(table, dict):
            raise InputError(f"{where}: expected a table, got {type(table).__name__}")
        self.data = table
        self.where = where

    def _get(self, key: str, default: Any) -> Any:
        if key not in self.data:
            if default is _REQUIRED:
                raise InputError(f"{self.where}.{key}: missing required field")
            return default
        return self.data[key]

    def string(self, key: str, default: Any = None) -> str:
        value = self._get(key, _REQUIRED if default is None else default)
        if not isinstance(value, str) or not value:
            raise InputError(f"{self.where}.{key}: expected a non-empty string, got {value!r}")
        return value

    def number(self, key: str, default: Any = None, *, positive: bool = False,
               minimum: float | None = None, maximum: float | None = None) -> float:
        value = self._get(key, _REQUIRED if default is None else default)
        return check_number(value, f"{self.where}.{key}", positive=positive,
                            minimum=minimum, maximum=maximum)

    def vector(self, key: str, length: int, default: Any = None) -> np.ndarray:
        value = self._get(key, _REQUIRED if default is None else default)
        return check_vector(value, length, f"{self.where}.{key}")

    def tables(self, key: str) -> list["Fields"]:
        value = self._get(key, _REQUIRED)
        if not isinstance(value, list) or not value:
            raise InputError(f"{self.where}.{key}: expected a non-empty array of tables")
        return [Fields(item, f"{self.where}.{key}[{i}]") for i, item in enumerate(value)]

    def table(self, key: str, default: Any = None) -> "Fields":
        value = self._get(key, _REQUIRED if default is None else default)
        return Fields(value, f"{self.where}.{key}")

    def reject_unknown(self, known: set[str]) -> None:
        unknown = sorted(set(self.data) - known)
        if unknown:
            raise InputError(f"{self.where}: unknown field(s) {', '.join(unknown)}; "
                             f"expected only {', '.join(sorted(known))}")


_REQUIRED = object()


def check_number(value: Any, where: str, *, positive: bool = False,
                 minimum: float | None = None, maximum: float | None = None) -> float:
    """Return ``value`` as a finite float or raise :class:`InputError` naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{where}: expected a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise InputError(f"{where}: expected a finite number, got {value}")
    if positive and value <= 0:
        raise InputError(f"{where}: expected a positive number, got {value}")
    if minimum is not None and value < minimum:
        raise InputError(f"{where}: expected a number >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise InputError(f"{where}: expected a number <= {maximum}, got {value}")
    return value


def check_vector(value: Any, length: int, where: str) -> np.ndarray:
    """Return ``value`` as a finite float vector of ``length`` or raise :class:`InputError`."""
    if not isinstance(value, (list, tuple, np.ndarray)) or len(value) != length:
        raise InputError(f"{where}: expected a list of {length} numbers, got {value!r}")
    return np.array([check_number(v, f"{where}[{i}]") for i, v in enumerate(value)])
