"""Train -> archive -> load: the loaded model runs exactly what the project files say.

Every acceptance assistant and the fixture projects under ``tests/fixtures/projects`` (NLU-only
with forms and custom actions, CALM with pattern overrides in their own file, coexistence with
either router; domain files and folders, nested domain folders, flows beside NLU data, data
given as several paths, prompt templates and documents) are trained, and the project the
archive's snapshot gives is compared with the one the files give.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from project_diff import project_differences

from shared_files import ACCEPTANCE, require
from tandem.model.archive import read_metadata, unpack_archive
from tandem.model.loading import load_assistant
from tandem.model.snapshot import SNAPSHOT_DIR, load_snapshot
from tandem.model.training import train
from tandem.project.loader import Project, load_project

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "projects"


@dataclass(frozen=True)
class Case:
    root: Path
    config: str = "config.yml"
    data: tuple[str, ...] = ("data",)
    domain: str = "domain"

    def load(self) -> Project:
        require(self.root)
        return load_project(self.root, config=self.config, domain=self.domain, data=self.data)


CASES = {
    "classic": Case(ACCEPTANCE / "classic"),
    "flows-llm": Case(ACCEPTANCE / "flows"),
    "flows-nlu": Case(ACCEPTANCE / "flows", "config-nlu.yml"),
    "bank-intent-router": Case(ACCEPTANCE / "bank"),
    "bank-llm-router": Case(ACCEPTANCE / "bank", "config-llm-router.yml"),
    "restaurant-forms": Case(FIXTURES / "restaurant_forms"),
    "restaurant-forms-spacy": Case(FIXTURES / "restaurant_forms", "config-spacy.yml"),
    "restaurant-forms-sklearn": Case(FIXTURES / "restaurant_forms", "config-sklearn.yml"),
    "helpdesk-faq": Case(FIXTURES / "helpdesk_faq"),
    "helpdesk-faq-convert": Case(FIXTURES / "helpdesk_faq", "config-convert.yml"),
    "financial-nested": Case(
        FIXTURES / "financial_nested", data=("data/nlu", "data/core", "data/responses")
    ),
    "weather-zh": Case(FIXTURES / "weather_zh"),
    "calm-patterns": Case(FIXTURES / "calm_patterns"),
    "coexist-intent-router": Case(FIXTURES / "coexist_intent_router"),
    "coexist-llm-router": Case(FIXTURES / "coexist_llm_router", data=("data/nlu", "data/calm")),
    "pizza-triggers": Case(FIXTURES / "pizza_triggers"),
    "pizza-triggers-dense": Case(FIXTURES / "pizza_triggers", "config-dense.yml"),
    "pizza-triggers-intent-router": Case(
        FIXTURES / "pizza_triggers", "config-intent-router.yml", domain="domain_coexistence"
    ),
}


def _round_trip(project: Project, tmp_path: Path) -> tuple[Path, Project]:
    archive = train(project, tmp_path / "models").archive
    model_dir = unpack_archive(archive, tmp_path / "unpacked")
    return archive, load_snapshot(model_dir, read_metadata(model_dir))


@pytest.mark.parametrize("name", CASES)
def test_the_loaded_model_has_what_the_project_files_say(name: str, tmp_path: Path) -> None:
    project = CASES[name].load()
    archive, loaded = _round_trip(project, tmp_path)
    assert project_differences(project, loaded) == []
    # The assistant builds from the archive with the deployment's endpoints (prompt
    # templates and documents are read from the snapshot).
    assistant = load_assistant(archive, project.endpoints)
    assert assistant.domain.flow_ids == project.domain.flow_ids


def test_a_dropped_pattern_override_is_named(tmp_path: Path) -> None:
    """The comparison fails when a file of pattern overrides is missing, naming the pattern."""
    case = CASES["calm-patterns"]
    without_patterns = load_project(case.root, data=("data/flows",))
    differences = project_differences(case.load(), without_patterns)
    assert "flow 'pattern_correction' differs: .description: " in "\n".join(differences)


def test_pattern_overrides_in_their_own_file_reach_the_archive(tmp_path: Path) -> None:
    _, loaded = _round_trip(CASES["calm-patterns"].load(), tmp_path)
    completed = loaded.flows.get("pattern_completed")
    assert completed is not None
    assert completed.description == "Everything the user asked for is done."
    snapshot = tmp_path / "unpacked" / SNAPSHOT_DIR
    assert (snapshot / "data" / "patterns" / "patterns.yml").is_file()


def test_only_files_the_runtime_reads_are_kept(tmp_path: Path) -> None:
    """Examples, stories and rules live on in the trained components; files with flows or
    responses are kept at their paths; non-YAML files in the domain folder stay out."""
    root = tmp_path / "project"
    shutil.copytree(FIXTURES / "coexist_intent_router", root)
    (root / "domain" / ".DS_Store").write_bytes(b"\0\1binary")
    (root / "domain" / "notes.docx").write_bytes(b"PK\3\4")
    project = load_project(root)
    _, loaded = _round_trip(project, tmp_path)
    snapshot = tmp_path / "unpacked" / SNAPSHOT_DIR
    kept = sorted(str(p.relative_to(snapshot)) for p in snapshot.rglob("*") if p.is_file())
    assert kept == [
        "config.yml",
        "data/flows/check_order.yml",
        "data/flows/order_pizza.yml",  # flows beside NLU data: the whole file
        "data/flows/patterns.yml",
        "domain/coexistence.yml",
        "domain/flows/pizza.yml",
        "domain/nlu-based/hotel.yml",
    ]
    assert project_differences(project, loaded) == []


def test_data_outside_the_project_folder_is_kept_too(tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(FIXTURES / "coexist_llm_router", root)
    shutil.move(root / "data" / "calm", tmp_path / "shared-flows")
    project = load_project(root, data=("data/nlu", "../shared-flows"))
    _, loaded = _round_trip(project, tmp_path)
    assert read_metadata(tmp_path / "unpacked")["project"]["data"] == [
        "data/nlu",
        "external/1/shared-flows",
    ]
    differences = project_differences(project, loaded)
    # Flow files outside the project have no project-relative path to compare.
    assert all("file_path" in line for line in differences)
    assert [f.id for f in loaded.flows.user_flows] == ["book_flight", "cancel_booking"]
    completed = [flows.get("pattern_completed") for flows in (project.flows, loaded.flows)]
    assert completed[0] is not None and completed[1] is not None
    assert completed[0].steps == completed[1].steps
