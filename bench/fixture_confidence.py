"""Do thresholds written for the reference work unchanged? Intent confidences on the test
stories of the fixture projects.

For each fixture project with test stories (``tests/*.yml`` in the reference's format, user
texts with their gold intents) and each of its ``config*.yml`` files, train the project, parse
every distinct user text and count how many the project's own ``FallbackClassifier`` threshold
sends to ``nlu_fallback``, how many get a wrong intent, the mean top confidence, and how many
fall below the thresholds projects commonly write; and how many of the project's own training
examples fall below 0.7. The texts are in-domain by construction, so the reference's
behaviour (top confidence about 0.99 on in-domain messages) implies no fallback at all.

    python bench/fixture_confidence.py [--out bench/results_fixture_confidence.json]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from common import REPO, emit, quiet_logs, train_project

FIXTURES = REPO / "tests" / "fixtures" / "projects"
FALLBACK = "nlu_fallback"
COMMON_THRESHOLDS = (0.3, 0.5, 0.7)


def gold_texts(project: Path) -> dict[str, str]:
    """Distinct user texts of the project's test stories, with their gold (base) intent."""
    from tandem.conversation.events import UserUttered
    from tandem.nlu.message import base_intent
    from tandem.project.data_files import load_test_stories

    texts: dict[str, str] = {}
    for block in load_test_stories([project / "tests"]):
        for step in block.steps:
            if isinstance(step, UserUttered) and step.text and step.intent_name:
                texts.setdefault(step.text.strip(), base_intent(step.intent_name))
    return texts


def measure(project: Path, config: str) -> dict[str, Any]:
    from tandem.model.loading import load_assistant
    from tandem.project.loader import load_project

    with tempfile.TemporaryDirectory() as folder:
        root = Path(shutil.copytree(project, Path(folder) / project.name))
        train_project(root, config=config)
        assistant = load_assistant(root / "models")
    examples = load_project(project, config=config).data.nlu.examples
    pipeline = assistant.parse.pipeline  # type: ignore[attr-defined]
    thresholds = [
        c.options["threshold"] for c in pipeline.components if c.name == "FallbackClassifier"
    ]
    texts = gold_texts(project)
    fallbacks, wrong, tops = [], [], []
    for text, gold in texts.items():
        parsed = pipeline.parse(text)
        top = top_ranked(parsed)
        tops.append(top["confidence"])
        if parsed["intent"]["name"] == FALLBACK:
            fallbacks.append(f"{text} ({top['name']} {top['confidence']:.2f})")
        elif top["name"] != gold:
            wrong.append(f"{text} ({top['name']}, gold {gold})")
    own = [top_ranked(pipeline.parse(e.text))["confidence"] for e in examples]
    return {
        "texts": len(texts),
        "fallback_threshold": thresholds[0] if thresholds else None,
        "sent_to_fallback": len(fallbacks),
        "wrong_intent": len(wrong),
        "mean_top_confidence": round(statistics.fmean(tops), 3) if tops else None,
        # The thresholds projects commonly write (FallbackClassifier 0.3 default; 0.5-0.7).
        "top_below": {str(t): sum(c < t for c in tops) for t in COMMON_THRESHOLDS},
        "reference_implies_fallbacks": 0,
        "training_examples": len(own),
        "training_examples_below_0.7": sum(c < 0.7 for c in own),
        "fallbacks": fallbacks,
        "wrong": wrong,
    }


def top_ranked(parsed: dict[str, Any]) -> dict[str, Any]:
    """The most confident intent other than the fallback's."""
    ranking = [r for r in parsed.get("intent_ranking") or [] if r["name"] != FALLBACK]
    return ranking[0] if ranking else {"name": None, "confidence": 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    quiet_logs()
    projects = sorted(p for p in FIXTURES.iterdir() if (p / "tests").is_dir())
    emit(
        {
            p.name if c.name == "config.yml" else f"{p.name} ({c.name})": measure(p, c.name)
            for p in projects
            for c in sorted(p.glob("config*.yml"))
        },
        args.out,
    )


if __name__ == "__main__":
    main()
