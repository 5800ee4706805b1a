#!/usr/bin/env python3
"""The test reports of tools/test.sh.

  test_summary.py REPORT...
      Adds up JUnit XML reports of all suites into one line: 'N passed, M failed, K skipped'.
      Exits 1 if a test failed or a report is missing or unreadable (a suite that did not run
      must not look like a pass).
  test_summary.py --suite NAME --exit-status RC --output LOG REPORT
      Makes sure suite NAME left a JUnit report at REPORT: a suite that writes none but prints
      a line 'N passed, M failed[, K skipped]' (its last such line in LOG) gets one made from
      that line; one that did neither gets a failed case. A suite that exited non-zero without
      reporting a failure gets a failed case added, so the summary cannot read as a pass.
  test_summary.py --case NAME --report REPORT [--failure MESSAGE]
      Writes a report of one case (passed, or failed with MESSAGE): a build, a sanitizer log.
"""
import argparse
import os
import re
import sys
import xml.etree.ElementTree as ET

SUMMARY = re.compile(r"^\s*(\d+) passed, (\d+) failed(?:, (\d+) skipped)?\b", re.M)


def not_selected(case):
    """A lit test left out by --filter/--filter-out: another suite of the run reports it."""
    skip = case.find("skipped")
    return skip is not None and skip.get("message", "").startswith("Test not selected")


def count(root):
    passed = failed = skipped = 0
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif not_selected(case):
            continue
        elif case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


def clean(text):
    """Text that XML can hold (sanitizer reports may carry control characters)."""
    return re.sub(r"[^\t\n\r\x20-\ud7ff\ue000-\ufffd]", "?", text)


def write(path, suite, cases):
    """cases: (name, None | 'failure' | 'skipped', message)."""
    cases = [(clean(name), kind, clean(message)) for name, kind, message in cases]
    root = ET.Element("testsuites")
    node = ET.SubElement(root, "testsuite", name=suite, tests=str(len(cases)))
    for name, kind, message in cases:
        case = ET.SubElement(node, "testcase", classname=suite, name=name)
        if kind:
            ET.SubElement(case, kind, message=message).text = message
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def summarize(paths):
    passed = failed = skipped = 0
    broken = []
    for path in paths:
        try:
            p, f, s = count(ET.parse(path).getroot())
        except (OSError, ET.ParseError) as error:
            broken.append(f"{path}: {error}")
            continue
        passed, failed, skipped = passed + p, failed + f, skipped + s
    for problem in broken:
        print(f"test_summary: unreadable report {problem}", file=sys.stderr)
    if not paths:
        print("test_summary: no test reports found", file=sys.stderr)
    failed += len(broken) + (0 if paths else 1)
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


def normalize_suite(name, exit_status, log, report):
    failed = 0
    if os.path.exists(report):
        try:
            failed = count(ET.parse(report).getroot())[1]
        except (OSError, ET.ParseError):
            return 0  # the summary reports it as unreadable (a failure)
    else:
        try:
            with open(log, errors="replace") as f:
                lines = SUMMARY.findall(f.read())
        except OSError:
            lines = []
        if lines:
            p, f, s = (int(x or 0) for x in lines[-1])
            cases = ([(f"{name} #{i + 1}", None, "") for i in range(p)] +
                     [(f"{name} failed #{i + 1}", "failure", "see the suite's output")
                      for i in range(f)] +
                     [(f"{name} skipped #{i + 1}", "skipped", "") for i in range(s)])
            failed = f
        else:
            cases = [(name, "failure", "the suite wrote no report and printed no summary")]
            failed = 1
        write(report, name, cases)
    if exit_status != 0 and failed == 0:
        root = ET.parse(report).getroot()
        suite = root if root.tag == "testsuite" else root.find("testsuite")
        if suite is None:
            suite = ET.SubElement(root, "testsuite", name=name)
        case = ET.SubElement(suite, "testcase", classname=name, name=f"{name} exit status")
        message = f"{name} exited with status {exit_status} but reported no failure"
        ET.SubElement(case, "failure", message=message).text = message
        ET.ElementTree(root).write(report, encoding="utf-8", xml_declaration=True)
    return 0


def main(argv):
    if not argv or not argv[0].startswith("--"):
        return summarize(argv)
    parser = argparse.ArgumentParser()
    parser.add_argument("--suite")
    parser.add_argument("--exit-status", type=int, default=0)
    parser.add_argument("--output")
    parser.add_argument("--case")
    parser.add_argument("--failure")
    parser.add_argument("--report", required=False)
    parser.add_argument("positional", nargs="?")
    args = parser.parse_args(argv)
    report = args.report or args.positional
    if not report:
        parser.error("a report path is required")
    if args.suite:
        return normalize_suite(args.suite, args.exit_status, args.output or "", report)
    if args.case:
        write(report, args.case, [(args.case, "failure" if args.failure else None,
                                   args.failure or "")])
        return 0
    parser.error("--suite or --case")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
