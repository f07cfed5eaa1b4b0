"""The OpenAPI document describes the upload, the answer and the problems."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

PROBLEM_STATUSES = ("401", "413", "415", "422", "503", "504")


def resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    found: dict[str, Any] = document
    for part in ref.removeprefix("#/").split("/"):
        found = found[part]
    return found


def test_the_upload_is_documented_as_multipart(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    body = document["paths"]["/v1/predictions"]["post"]["requestBody"]
    assert body["required"] is True
    volumes, study, files = body["content"]["multipart/form-data"]["schema"]["oneOf"]
    schema = volumes
    assert set(schema["required"]) == {"axial", "coronal", "sagittal"}
    for plane in ("axial", "coronal", "sagittal"):
        assert schema["properties"][plane]["type"] == "string"
        assert schema["properties"][plane]["format"] == "binary"
    for form in (volumes, study, files):  # each form carries the tasks, and the synonym
        assert "every served task" in form["properties"]["tasks"]["description"]
        assert form["properties"]["task"]["deprecated"] is True
    assert study["required"] == ["study"] and study["properties"]["study"]["format"] == "binary"
    assert files["properties"]["dicom"]["items"]["format"] == "binary"


def test_the_stow_rs_body_is_documented(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    post = document["paths"]["/v1/predictions"]["post"]
    stow = post["requestBody"]["content"]['multipart/related; type="application/dicom"']
    assert stow["schema"]["items"]["format"] == "binary"
    assert [p["name"] for p in post["parameters"] if p["in"] == "query"] == ["tasks", "task"]
    answer = resolve(post["responses"]["200"]["content"]["application/json"]["schema"], document)
    assert "input" in answer["properties"]
    alias = document["paths"]["/v1/predictions/studies"]["post"]["requestBody"]["content"]
    assert 'multipart/related; type="application/dicom"' in alias


def test_the_multi_task_body_is_documented_with_a_consistent_example(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    responses = document["paths"]["/v1/predictions"]["post"]["responses"]
    ok = resolve(responses["200"]["content"]["application/json"]["schema"], document)
    task = resolve(ok["properties"]["tasks"]["additionalProperties"], document)
    assert {"probability", "positive", "threshold", "planes", "model"} <= set(task["required"])
    plane = resolve(task["properties"]["planes"]["additionalProperties"], document)
    assert {"contributions", "bias", "logit", "attention", "top_slices"} <= set(plane["required"])
    example = ok["examples"][0]
    assert set(example["tasks"]) == {"abnormal", "acl", "meniscus"}
    assert example["probability"] == example["tasks"]["acl"]["probability"]
    for answer in example["tasks"].values():
        for result in answer["planes"].values():
            total = result["bias"] + sum(result["contributions"])
            assert abs(total - result["logit"]) < 1e-9
            assert len(result["contributions"]) == result["num_slices"] == len(result["attention"])


def test_the_answer_and_problems_are_documented(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    responses = document["paths"]["/v1/predictions"]["post"]["responses"]
    ok = resolve(responses["200"]["content"]["application/json"]["schema"], document)
    assert {"request_id", "probability", "positive", "threshold", "planes", "model"} <= set(
        ok["properties"]
    )
    assert {"timing_ms", "warnings", "task", "tasks"} <= set(ok["required"])
    for status in PROBLEM_STATUSES:
        content = responses[status]["content"]["application/problem+json"]
        problem = resolve(content["schema"], document)
        assert {"type", "title", "status", "detail"} <= set(problem["required"]), status
        assert "errors" in problem["properties"]
    assert "HTTPValidationError" not in str(responses)  # 422 is the service's own problem


def test_readiness_and_models_are_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "503" in paths["/health/ready"]["get"]["responses"]
    assert {"401", "503"} <= set(paths["/v1/models"]["get"]["responses"])
    assert {"/health/live", "/metrics"} <= set(paths)
