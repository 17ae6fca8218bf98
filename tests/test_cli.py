"""python -m huinong: exit codes and messages a clerk (or cron) can act on."""

import json
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


def _events(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_build_from_a_missing_folder_fails_with_a_clear_message(tmp_path):
    events = tmp_path / "events.jsonl"
    result = _huinong(
        "build",
        "--raw-dir",
        str(tmp_path / "nowhere"),
        "--db",
        str(tmp_path / "w.duckdb"),
        "--events",
        str(events),
    )
    assert result.returncode == 1
    assert "构建失败" in result.stderr and "原始数据文件夹不存在" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "w.duckdb").exists()
    # The same words, as the event a program reads.
    assert _events(events) == [{"event": "failed", "message": result.stderr.strip()}]


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
    events = tmp_path / "events.jsonl"
    built = _huinong(
        "build", "--raw-dir", str(raw), "--db", str(tmp_path / "w.duckdb"), "--events", str(events)
    )
    assert built.returncode == 0, built.stderr
    for stage in ("[1/4]", "[2/4]", "[3/4]", "[4/4]", "构建完成"):
        assert stage in built.stdout
    assert (tmp_path / "w.duckdb").exists()
    # Every line the terminal shows is also an event, the stages as numbers.
    written = _events(events)
    stages = [event for event in written if event["event"] == "stage"]
    assert [event["stage"] for event in stages] == [1, 2, 3, 4]
    assert all(f"[{event['stage']}/4] {event['text']}" in built.stdout for event in stages)
    models = [event for event in written if event["event"] == "model"]
    assert "household_scores" in {event["name"] for event in models}
    assert all(event["status"] == "success" for event in models)
    published = written[-1]
    assert published["event"] == "published" and published["text"] in built.stdout
    assert published["row_counts"]["household_scores"] > 0
