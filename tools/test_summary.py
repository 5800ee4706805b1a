#!/usr/bin/env python3
"""Adds up JUnit XML reports of all suites into one line: 'N passed, M failed, K skipped'.

Exits 1 if a test failed or a report is missing or unreadable (a suite that did not run must
not look like a pass)."""
import sys
import xml.etree.ElementTree as ET


def main(paths):
    passed = failed = skipped = 0
    broken = []
    for path in paths:
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError) as error:
            broken.append(f"{path}: {error}")
            continue
        for case in root.iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
            elif case.find("skipped") is not None:
                skipped += 1
            else:
                passed += 1
    for problem in broken:
        print(f"test_summary: unreadable report {problem}", file=sys.stderr)
    if not paths:
        print("test_summary: no test reports found", file=sys.stderr)
    failed += len(broken) + (0 if paths else 1)
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
