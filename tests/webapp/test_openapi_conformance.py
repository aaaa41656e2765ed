"""Issue 8.9: the student API and its OpenAPI document agree, checked by schemathesis (in-process, WSGI).

Every operation of webapp/openapi.json is exercised with generated requests, valid and invalid
(schemathesis' positive and negative modes), carrying a real student's bearer token so the
authenticated operations get past authentication. No response may be a 5xx, and every response
must conform to the document (status code, content type, headers, body schema); invalid requests
must be rejected. Bounded: 25 examples per operation and mode, derandomized under CI (the
conftest's Hypothesis "ci" profile). `.ci/run` runs it as part of the README's test command.

The schemathesis pytest plugin (`schema.parametrize`) does not work with pytest 9 yet, so the
operations are parametrized here and each runs Hypothesis over `operation.as_strategy()`.
"""
from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.assessment.factories import open_all_types_session
from webapp.views.api import OPENAPI_PATH

_DOCUMENT = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
# (label, mode): negative mode needs something to make invalid (a parameter, a body or credentials)
CASES = [(f"{method.upper()} {path}", mode)
         for path, item in _DOCUMENT["paths"].items()
         for method, operation in item.items()
         for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
         if mode is GenerationMode.POSITIVE or {"parameters", "requestBody", "security"} & set(operation)]
# An item id is valid only if it is on the attempt's form, which no static schema can say: the
# heartbeat documents 422 unknown_item for any other id, so "valid data accepted" cannot apply.
_NOT_CHECKED = {"POST /attempt/heartbeat": [positive_data_acceptance]}
# Undeclared query parameters and headers are ignored, as clients expect (a cache-buster, a proxy's
# header), so they are not generated as invalid requests; undeclared body fields are (400 bad_json).
_CONFIG = SchemathesisConfig.from_dict({"generation": {"allow-extra-parameters": False}})


@pytest.fixture
def student_token(app, db) -> str:  # type: ignore[no-untyped-def]
    """A started attempt's bearer token."""
    _, attempts, _ = open_all_types_session(db, n_students=1)
    client = app.test_client()
    token = client.post("/api/v1/login", json={"ticket": attempts[0].ticket}).get_json()["token"]
    assert client.post("/api/v1/attempt/start", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    return token


@pytest.mark.parametrize(("label", "mode"), CASES, ids=[f"{label}-{mode.value}" for label, mode in CASES])
def test_api_conforms_to_its_openapi_document(app, student_token, label, mode) -> None:  # type: ignore[no-untyped-def]
    operation = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=_CONFIG).find_operation_by_label(label)
    assert operation is not None, label
    headers = {"Authorization": f"Bearer {student_token}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=25, suppress_health_check=list(HealthCheck), deadline=None)
    def check(case) -> None:  # type: ignore[no-untyped-def]
        case.call_and_validate(headers=headers, excluded_checks=_NOT_CHECKED.get(label))

    check()


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("GET", "/api/v1/login", {"POST"}),
    ("DELETE", "/api/v1/attempt", {"GET", "HEAD", "OPTIONS"}),
    ("GET", "/api/v1/attempt/answers/d2-paper-fold", {"PUT", "OPTIONS"}),
    ("POST", "/api/v1/openapi.json", {"GET", "HEAD", "OPTIONS"}),
])
def test_405_names_the_allowed_methods(client, method, path, allowed) -> None:  # type: ignore[no-untyped-def]
    """RFC 9110: a 405 response carries Allow; it was lost when the error became JSON."""
    response = client.open(path, method=method)
    assert response.status_code == 405 and response.get_json()["error"] == "method_not_allowed"
    assert {m.strip() for m in response.headers.get("Allow", "").split(",")} >= allowed - {"OPTIONS"}


@pytest.mark.parametrize("body", ["false", "[null,null]", "0", '"x"'])
def test_heartbeat_body_that_is_no_object_is_400(client, student_token, body) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/attempt/heartbeat", data=body, content_type="application/json",
                           headers={"Authorization": f"Bearer {student_token}"})
    assert response.status_code == 400 and response.get_json()["error"] == "bad_json"


def test_heartbeat_with_an_empty_current_item_means_none(client, student_token) -> None:  # type: ignore[no-untyped-def]
    auth = {"Authorization": f"Bearer {student_token}"}
    assert client.post("/api/v1/attempt/heartbeat", headers=auth, json={"current_item": ""}).status_code == 200
    typo = client.post("/api/v1/attempt/heartbeat", headers=auth, json={"curent_item": "x"})
    assert typo.status_code == 400 and "curent_item" in typo.get_json()["message"]


@pytest.mark.parametrize("lang", ["fr", "", "zh-tw", "EN"])
def test_an_undocumented_lang_is_400(client, student_token, lang) -> None:  # type: ignore[no-untyped-def]
    response = client.get(f"/api/v1/attempt?lang={lang}", headers={"Authorization": f"Bearer {student_token}"})
    assert response.status_code == 400 and response.get_json()["error"] == "bad_lang"
    ok = client.get("/api/v1/attempt?lang=en", headers={"Authorization": f"Bearer {student_token}"})
    assert ok.status_code == 200 and ok.get_json()["lang"] == "en"
