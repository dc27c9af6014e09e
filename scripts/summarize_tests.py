"""Print one closing line over every suite: 'tests: N passed, N failed, N skipped'.

Reads jest's --json output, pytest's JUnit XML and Playwright's JSON report, and optionally a
fourth file: the release test's JUnit XML (release_tests/, a pytest run of its own), and a fifth:
the Playwright report of the store-states run (playwright.store.config.js). A report that
is missing, or counts no test, counts as a failure (its suite did not run), so the line cannot hide a broken suite.
Each failed test is named above the counts (CI shows the end of the log: its name must be there).
"""
from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterator, List, Tuple

#: At most this many failed tests are named per suite.
NAMED = 20


#: A suite's report, read once: (passed, failed, skipped) and the failed tests' names.
Summary = Tuple[Tuple[int, int, int], List[str]]


def jest_summary(path: Path) -> Summary:
    report = json.loads(path.read_text())
    named = []
    for suite in report["testResults"]:
        file = Path(suite["name"]).name
        named += [f"{file} › {test['fullName']}" for test in suite["assertionResults"]
                  if test["status"] == "failed"]
        if suite.get("status") == "failed" and not suite["assertionResults"]:
            # A file that failed before any test ran (a syntax error, a failing import).
            message = (suite.get("message") or "").strip().splitlines()
            named.append(f"{file}: {message[0] if message else 'failed before its tests ran'}")
    counts = report["numPassedTests"], report["numFailedTests"], report["numPendingTests"]
    return counts, named


def pytest_summary(path: Path) -> Summary:
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = sum(int(s.get("tests", 0)) for s in suites)
    failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    named = [f"{case.get('classname')}::{case.get('name')}" for case in root.iter("testcase")
             if case.find("failure") is not None or case.find("error") is not None]
    return (total - failed - skipped, failed, skipped), named


def playwright_summary(path: Path) -> Summary:
    def specs(suite: dict) -> Iterator[dict]:
        yield from suite.get("specs", [])
        for inner in suite.get("suites", []):
            yield from specs(inner)

    report = json.loads(path.read_text())
    stats = report["stats"]
    named = [f"{spec['file']}:{spec['line']} › {spec['title']} ({test['status']})"
             for suite in report.get("suites", []) for spec in specs(suite)
             for test in spec["tests"] if test["status"] in ("unexpected", "flaky")]
    counts = stats["expected"], stats["unexpected"] + stats.get("flaky", 0), stats["skipped"]
    return counts, named


def main(jest: str, pytest: str, playwright: str, release: str | None = None,
         playwright_store: str | None = None) -> int:
    passed = failed = skipped = 0
    suites = [
        ("jest", jest_summary, jest),
        ("pytest", pytest_summary, pytest),
        ("galata", playwright_summary, playwright),
    ]
    if release is not None:
        suites.append(("release", pytest_summary, release))
    if playwright_store is not None:
        suites.append(("galata (store off, failing)", playwright_summary, playwright_store))
    for name, summary, path in suites:
        try:
            (p, f, s), failed_tests = summary(Path(path))
        except (OSError, ValueError, KeyError, ET.ParseError) as error:
            print(f"{name}: no report at {path} ({error}); counted as one failure")
            p, f, s = 0, 1, 0
            failed_tests = []
        for test in failed_tests[:NAMED]:
            print(f"{name} failed: {test}")
        if len(failed_tests) > NAMED:
            print(f"{name}: {len(failed_tests) - NAMED} more failed")
        if p + f + s == 0:
            # A suite that could not start (a port taken, a server that died) may still write an
            # empty report: no test run is a failure, not a pass.
            print(f"{name}: the report at {path} counts no test; counted as one failure")
            f = 1
        print(f"{name}: {p} passed, {f} failed, {s} skipped")
        passed, failed, skipped = passed + p, failed + f, skipped + s
    print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:6]))
