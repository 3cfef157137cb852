"""Shared command-line behaviour of the scripts in this folder.

Bad input (``InputError``) prints one paragraph to stderr and exits 2; a traceback
appears only with ``--debug``. Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from typing import Callable, Sequence

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from common.errors import InputError  # noqa: E402


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors: exit 2 with the usage line
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def make_parser(description: str, prog: str | None = None) -> argparse.ArgumentParser:
    """An argument parser with the shared ``--debug`` flag."""
    parser = _Parser(prog=prog, description=description,
                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback on errors")
    return parser


def run(main: Callable[[argparse.Namespace], int | None], parser: argparse.ArgumentParser,
        argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, call ``main(args)`` and turn errors into exit codes."""
    args = parser.parse_args(argv)
    try:
        return int(main(args) or 0)
    except InputError as exc:
        if args.debug:
            raise
        print(textwrap.fill(f"{parser.prog}: error: {exc}", width=100, break_long_words=False,
                            break_on_hyphens=False), file=sys.stderr)  # paths stay whole
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
