"""The architecture of docs/architecture.md holds: the import contract (layers, a NumPy-only
renderer and device package, no circles between the files of a package), modules of at
most 300 lines, and entry points whose argument parsing loads no SciPy, models or JACK."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bad_inputs import run_python

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("common", "models", "targets", "renderer", "optim", "evaluation", "design", "device")
MAX_LINES = 300
HEAVY = ("scipy", "models", "jax", "jack", "pythonosc", "matplotlib", "optim", "cv2")


def test_import_contract_holds():
    """lint-imports with the contracts of pyproject.toml: an upward import, a banned
    dependency of the renderer or a circle between sibling files fails here."""
    lint = shutil.which("lint-imports", path=os.path.dirname(sys.executable)) \
        or shutil.which("lint-imports")
    assert lint, "lint-imports not found: pip install -e '.[test]' installs import-linter"
    proc = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_package_modules_have_at_most_300_lines():
    long = {str(path.relative_to(ROOT)): count for package in PACKAGES
            for path in sorted((ROOT / package).glob("*.py"))
            if (count := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them along a seam): {long}"


def test_every_package_is_typed_and_installed():
    text = (ROOT / "pyproject.toml").read_text()
    for package in PACKAGES:
        assert (ROOT / package / "py.typed").is_file(), package
        assert f'"{package}"' in text, f"{package} missing from [tool.setuptools] packages"


@pytest.mark.parametrize("script, heavy", [("render.py", HEAVY + ("device",)),
                                           ("play.py", HEAVY)])
def test_help_loads_no_scipy_models_or_jack(script, heavy):
    """--help builds the parser from NumPy-only constants (the budget: 0.35 s); play.py
    reads the tracker kinds from device.trackers, which loads no tracker, JACK or OSC."""
    code = ("import runpy, sys\n"
            f"sys.path.insert(0, {str(ROOT / 'scripts')!r})\n"
            f"sys.argv = [{script!r}, '--help']\n"
            "try:\n"
            f"    runpy.run_path({str(ROOT / 'scripts' / script)!r}, run_name='__main__')\n"
            "except SystemExit as exc:\n"
            "    assert exc.code == 0, exc.code\n"
            f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r})\n"
            "assert not heavy, heavy\n")
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert "usage:" in proc.stdout


def test_renderer_names_load_on_first_use():
    """``import renderer`` loads NumPy and the upmix only; every exported name resolves."""
    code = ("import sys, renderer\n"
            "early = sorted(m for m in sys.modules if m.startswith(('scipy', 'soundfile')))\n"
            "assert not early, early\n"
            "missing = [n for n in renderer.__all__ if not hasattr(renderer, n)]\n"
            "assert not missing, missing\n"
            "assert callable(renderer.upmix) and renderer.Convolver.__name__ == 'Convolver'\n"
            "import device\n"
            "assert 'jack' not in sys.modules and 'pythonosc' not in sys.modules\n")
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
