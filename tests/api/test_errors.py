"""One problem-details shape for every error; bad input never causes a 500."""

from __future__ import annotations

import json

import pytest

from mamori.records.models import Record

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def _problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert PROBLEM_KEYS <= set(body)
    assert body["status"] == status
    return body


@pytest.mark.parametrize("raw", [
    "{not json", '{"title": "x",}', "[1, 2", "\xff\xfe", '{"a": NaN}', "[" * 100_000,
])
def test_malformed_json_is_422(acme, raw):
    response = acme.editor_api.post("/records", raw=raw.encode("latin-1") if raw == "\xff\xfe" else raw)
    body = _problem(response, 422)
    assert body["errors"][0]["field"] == "body"


@pytest.mark.parametrize("payload", [[1, 2], "text", 42, None])
def test_json_that_is_not_an_object_is_422(acme, payload):
    response = acme.editor_api.post("/records", raw=json.dumps(payload))
    _problem(response, 422)


def test_empty_body_is_422(acme):
    response = acme.editor_api.post("/records", raw=b"")
    body = _problem(response, 422)
    assert body["errors"]


def test_oversized_body_is_413_not_500(acme):
    big = json.dumps({"workspace_id": acme.workspace.pk, "title": "x", "body": "a" * (2 * 1024 * 1024)})
    response = acme.editor_api.post("/records", raw=big)
    _problem(response, 413)
    assert Record.objects.count() == 1


def test_oversized_patch_is_413(acme):
    big = json.dumps({"body": "a" * (2 * 1024 * 1024)})
    _problem(acme.editor_api.patch(f"/records/{acme.record.pk}", raw=big), 413)


def test_unknown_path_is_problem_404(acme, make_api):
    body = _problem(acme.admin_api.get("/no/such/thing"), 404)
    assert body["instance"] == "/api/v1/no/such/thing"
    _problem(make_api().get("/no/such/thing"), 404)
    _problem(acme.admin_api.get("/records/not-a-number"), 404)
    _problem(acme.admin_api.get("/"), 404)


def test_huge_ids_are_404_not_500(acme):
    for path in (f"/records/{2**70}", f"/tokens/{2**64}", f"/labels/{2**63}",
                 f"/workspaces/{acme.workspace.pk}/members/{2**63}"):
        response = acme.admin_api.get(path) if "tokens" not in path and "members" not in path \
            else acme.admin_api.delete(path)
        _problem(response, 404)


def test_wrong_method_is_problem_405(acme):
    response = acme.admin_api.request("PUT", f"/records/{acme.record.pk}", {"title": "x"})
    _problem(response, 405)
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "PATCH", "DELETE"}


def test_unexpected_error_is_500_problem_without_internals(acme, monkeypatch):
    import mamori.api.records as records_api

    def boom(*args, **kwargs):
        raise RuntimeError("secret internal detail /etc/passwd")

    monkeypatch.setattr(records_api, "search_records", boom)
    response = acme.admin_api.get("/records")
    body = _problem(response, 500)
    assert "secret internal detail" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert body["detail"]


def test_out_of_range_query_values_are_422(acme):
    for params in ({"limit": 0}, {"offset": -1}, {"workspace": 2**64}, {"label": "abc"}):
        body = _problem(acme.admin_api.get("/records", params=params), 422)
        assert body["errors"][0]["field"].split(".")[0] == next(iter(params))


def test_messages_follow_accept_language(acme):
    english = acme.editor_api.post("/records", {"workspace_id": acme.workspace.pk},
                                   HTTP_ACCEPT_LANGUAGE="en")
    assert english.json()["errors"] == [{"field": "title", "message": "This field is required."}]
    assert english["Content-Language"] == "en"
    japanese = acme.editor_api.post("/records", {"workspace_id": acme.workspace.pk},
                                    HTTP_ACCEPT_LANGUAGE="ja")
    assert japanese["Content-Language"] == "ja"
    assert japanese.json()["errors"][0]["message"] != "This field is required."


def test_language_defaults_to_user_then_tenant(acme):
    # acme's language is ja; the editor has no preference of their own.
    response = acme.editor_api.post("/records", {"workspace_id": acme.workspace.pk})
    assert response["Content-Language"] == "ja"
    type(acme.editor).objects.filter(pk=acme.editor.pk).update(language="en")
    response = acme.editor_api.post("/records", {"workspace_id": acme.workspace.pk})
    assert response["Content-Language"] == "en"
    assert response.json()["errors"][0]["message"] == "This field is required."


def test_openapi_is_served_and_docs_ui_is_not(db, make_api):
    response = make_api().get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"].startswith("3.")
    assert spec["components"]["securitySchemes"]["ApiTokenAuth"] == {"type": "http", "scheme": "bearer"}
    assert make_api().get("/docs").status_code == 404


def test_openapi_documents_errors_as_problem_json(db, make_api):
    spec = make_api().get("/openapi.json").json()
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            responses = operation["responses"]
            assert "401" in responses, (method, path)
            for status, response in responses.items():
                content = response.get("content", {})
                if int(status) >= 400:
                    assert list(content) == ["application/problem+json"], (method, path, status)
                    assert content["application/problem+json"]["schema"]["$ref"].endswith("/Problem")
            if method in ("post", "patch"):
                assert {"413", "422"} <= set(responses), (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)


def test_text_the_database_cannot_store_is_422_not_500(acme):
    for bad in ("a\x00b", "a\ud800b"):
        response = acme.editor_api.post(
            "/records", raw=json.dumps({"workspace_id": acme.workspace.pk, "title": bad, "properties": {bad: "v"}}))
        body = _problem(response, 422)
        assert {e["field"] for e in body["errors"]} == {"title", f"properties.{bad}"} or \
            "title" in {e["field"] for e in body["errors"]}
    _problem(acme.admin_api.get("/records", params={"q": "%00"}), 422)
    _problem(acme.admin_api.get("/audit/events", params={"action": "%00"}), 422)


def test_length_limits_are_enforced_and_documented(acme, make_api):
    response = acme.editor_api.post("/records", {"workspace_id": acme.workspace.pk, "title": "t" * 301},
                                    HTTP_ACCEPT_LANGUAGE="en")
    body = _problem(response, 422)
    assert body["errors"] == [{"field": "title", "message": "At most 300 characters."}]
    spec = make_api().get("/openapi.json").json()
    record_in = spec["components"]["schemas"]["RecordIn"]["properties"]
    assert record_in["title"]["maxLength"] == 300
    assert record_in["properties"]["maxProperties"] == 50
    assert acme.admin_api.get("/records", params={"label": list(range(1, 22))}).status_code == 422
