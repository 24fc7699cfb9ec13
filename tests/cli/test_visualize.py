"""``tandem visualize``: one self-contained HTML file with the stories and flows as SVG."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from tandem.cli.main import main
from tandem.conversation.events import ActionExecuted, UserUttered
from tandem.project.data_files import load_training_data
from tandem.visualize.graph import story_graph
from tandem.visualize.layout import layout

PROJECTS = Path(__file__).parents[1] / "fixtures" / "projects"
STORIES = PROJECTS / "restaurant_forms" / "data"
FLOWS = PROJECTS / "calm_patterns" / "data"

LOOPING_FLOW = """\
version: "3.1"
flows:
  ask_until_sure:
    description: Ask until the user is sure.
    steps:
      - id: ask
        collect: sure
        next:
          - if: slots.sure
            then:
              - id: done
                action: utter_done
                next: END
          - else: ask
"""


def texts(svg: ElementTree.Element) -> set[str]:
    return {"".join(element.itertext()) for element in svg.iter("title")}


@pytest.fixture
def drawn(tmp_path: Path) -> str:
    out = tmp_path / "graph.html"
    args = ["visualize", "--stories", str(STORIES), "--flows", str(FLOWS), "--out", str(out)]
    assert main(args) == 0
    return out.read_text(encoding="utf-8")


def test_the_page_is_self_contained_xml(drawn: str) -> None:
    ElementTree.fromstring(drawn.removeprefix("<!DOCTYPE html>\n"))  # well-formed throughout
    assert "http://" not in drawn and "https://" not in drawn
    assert "<script" not in drawn and "<link" not in drawn


def test_every_story_step_and_flow_step_is_drawn(drawn: str) -> None:
    svgs = [ElementTree.fromstring(s) for s in re.findall(r"<svg.*?</svg>", drawn, re.DOTALL)]
    data, flows = load_training_data([STORIES])
    _, flows = load_training_data([FLOWS])
    assert len(svgs) == 1 + len(flows)  # the stories, then one picture per flow
    labels = {line for title in texts(svgs[0]) for line in title.split("\n")}
    for story in data.stories:
        for event in story.steps:
            if isinstance(event, UserUttered):
                assert event.intent_name in labels
            elif isinstance(event, ActionExecuted):
                assert event.name in labels
    for flow, svg in zip(flows, svgs[1:], strict=True):
        ids = {title.split("\n")[0] for title in texts(svg)}
        assert {step.id for step in flow.steps} <= ids
        assert f"<h2>Flow {flow.id}</h2>" in drawn


def test_stories_share_their_common_beginning(tmp_path: Path) -> None:
    stories = tmp_path / "stories.yml"
    stories.write_text(
        'version: "3.1"\nstories:\n'
        "- story: a\n  steps:\n  - intent: greet\n  - action: utter_greet\n"
        "  - intent: bye\n  - action: utter_bye\n  - checkpoint: later\n"
        "- story: b\n  steps:\n  - intent: greet\n  - action: utter_greet\n"
        "  - or:\n    - intent: thanks\n    - intent: affirm\n  - action: utter_welcome\n"
        "- story: c\n  steps:\n  - checkpoint: later\n  - action: utter_anything_else\n"
    )
    data, _ = load_training_data([stories])
    graph = story_graph(data.stories)
    labels = [node.label for node in graph.nodes]
    assert labels.count("greet") == labels.count("utter_greet") == 1
    assert labels.count("utter_welcome") == 2  # one after each alternative of the or
    assert labels.count("later") == 1  # story c goes on from where a ended
    later = labels.index("later")
    following = [labels[e.target] for e in graph.edges if e.source == later]
    assert following == ["utter_anything_else"]
    boxes = layout(graph).boxes
    assert all(boxes[e.source].row < boxes[e.target].row for e in graph.edges)


def test_a_flow_that_loops_back_is_drawn(tmp_path: Path) -> None:
    flows = tmp_path / "flows.yml"
    flows.write_text(LOOPING_FLOW)
    out = tmp_path / "graph.html"
    assert main(["visualize", "--stories", str(flows), "--out", str(out)]) == 0
    drawn = out.read_text()
    ElementTree.fromstring(drawn.removeprefix("<!DOCTYPE html>\n"))
    assert ">slots.sure</text>" in drawn and ">else</text>" in drawn
    assert drawn.count('class="edge"') == 4  # START->ask, ask->done, ask->ask, done->END


def test_nothing_to_draw_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "data"
    empty.mkdir()
    assert main(["visualize", "--stories", str(empty), "--out", str(tmp_path / "g.html")]) == 1
    assert "No stories or flows to draw." in capsys.readouterr().err
