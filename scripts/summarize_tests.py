"""Print one closing line over every suite: 'tests: N passed, N failed, N skipped'.

Reads jest's --json output, pytest's JUnit XML and Playwright's JSON report, and optionally a
fourth file: the release test's JUnit XML (release_tests/, a pytest run of its own), and a fifth:
the Playwright report of the store-states run (playwright.store.config.js). A report that
is missing, or counts no test, counts as a failure (its suite did not run), so the line cannot hide a broken suite.
"""
from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def jest_counts(path: Path) -> tuple[int, int, int]:
    report = json.loads(path.read_text())
    return report["numPassedTests"], report["numFailedTests"], report["numPendingTests"]


def pytest_counts(path: Path) -> tuple[int, int, int]:
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = sum(int(s.get("tests", 0)) for s in suites)
    failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    return total - failed - skipped, failed, skipped


def playwright_counts(path: Path) -> tuple[int, int, int]:
    stats = json.loads(path.read_text())["stats"]
    return stats["expected"], stats["unexpected"] + stats.get("flaky", 0), stats["skipped"]


def main(jest: str, pytest: str, playwright: str, release: str | None = None,
         playwright_store: str | None = None) -> int:
    passed = failed = skipped = 0
    suites = [
        ("jest", jest_counts, jest),
        ("pytest", pytest_counts, pytest),
        ("galata", playwright_counts, playwright),
    ]
    if release is not None:
        suites.append(("release", pytest_counts, release))
    if playwright_store is not None:
        suites.append(("galata (store off, failing)", playwright_counts, playwright_store))
    for name, reader, path in suites:
        try:
            p, f, s = reader(Path(path))
        except (OSError, ValueError, KeyError, ET.ParseError) as error:
            print(f"{name}: no report at {path} ({error}); counted as one failure")
            p, f, s = 0, 1, 0
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
