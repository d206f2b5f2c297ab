"""Bad input to any endpoint gets a 4xx problem+json that says what to fix, never a 500.

The endpoints are read from the OpenAPI schema, so routes added later are covered too."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance", "request_id"}
FIVE_MEGABYTES = b'{"text": "' + b"a" * (5 * 1024 * 1024) + b'"}'


def _operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    schema = client.get("/openapi.json").json()
    return [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]


def _concrete(path: str) -> str:
    """A path with every {parameter} filled with an id that exists nowhere."""
    return path.replace("{", "no-such-").replace("}", "")


def _assert_problem(response: Any, *statuses: int) -> dict[str, Any]:
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert set(problem) >= PROBLEM_FIELDS
    assert problem["status"] == response.status_code
    assert len(problem["detail"]) > 10
    return problem


def test_every_operation_refuses_a_five_megabyte_body(client: TestClient) -> None:
    for method, path, _ in _operations(client):
        response = client.request(
            method,
            _concrete(path),
            content=FIVE_MEGABYTES,
            headers={"content-type": "application/json"},
        )
        problem = _assert_problem(response, 413)
        assert "MADOGUCHI_MAX_REQUEST_BYTES" in problem["detail"]


def test_a_streamed_body_without_length_is_cut_off_too(client: TestClient) -> None:
    def chunks():  # no Content-Length: the body arrives chunked
        for _ in range(6):
            yield b"a" * (1024 * 1024)

    response = client.post(
        "/v1/text/analyze", content=chunks(), headers={"content-type": "application/json"}
    )
    _assert_problem(response, 413)


def _json_body_operations(
    client: TestClient, with_required_fields: bool = False
) -> list[tuple[str, str]]:
    """Operations taking a JSON body; with `with_required_fields`, only those whose body has a
    required field (for the others an empty object is a valid request)."""
    schema = client.get("/openapi.json").json()

    def required(operation: dict[str, Any]) -> list[str]:
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        name = body.get("$ref", "").rsplit("/", 1)[-1]
        return schema["components"]["schemas"].get(name, body).get("required", [])

    return [
        (method, _concrete(path))
        for method, path, operation in _operations(client)
        if "application/json" in operation.get("requestBody", {}).get("content", {})
        and (not with_required_fields or required(operation))
    ]


def test_there_are_json_body_operations_to_check(client: TestClient) -> None:
    assert ("POST", "/v1/text/analyze") in _json_body_operations(client)
    with_required = _json_body_operations(client, with_required_fields=True)
    assert ("POST", "/v1/classify") in with_required
    assert ("POST", "/v1/admin/train") not in with_required  # {} is a valid request there


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        ('{"text": "途中で切れた'.encode(), "application/json", 400),
        (b"", "application/json", 422),
        (b"[1, 2, 3]", "application/json", 422),
        (b'"just a string"', "application/json", 422),
        (b"{}", "application/json", 422),
        (b'{"text": 42, "html": "maybe", "strip_email": []}', "application/json", 422),
        (b'{"text": null}', "application/json", 422),
        (b'{"text": "ok", "unknown_field": 1}', "application/json", 422),
        (b"text=hello", "text/plain", 415),
        (b"text=hello", "application/x-www-form-urlencoded", 415),
        (b"\xff\xfe\x00garbage", "application/json", 400),
    ],
)
def test_bad_json_bodies_get_a_problem(
    client: TestClient, content: bytes, content_type: str, status: int
) -> None:
    for method, path in _json_body_operations(client, with_required_fields=content == b"{}"):
        response = client.request(
            method, path, content=content, headers={"content-type": content_type}
        )
        _assert_problem(response, status)


def test_a_validation_problem_names_each_field_to_fix(client: TestClient) -> None:
    response = client.post("/v1/text/analyze", json={"txt": "typo in the field name"})
    problem = _assert_problem(response, 422)
    by_location = {error["location"]: error["message"] for error in problem["errors"]}
    assert "required" in by_location["body.text"]
    assert "unknown field" in by_location["body.txt"]


def test_query_parameters_of_the_wrong_type_get_a_problem(client: TestClient) -> None:
    checked = 0
    for method, path, operation in _operations(client):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and parameter["schema"].get("type") == "integer":
                response = client.request(
                    method, _concrete(path), params={parameter["name"]: "abc"}
                )
                problem = _assert_problem(response, 422)
                assert f"query.{parameter['name']}" in problem["detail"]
                checked += 1
    assert checked >= 2


def test_out_of_range_query_parameters_get_a_problem(client: TestClient) -> None:
    for params in ({"limit": 0}, {"limit": 100000}, {"offset": -1}, {"category": "x" * 65}):
        _assert_problem(client.get("/v1/articles", params=params), 422)


def test_unknown_ids_get_a_404_problem(client: TestClient) -> None:
    for method, path, operation in _operations(client):
        has_path_id = any(p["in"] == "path" for p in operation.get("parameters", []))
        if method == "GET" and has_path_id:
            _assert_problem(client.get(_concrete(path)), 404)


def test_unknown_routes_and_methods_get_a_problem(client: TestClient) -> None:
    _assert_problem(client.get("/v1/nothing-here"), 404)
    _assert_problem(client.delete("/v1/labels"), 405)
    _assert_problem(client.put("/health", json={}), 405)
