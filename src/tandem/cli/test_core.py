"""``tandem test core``: replay test stories against the dialogue policies of a model.

Each story is replayed teacher-forced (``tandem.testing.stories``); ``--e2e`` also scores
the NLU's reading of each user text. Writes, into ``--out``: ``story_report.json``,
``failed_test_stories.yml``, ``stories_with_warnings.yml`` (``successful_test_stories.yml``
with ``--successes``) and, unless ``--no-plot``, ``story_confusion_matrix.png`` (needs the
``plots`` extra; without it a warning, the rest unchanged); prints
the stories that failed (file:line of each wrong step) and the accuracies. The exit status
is 0 even when stories fail, as the reference's, unless ``--fail-on-prediction-errors``;
it is 1 when the stories or the model cannot be read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tandem.runtime.assistant import Assistant
    from tandem.testing.stories import StoryCase, StoryResult

FAILED_FILE = "failed_test_stories.yml"
SUCCESS_FILE = "successful_test_stories.yml"
# Stories in which action_unlikely_intent was predicted: only the reference's
# UnexpecTEDIntentPolicy predicts it, and Tandem has none, so the file says so.
WARNINGS_FILE = "stories_with_warnings.yml"
NO_WARNINGS = (
    "No test story had a warning: action_unlikely_intent is never predicted "
    "(Tandem has no UnexpecTEDIntentPolicy)."
)
REPORT_FILE = "story_report.json"
PLOT_FILE = "story_confusion_matrix.png"


def add_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument(
        "-s",
        "--stories",
        default="tests",
        help="test stories: a YAML file or a folder of them (default: tests)",
    )
    parser.add_argument(
        "-m", "--model", default="models", help="model archive or folder of them (default: models)"
    )
    parser.add_argument(
        "--out", default="results", help="folder for the reports (default: results)"
    )
    parser.add_argument(
        "--e2e",
        action="store_true",
        help="also compare the NLU's intent and entities of each user text with the story's "
        "(reads only files named test_*)",
    )
    parser.add_argument(
        "--max-stories", type=int, metavar="N", help="test only the first N stories"
    )
    parser.add_argument("--successes", action="store_true", help=f"also write {SUCCESS_FILE}")
    parser.add_argument("--no-errors", action="store_true", help=f"do not write {FAILED_FILE}")
    parser.add_argument("--no-warnings", action="store_true", help=f"do not write {WARNINGS_FILE}")
    parser.add_argument(
        "--endpoints",
        help="accepted for compatibility: stories are replayed teacher-forced, so no action "
        "runs and no endpoint is needed",
    )
    parser.add_argument(
        "--fail-on-prediction-errors",
        action="store_true",
        help="exit with status 1 if any story has a wrong prediction",
    )
    parser.add_argument("--no-plot", action="store_true", help=f"do not write {PLOT_FILE}")


def run(args: argparse.Namespace) -> int:
    from tandem.model.archive import ArchiveError
    from tandem.model.loading import load_assistant
    from tandem.project.errors import ProjectError

    try:
        assistant = load_assistant(Path(args.model))
        cases = _cases(args, assistant)
    except ProjectError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 1
    except (ArchiveError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if not cases:
        only = " named test_*" if args.e2e else ""
        print(
            f"warning: no test stories found in files{only} under {args.stories}", file=sys.stderr
        )
    from tandem.testing.stories import story_report

    results = asyncio.run(_replay_all(assistant, cases, e2e=args.e2e))
    report = story_report(results)
    _write(
        results,
        report,
        Path(args.out),
        successes=args.successes,
        errors=not args.no_errors,
        warnings=not args.no_warnings,
    )
    if not args.no_plot:
        _plot(results, Path(args.out))
    _print(results, report)
    print(f"\nReports written to {args.out}/")
    failed = any(result.failed for result in results)
    return 1 if failed and args.fail_on_prediction_errors else 0


def _cases(args: argparse.Namespace, assistant: Assistant) -> list[StoryCase]:
    from tandem.project.data_files import load_test_stories
    from tandem.project.errors import Problem
    from tandem.testing.stories import story_cases

    if not assistant.policies:
        raise ValueError(f"the model at {args.model} has no dialogue policies to test")
    warnings: list[Problem] = []
    stories = load_test_stories(
        [args.stories], assistant.domain.slots, warnings, test_files_only=args.e2e
    )
    for warning in warnings:
        print(warning, file=sys.stderr)
    cases = story_cases(stories, assistant.domain)
    return cases if args.max_stories is None else cases[: max(args.max_stories, 0)]


async def _replay_all(
    assistant: Assistant, cases: list[StoryCase], *, e2e: bool
) -> list[StoryResult]:
    from tandem.testing.stories import replay

    return [
        await replay(assistant, case, e2e=e2e, sender_id=f"test-story-{index}")
        for index, case in enumerate(cases)
    ]


def _write(
    results: list[StoryResult],
    report: dict[str, Any],
    out: Path,
    *,
    successes: bool,
    errors: bool,
    warnings: bool,
) -> None:
    from tandem.testing.stories import stories_yaml

    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    (out / REPORT_FILE).write_text(text + "\n", "utf-8")
    if errors:
        failed = [result for result in results if result.failed]
        (out / FAILED_FILE).write_text(stories_yaml(failed, "No test story failed."), "utf-8")
    if warnings:
        (out / WARNINGS_FILE).write_text(stories_yaml([], NO_WARNINGS), "utf-8")
    if successes:
        passed = [result for result in results if not result.failed]
        (out / SUCCESS_FILE).write_text(stories_yaml(passed, "No test story passed."), "utf-8")


def _plot(results: list[StoryResult], out: Path) -> None:
    from tandem.testing import plots
    from tandem.testing.stories import scored_labels

    warning = plots.missing()
    if warning:
        print(warning, file=sys.stderr)
        return
    gold, predicted = scored_labels(results)
    if gold:
        plots.confusion_matrix(gold, predicted, out / PLOT_FILE, title="Story labels")


def _print(results: list[StoryResult], report: dict[str, Any]) -> None:
    from tandem.conversation.events import UserUttered
    from tandem.nlu.evaluation import format_report

    for result in results:
        if result.failed:
            block = result.story.block
            print(f"FAILED story '{block.name}' ({block.source})")
            for step in result.failures:
                print(f"  {step.source}: {step.mismatch()}")
    passed = sum(not result.failed for result in results)
    print(f"\nStories: {passed} passed, {len(results) - passed} failed (of {len(results)})")
    scored = [step for result in results for step in result.steps if step.expected is not None]
    for kind, steps in (
        ("Actions", [s for s in scored if not isinstance(s.event, UserUttered)]),
        (
            "User turns (intent and entities)",
            [s for s in scored if isinstance(s.event, UserUttered)],
        ),
    ):
        if steps:
            correct = sum(not step.failed for step in steps)
            print(f"{kind}: {correct} / {len(steps)} correct ({correct / len(steps):.3f})")
    if report:
        rows = {key: value for key, value in report.items() if key != "conversation_accuracy"}
        print("\n" + format_report(rows, "label"))
