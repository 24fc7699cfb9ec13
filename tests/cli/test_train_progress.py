"""``tandem train``'s progress: a spinner naming the component on a terminal, which log
lines clear before they are written; plain lines elsewhere."""

from __future__ import annotations

import logging
import re
import sys
import time

import pytest

from tandem.cli.train import report_step


def test_on_a_terminal_log_lines_never_land_on_the_spinner(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    handler = logging.StreamHandler(sys.stdout)  # the captured one: one stream holds both
    monkeypatch.setattr(logging.getLogger(), "handlers", [handler])
    with report_step("Training the NLU pipeline") as now:
        now("DIETClassifier")
        time.sleep(0.25)  # the spinner draws
        logging.getLogger("tandem.test").warning("a warning while training")
        time.sleep(0.25)
    out = capsys.readouterr().out
    assert "\r\x1b[KTraining the NLU pipeline: DIETClassifier " in out
    assert "\r\x1b[Ka warning while training\n" in out  # on a line of its own
    assert re.search(r"\r\x1b\[KTraining the NLU pipeline: done in [\d.]+ s\n$", out)
    assert logging.getLogger().handlers == [handler]  # restored


def test_elsewhere_the_steps_are_plain_lines(capsys: pytest.CaptureFixture[str]) -> None:
    with report_step("Writing the model archive") as now:
        now("archive")
    out = capsys.readouterr().out
    assert out.startswith("Writing the model archive ...\n")
    assert "Writing the model archive: done in" in out
    assert "archive |" not in out
