"""scripts/summarize_tests.py: the closing line of the test command, and the failed tests named
above it (CI shows the end of the log)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "summarize_tests.py"


def run(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, paths)],
                          capture_output=True, text=True, check=False)


def reports(tmp_path: Path, *, jest_failed: bool, pytest_failed: bool, galata_failed: bool):
    jest = tmp_path / "jest.json"
    jest.write_text(json.dumps({
        "numPassedTests": 1, "numFailedTests": int(jest_failed), "numPendingTests": 0,
        "testResults": [{"name": "/r/src/engine/__tests__/transport.spec.ts", "status": "failed",
                         "assertionResults": [
                             {"fullName": "replay is inflated", "status": "passed"},
                             *([{"fullName": "replay fails alone", "status": "failed"}]
                               if jest_failed else [])]},
                        {"name": "/r/src/broken.spec.ts", "status": "failed",
                         "message": "\n  SyntaxError: Unexpected token\n more",
                         "assertionResults": []}],
    }))
    failure = '<failure message="assert 11 >= 12"/>' if pytest_failed else ""
    junit = tmp_path / "pytest.xml"
    junit.write_text(
        '<testsuites><testsuite tests="2" failures="%d" errors="0" skipped="0">'
        '<testcase classname="jupyterlab_fanout.tests.test_engine" name="test_ticks">%s</testcase>'
        '<testcase classname="jupyterlab_fanout.tests.test_engine" name="test_other"/>'
        '</testsuite></testsuites>' % (int(pytest_failed), failure))
    status = "unexpected" if galata_failed else "expected"
    galata = tmp_path / "galata.json"
    galata.write_text(json.dumps({
        "stats": {"expected": 1 - int(galata_failed), "unexpected": int(galata_failed),
                  "skipped": 0},
        "suites": [{"title": "board.spec.ts", "specs": [], "suites": [{
            "title": "Board", "specs": [{"title": "opens", "file": "board.spec.ts", "line": 7,
                                         "tests": [{"status": status}]}]}]}],
    }))
    return jest, junit, galata


def test_failed_tests_are_named_above_the_counts(tmp_path):
    result = run(*reports(tmp_path, jest_failed=True, pytest_failed=True, galata_failed=True))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert "jest failed: transport.spec.ts › replay fails alone" in lines
    assert "jest failed: broken.spec.ts: SyntaxError: Unexpected token" in lines
    assert "pytest failed: jupyterlab_fanout.tests.test_engine::test_ticks" in lines
    assert "galata failed: board.spec.ts:7 › opens (unexpected)" in lines
    assert lines[-1] == "tests: 2 passed, 3 failed, 0 skipped"


def test_a_green_run_names_nothing(tmp_path):
    jest, junit, galata = reports(tmp_path, jest_failed=False, pytest_failed=False,
                                  galata_failed=False)
    report = json.loads(jest.read_text())
    report["testResults"].pop()  # no file failed to load either
    jest.write_text(json.dumps(report))
    result = run(jest, junit, galata)
    assert result.returncode == 0, result.stdout
    assert "failed:" not in result.stdout
    assert result.stdout.splitlines()[-1] == "tests: 4 passed, 0 failed, 0 skipped"


def test_a_missing_report_is_a_failure(tmp_path):
    jest, junit, _ = reports(tmp_path, jest_failed=False, pytest_failed=False,
                             galata_failed=False)
    result = run(jest, junit, tmp_path / "absent.json")
    assert result.returncode == 1
    assert "galata: no report at" in result.stdout
