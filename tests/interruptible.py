"""Run a script (argv[1], with the rest as its arguments) with Ctrl-C's default Python
action, even where the test run inherited SIGINT ignored (a job started with ``&`` from a
non-interactive shell ignores it, and so would the player a test stops with SIGINT).
A wrapper, not ``preexec_fn``: forking the multithreaded test process to run Python code
before ``exec`` can deadlock."""

import runpy
import signal
import sys
from pathlib import Path

signal.signal(signal.SIGINT, signal.default_int_handler)
sys.argv = sys.argv[1:]
sys.path[0] = str(Path(sys.argv[0]).resolve().parent)  # as if the script were run itself
runpy.run_path(sys.argv[0], run_name="__main__")
