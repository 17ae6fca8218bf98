"""The house style is checked, not hoped for: ruff for Python, sqlfluff for the dbt models."""

import subprocess
import sys
from pathlib import Path

from huinong import REPO_ROOT

BIN = Path(sys.executable).parent


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_lint_finds_nothing():
    result = _run(str(BIN / "ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_applied():
    result = _run(str(BIN / "ruff"), "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_sqlfluff_passes_on_every_model():
    result = _run(str(BIN / "sqlfluff"), "lint", "models")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
