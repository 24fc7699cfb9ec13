"""Schemathesis sends generated requests for every operation of our OpenAPI description to a
running ``tandem run --enable-api``: whatever it sends, the server must not answer with a 5xx.

The schema is built at collection time from the same function the server serves it with
(``test_the_served_description_is_the_tested_one`` checks they agree), because schemathesis'
fixture-loaded schemas do not run under the pytest version we use.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from server_testkit import running

from tandem.server.openapi import openapi_description

DESCRIPTION = openapi_description(enable_api=True, channels=["rest"], auth_enabled=False)
# Unloading the model is tested on its own; here it would leave the other operations nothing
# to work on.
schema = schemathesis.openapi.from_dict(DESCRIPTION).exclude(method="DELETE", path="/model")


@pytest.fixture(scope="module")
def api_url(starter_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    project = Path(shutil.copytree(starter_project, tmp_path_factory.mktemp("fuzz") / "bot"))
    with running(project, "--enable-api") as port:
        yield f"http://127.0.0.1:{port}"


def test_the_served_description_is_the_tested_one(api_url: str) -> None:
    with urllib.request.urlopen(f"{api_url}/openapi.json", timeout=10) as response:
        assert json.loads(response.read()) == DESCRIPTION


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case: schemathesis.Case, api_url: str) -> None:
    case.call_and_validate(base_url=api_url, checks=[not_a_server_error])
