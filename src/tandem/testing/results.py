"""Files a run leaves for tools and for the next run.

``write_results`` (``-o``) writes one YAML list per outcome: ``<stem>_passed.yml`` and
``<stem>_failed.yml`` always, ``<stem>_skipped.yml`` when test cases went unchecked (they
neither passed nor failed, and must not hide in either file). Each entry has ``name``,
``pass_status`` and ``expected_steps`` (the steps as written); a failure adds ``error_path``
(``file:line`` of the mismatch) and ``difference`` (step form), ``assertion_failure``
(assertion form) or ``error_message`` (a crash, an unstubbed action).

``write_failed_tests`` (``-f``) re-writes the failed test cases as test files that run on
their own: one file per original file (its stubs apply to all its cases), with the
fixtures and metadata they may use, conftest.yml ones included.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from tandem.project.yaml import plain
from tandem.testing.cases import FAILED_TESTS_FOLDER, SELECTOR, TestCase
from tandem.testing.definitions import as_written
from tandem.testing.runner import Failure, TestResult

RESULTS_STEM = "e2e_results"
_YAML_SUFFIXES = (".yml", ".yaml")


def write_results(results: Sequence[TestResult], target: Path) -> list[Path]:
    """Write the result files into folder ``target`` (or, for ``target`` ending in .yml,
    next to it with its stem); returns the files written."""
    directory, stem = (
        (target.parent, target.stem) if target.suffix in _YAML_SUFFIXES else (target, RESULTS_STEM)
    )
    written = []
    for status in ("passed", "failed", "skipped"):
        entries = [result_entry(r) for r in results if r.status == status]
        if entries or status != "skipped":
            path = directory / f"{stem}_{status}.yml"
            _dump(entries, path)
            written.append(path)
    return written


def result_entry(result: TestResult) -> dict[str, Any]:
    case = result.case
    entry: dict[str, Any] = {
        "name": case.name,
        "pass_status": result.status == "passed",
        "expected_steps": plain(list(case.written.get("steps") or [])),
    }
    if result.notes:
        entry["not_checked"] = list(result.notes)
    if result.failure is not None:
        entry.update(_failure_entry(result.failure))
    return entry


def _failure_entry(failure: Failure) -> dict[str, Any]:
    entry: dict[str, Any] = {"error_path": str(failure.source)}
    if failure.difference:
        entry["difference"] = list(failure.difference)
    elif failure.assertion is not None:
        entry["assertion_failure"] = {
            "assertion": plain(dict(failure.assertion)),
            "error_message": failure.message,
            "actual_events_transcript": list(failure.transcript),
        }
    else:
        entry["error_message"] = " ".join(filter(None, (failure.message, failure.context)))
    return entry


def write_failed_tests(
    results: Sequence[TestResult], directory: Path, stamp: str | None = None
) -> list[Path]:
    """Re-write the failed test cases under ``directory/e2e_failed_tests_<stamp>/``; returns
    the files written (none when nothing failed)."""
    by_file: dict[str, list[TestCase]] = {}
    for result in results:
        if result.status == "failed":
            by_file.setdefault(result.case.source.path, []).append(result.case)
    if not by_file:
        return []
    folder = directory / f"{FAILED_TESTS_FOLDER}{stamp or time.strftime('%Y%m%d-%H%M%S')}"
    written = []
    for name, cases in zip(_file_names(by_file), by_file.values(), strict=True):
        written.append(folder / name)
        _dump(standalone_test_file(cases), written[-1])
    return written


def standalone_test_file(cases: Sequence[TestCase]) -> dict[str, Any]:
    """A test file that runs ``cases`` (all read from one file) without that file."""
    data = as_written(cases[0].definitions)
    if any(case.stubs is not None for case in cases):
        data["stub_custom_actions"] = {
            f"{case.name}{SELECTOR}{action}": stub.reply()
            for case in cases
            for action, stub in (case.stubs or {}).items()
        }
    data["test_cases"] = [plain(dict(case.written)) for case in cases]
    return data


def _file_names(paths: Mapping[str, Any]) -> list[str]:
    """Each original file's name, numbered when two folders hold files of one name."""
    names: list[str] = []
    for path in paths:
        stem = Path(path).stem
        name, count = f"{stem}.yml", 1
        while name in names:
            count += 1
            name = f"{stem}_{count}.yml"
        names.append(name)
    return names


def _dump(data: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    path.write_text(text, encoding="utf-8")
