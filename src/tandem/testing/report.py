"""What a test run prints and writes: one line per test case, failure reports with file:line
and a diff, the summary line (``N failed, M passed[, K skipped]``) and JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from tandem.testing.runner import TestResult

_LABELS = {"passed": "PASSED ", "failed": "FAILED ", "skipped": "SKIPPED"}


def result_line(result: TestResult) -> str:
    return f"{_LABELS[result.status]} {result.case.id}"


def failure_report(result: TestResult) -> list[str]:
    """The headline, where the mismatch starts, what differs; empty for a passing test."""
    failure = result.failure
    if failure is None:
        return []
    case = result.case
    return [
        f"'{case.name}' in {case.source} failed",
        f"Mismatch starting at {failure.source}",
        f"  {failure.message}",
        *(f"  {line}" for line in failure.details),
    ]


def notes_report(result: TestResult) -> list[str]:
    """Assertions that were not checked, so that nothing passes silently."""
    if not result.notes:
        return []
    return [f"'{result.case.name}': not checked:", *(f"  {note}" for note in result.notes)]


def summary_line(results: Sequence[TestResult]) -> str:
    counts = Counter(result.status for result in results)
    line = f"{counts['failed']} failed, {counts['passed']} passed"
    return line + (f", {counts['skipped']} skipped" if counts["skipped"] else "")


def write_junit(results: Sequence[TestResult], path: Path) -> None:
    counts = Counter(result.status for result in results)
    total_time = f"{sum(result.duration for result in results):.3f}"
    attributes = {
        "name": "tandem e2e",
        "tests": str(len(results)),
        "failures": str(counts["failed"]),
        "skipped": str(counts["skipped"]),
        "errors": "0",
        "time": total_time,
    }
    root = ET.Element("testsuites", attributes)
    suite = ET.SubElement(root, "testsuite", attributes)
    for result in results:
        case = result.case
        element = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": case.source.path,
                "name": case.name,
                "file": case.source.path,
                "line": str(case.source.line),
                "time": f"{result.duration:.3f}",
            },
        )
        if result.failure is not None:
            report = failure_report(result)
            failure = ET.SubElement(element, "failure", {"message": result.failure.message})
            failure.text = "\n".join(report)
        elif result.status == "skipped":
            ET.SubElement(element, "skipped", {"message": "; ".join(result.notes)})
        if result.notes:
            ET.SubElement(element, "system-out").text = "\n".join(notes_report(result))
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
