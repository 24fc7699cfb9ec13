"""``tandem test e2e``: run end-to-end test cases against the trained model.

Prints one line per test case in file order, then a report of each failure (file:line of
the test case and of the first mismatching step, with a diff), then as its last line the
summary ``N failed, M passed`` (``, K skipped`` when some were). Exit status 1 when a test
case failed, none was found or the files or model cannot be read.

Optionally writes the results as YAML (``-o``), the failed test cases as runnable test
files (``-f``), JUnit XML and a coverage report. LLM-judge assertions use the judge of the
nearest conftest.yml's ``llm_judge`` (model groups from ``--endpoints``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tandem.project.domain import Domain
    from tandem.project.training_data import TrainingData
    from tandem.runtime.processor import MessageProcessor
    from tandem.testing.runner import TestResult

DEFAULT_PATHS = ("tests", "e2e_tests")
DEFAULT_COVERAGE_DIR = "e2e_coverage_results"
DEFAULT_OUTPUT_DIR = "tests"  # of -o and -f when given without a folder


def add_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="test files or folders; `file.yml::name` runs one test case "
        f"(default: the first of {', '.join(DEFAULT_PATHS)} with e2e test files)",
    )
    parser.add_argument(
        "-m", "--model", default="models", help="model archive or folder of archives"
    )
    parser.add_argument(
        "--endpoints", default="endpoints.yml", help="endpoints file (default: endpoints.yml)"
    )
    parser.add_argument(
        "--fail-fast", action="store_true", help="stop after the first failed test case"
    )
    parser.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="run N conversations at once (results are reported in file order)",
    )
    parser.add_argument("--junit", metavar="FILE", help="also write the results as JUnit XML")
    parser.add_argument(
        "-o",
        "--e2e-results",
        nargs="?",
        const=DEFAULT_OUTPUT_DIR,
        metavar="DIR",
        help="write e2e_results_passed.yml and e2e_results_failed.yml "
        f"(default folder: {DEFAULT_OUTPUT_DIR})",
    )
    parser.add_argument(
        "-f",
        "--e2e-failed-tests",
        nargs="?",
        const=DEFAULT_OUTPUT_DIR,
        metavar="DIR",
        help="re-write the failed test cases as test files in a timestamped folder "
        f"(default: under {DEFAULT_OUTPUT_DIR})",
    )
    parser.add_argument(
        "--coverage-report", action="store_true", help="write what the tests exercised"
    )
    parser.add_argument(
        "--coverage-output-path",
        default=DEFAULT_COVERAGE_DIR,
        metavar="DIR",
        help=f"folder of the coverage report (default: {DEFAULT_COVERAGE_DIR})",
    )
    parser.add_argument(
        "--data",
        nargs="+",
        default=["data"],
        help="training data, for the rules and stories of the coverage report (default: data)",
    )


def run(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        print("-j needs a number of at least 1", file=sys.stderr)
        return 2
    return asyncio.run(_test(args))


def _targets(paths: list[str]) -> list[str]:
    """The paths given, or the first default folder with e2e test files in it: a ``tests/``
    folder of test stories (for ``tandem test core``) or of result files does not count."""
    if paths:
        return paths
    existing = [p for p in DEFAULT_PATHS if Path(p).exists()]
    return [next((p for p in existing if _has_test_cases(Path(p))), (existing or DEFAULT_PATHS)[0])]


def _has_test_cases(folder: Path) -> bool:
    from tandem.project.errors import ProjectError
    from tandem.project.yaml import read_yaml, yaml_files

    for file in yaml_files(folder):
        try:
            data = read_yaml(file, expand=False)
        except ProjectError:  # a broken file: let the run report it, with its line
            return True
        if isinstance(data, dict) and "test_cases" in data:
            return True
    return False


async def _test(args: argparse.Namespace) -> int:
    from tandem.cli.shell import close_processor
    from tandem.model.archive import ArchiveError
    from tandem.model.loading import open_processor
    from tandem.project.endpoints import load_endpoints
    from tandem.project.errors import Problem, ProjectError
    from tandem.testing.cases import load_test_cases
    from tandem.testing.judge import Judges
    from tandem.testing.report import result_line, summary_line
    from tandem.testing.runner import run_cases

    warnings: list[Problem] = []
    try:
        cases = load_test_cases(_targets(args.paths), warnings=warnings)
    except ProjectError as error:
        print(f"Cannot read the test files:\n{error}", file=sys.stderr)
        return 1
    for warning in warnings:
        print(warning, file=sys.stderr)
    if not cases:
        print("No test cases found.", file=sys.stderr)
        print(summary_line([]))
        return 1
    try:
        processor = await open_processor(Path(args.model), Path(args.endpoints))
    except (ArchiveError, ProjectError, FileNotFoundError) as error:
        print(f"Cannot load the model: {error}", file=sys.stderr)
        return 1
    try:
        judges = Judges.for_cases(cases, load_endpoints(Path(args.endpoints)))
    except ProjectError as error:
        await close_processor(processor)
        print(f"Cannot set up the LLM judge:\n{error}", file=sys.stderr)
        return 1
    try:
        results = await run_cases(
            processor,
            cases,
            concurrency=args.jobs,
            fail_fast=args.fail_fast,
            on_result=lambda result: print(result_line(result), flush=True),
            judges=judges,
        )
    finally:
        await judges.aclose()
        await close_processor(processor)
    _report(args, results, processor)
    print()
    print(summary_line(results))
    return 1 if any(result.status == "failed" for result in results) else 0


def _report(
    args: argparse.Namespace, results: list[TestResult], processor: MessageProcessor
) -> None:
    """Print the failures, then write (and name) the files the options ask for."""
    from tandem.testing.report import failure_report, notes_report, write_junit
    from tandem.testing.results import write_failed_tests, write_results

    for result in results:
        lines = failure_report(result) + notes_report(result)
        if lines:
            print("", *lines, sep="\n")
    if args.junit:
        write_junit(results, Path(args.junit))
    if args.e2e_results is not None:
        written = write_results(results, Path(args.e2e_results))
        print("", "results written to " + ", ".join(map(str, written)), sep="\n")
    if args.e2e_failed_tests is not None:
        files = write_failed_tests(results, Path(args.e2e_failed_tests))
        if files:
            print("", "failed test cases written to " + ", ".join(map(str, files)), sep="\n")
    if args.coverage_report:
        _coverage(args, results, processor)


def _coverage(
    args: argparse.Namespace, results: list[TestResult], processor: MessageProcessor
) -> None:
    from tandem.testing.coverage import coverage_summary, write_coverage

    report = write_coverage(
        results,
        processor.assistant.domain,
        processor.assistant.flows or None,
        Path(args.coverage_output_path),
        _training_data(args.data, processor.assistant.domain),
    )
    print("", *coverage_summary(report), sep="\n")


def _training_data(paths: list[str], domain: Domain) -> TrainingData | None:
    """The project's rules and stories, for coverage; ``None`` (reported as not read) when
    there is no training data or it cannot be read."""
    from tandem.project.data_files import load_training_data
    from tandem.project.errors import ProjectError

    if not any(Path(path).exists() for path in paths):
        return None
    try:
        data, _ = load_training_data(paths, domain.slots, warnings=[])
    except ProjectError as error:
        print(f"Cannot read the training data for coverage:\n{error}", file=sys.stderr)
        return None
    return data
