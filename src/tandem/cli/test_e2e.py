"""``tandem test e2e``: run end-to-end test cases against the trained model.

Prints one line per test case in file order, then a report of each failure (file:line of
the test case and of the first mismatching step, with a diff), then as its last line the
summary ``N failed, M passed`` (``, K skipped`` when some were). Exit status 1 when a test
case failed, none was found or the files or model cannot be read.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

DEFAULT_PATHS = ("tests", "e2e_tests")
DEFAULT_COVERAGE_DIR = "e2e_coverage_results"


def add_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="test files or folders; `file.yml::name` runs one test case "
        f"(default: the first of {', '.join(DEFAULT_PATHS)} that exists)",
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
        "--coverage-report", action="store_true", help="write what the tests exercised"
    )
    parser.add_argument(
        "--coverage-output-path",
        default=DEFAULT_COVERAGE_DIR,
        metavar="DIR",
        help=f"folder of the coverage report (default: {DEFAULT_COVERAGE_DIR})",
    )


def run(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        print("-j needs a number of at least 1", file=sys.stderr)
        return 2
    return asyncio.run(_test(args))


def _targets(paths: list[str]) -> list[str]:
    if paths:
        return paths
    return [next((p for p in DEFAULT_PATHS if Path(p).exists()), DEFAULT_PATHS[0])]


async def _test(args: argparse.Namespace) -> int:
    from tandem.calm.flows import FlowsList
    from tandem.cli.shell import close_processor
    from tandem.model.archive import ArchiveError
    from tandem.model.loading import open_processor
    from tandem.project.errors import ProjectError
    from tandem.testing.cases import load_test_cases
    from tandem.testing.coverage import coverage_summary, write_coverage
    from tandem.testing.report import (
        failure_report,
        notes_report,
        result_line,
        summary_line,
        write_junit,
    )
    from tandem.testing.runner import run_cases

    try:
        cases = load_test_cases(_targets(args.paths))
    except ProjectError as error:
        print(f"Cannot read the test files:\n{error}", file=sys.stderr)
        return 1
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
        results = await run_cases(
            processor,
            cases,
            concurrency=args.jobs,
            fail_fast=args.fail_fast,
            on_result=lambda result: print(result_line(result), flush=True),
        )
    finally:
        await close_processor(processor)
    for result in results:
        lines = failure_report(result) + notes_report(result)
        if lines:
            print("", *lines, sep="\n")
    if args.junit:
        write_junit(results, Path(args.junit))
    if args.coverage_report:
        flows = processor.assistant.services.get("flows")
        report = write_coverage(
            results,
            processor.assistant.domain,
            flows if isinstance(flows, FlowsList) else None,
            Path(args.coverage_output_path),
        )
        print("", *coverage_summary(report), sep="\n")
    print()
    print(summary_line(results))
    return 1 if any(result.status == "failed" for result in results) else 0
