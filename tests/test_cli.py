"""python -m huinong: exit codes and messages a clerk (or cron) can act on."""

import subprocess
import sys

from huinong import REPO_ROOT


def _huinong(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "huinong", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_build_from_a_missing_folder_fails_with_a_clear_message(tmp_path):
    result = _huinong(
        "build", "--raw-dir", str(tmp_path / "nowhere"), "--db", str(tmp_path / "w.duckdb")
    )
    assert result.returncode == 1
    assert "构建失败" in result.stderr and "原始数据文件夹不存在" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "w.duckdb").exists()


def test_build_rejects_a_malformed_as_of_date(tmp_path):
    result = _huinong(
        "build",
        "--raw-dir",
        str(tmp_path),
        "--db",
        str(tmp_path / "w.duckdb"),
        "--as-of",
        "2024-02-30",
    )
    assert result.returncode == 2
    assert "日期格式应为 YYYY-MM-DD" in result.stderr


def test_generate_then_build_from_the_command_line(tmp_path):
    raw = tmp_path / "raw"
    generated = _huinong("generate", "--households", "200", "--seed", "3", "--out", str(raw))
    assert generated.returncode == 0, generated.stderr
    assert "households" in generated.stdout
    built = _huinong("build", "--raw-dir", str(raw), "--db", str(tmp_path / "w.duckdb"))
    assert built.returncode == 0, built.stderr
    for stage in ("[1/4]", "[2/4]", "[3/4]", "[4/4]", "构建完成"):
        assert stage in built.stdout
    assert (tmp_path / "w.duckdb").exists()
