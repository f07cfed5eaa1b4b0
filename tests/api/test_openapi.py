"""The OpenAPI document describes the upload, the answer and the problems."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

PROBLEM_STATUSES = ("400", "401", "408", "413", "415", "422", "429", "503", "504")
PLANES = ["axial", "coronal", "sagittal"]
CASE = "/v1/datasets/{dataset}/{split}/cases/{case_id}"
OPERATIONS = {
    ("get", "/health/live"): "getLiveness",
    ("get", "/health/ready"): "getReadiness",
    ("get", "/metrics"): "getMetrics",
    ("get", "/v1/models"): "listModels",
    ("post", "/v1/predictions"): "createPrediction",
    ("post", "/v1/predictions/studies"): "createStudyPrediction",
    ("get", "/v1/datasets"): "listDatasets",
    ("get", "/v1/datasets/{dataset}/{split}/cases"): "listCases",
    ("get", CASE): "getCase",
    ("get", CASE + "/prediction"): "getCasePrediction",
    ("get", CASE + "/{plane}/slices/{index}.png"): "getSlicePng",
    ("get", CASE + "/{plane}/slices/{index}/cam.png"): "getCamPng",
}


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
        assert schema["properties"][plane]["contentMediaType"] == "application/octet-stream"
    for form in (volumes, study, files):  # each form carries the tasks, and the synonym
        assert "every served task" in form["properties"]["tasks"]["description"]
        assert form["properties"]["task"]["deprecated"] is True
        assert form["properties"]["task"]["enum"] == ["abnormal", "acl", "meniscus"]
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
    planes = resolve(task["properties"]["planes"], document)
    assert set(planes["required"]) == {"sagittal", "coronal", "axial"}
    plane = resolve(planes["properties"]["sagittal"], document)
    assert {"contributions", "bias", "logit", "attention", "top_slices"} <= set(plane["required"])
    example = ok["examples"][0]
    assert set(example["tasks"]) == {"abnormal", "acl", "meniscus"}
    assert example["probability"] == example["tasks"]["acl"]["probability"]
    for answer in example["tasks"].values():
        for result in answer["planes"].values():
            total = result["bias"] + sum(result["contributions"])
            assert abs(total - result["logit"]) < 1e-9
            assert len(result["contributions"]) == result["num_slices"] == len(result["attention"])


def test_the_multipart_body_names_its_parts_and_their_media(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    content = document["paths"]["/v1/predictions"]["post"]["requestBody"]["content"]
    form = content["multipart/form-data"]
    for variant in form["schema"]["oneOf"]:
        assert variant["additionalProperties"] is False, variant["title"]
        assert variant["properties"]["task"]["enum"] == ["abnormal", "acl", "meniscus"]
    assert {name: e["contentType"] for name, e in form["encoding"].items()} == {
        "axial": "application/octet-stream",
        "coronal": "application/octet-stream",
        "sagittal": "application/octet-stream",
        "study": "application/zip",
        "dicom": "application/dicom",
        "tasks": "text/plain",
        "task": "text/plain",
    }


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


def test_every_operation_has_its_operation_id(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    found = {
        (method, path): operation.get("operationId")
        for path, operations in paths.items()
        for method, operation in operations.items()
    }
    assert found == OPERATIONS


def test_planes_and_labels_are_objects_with_named_properties(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    prediction = schemas["PredictionResponse"]["properties"]
    planes = resolve(prediction["planes"], document)
    assert sorted(planes["properties"]) == sorted(planes["required"]) == PLANES
    assert planes["additionalProperties"] is False
    assert planes["properties"]["sagittal"] == {"$ref": "#/components/schemas/PlaneResult"}
    case = schemas["CaseInfo"]["properties"]
    labels = resolve(case["labels"], document)
    assert sorted(labels["properties"]) == ["abnormal", "acl", "meniscus"]
    assert labels["additionalProperties"] is False
    volumes = resolve(case["planes"], document)
    assert sorted(volumes["properties"]) == PLANES
    assert "additionalProperties" not in str(prediction["planes"])  # not a dict[str, X]


def test_plane_split_and_task_parameters_are_enums(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    operation = paths[CASE + "/{plane}/slices/{index}/cam.png"]["get"]
    parameters = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert parameters["plane"]["enum"] == PLANES
    assert parameters["split"]["enum"] == ["train", "valid"]
    task = parameters["task"]  # optional (the default is the primary served task)
    enums = [option["enum"] for option in task.get("anyOf", [task]) if "enum" in option]
    assert enums == [["abnormal", "acl", "meniscus"]]
    assert parameters["index"]["type"] == "integer"


def test_png_answers_are_binary_image_png(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for tail in ("/{plane}/slices/{index}.png", "/{plane}/slices/{index}/cam.png"):
        ok = paths[CASE + tail]["get"]["responses"]["200"]["content"]
        assert list(ok) == ["image/png"]
        assert ok["image/png"]["schema"]["format"] == "binary"
        assert "304" in paths[CASE + tail]["get"]["responses"]


def test_problems_are_only_problem_json(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in str(document)
    for path, operations in document["paths"].items():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                if int(status) < 400 or path == "/health/ready":
                    continue
                assert list(response["content"]) == ["application/problem+json"], (path, status)
    ready = document["paths"]["/health/ready"]["get"]["responses"]["503"]["content"]
    assert list(ready) == ["application/json"]  # readiness answers its own body
