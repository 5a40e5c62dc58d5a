from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from booking import demo
from tests.factories import zone_spec

PROBLEM = "application/problem+json"


def zone_body(zone_id: str = "HH-T-1", **kwargs: object) -> dict:
    return zone_spec(zone_id, **kwargs).model_dump(mode="json", exclude_none=True)


def smala_collection() -> dict:
    features = []
    for spec in demo.SMALA_ZONES:
        properties = spec.model_dump(mode="json", exclude={"id", "geometry"})
        features.append(
            {"type": "Feature", "id": spec.id, "geometry": spec.geometry, "properties": properties}
        )
    return {"type": "FeatureCollection", "features": features}


def test_operator_creates_a_zone_and_drivers_find_it(client: TestClient, operator: dict) -> None:
    created = client.post("/api/v1/zones", headers=operator, json=zone_body(bays=3))
    assert created.status_code == 201, created.text
    assert [b["label"] for b in created.json()["bays"]] == ["1", "2", "3"]
    found = client.get("/api/v1/zones", params={"lat": 53.5549, "lon": 9.9858, "radius_m": 200})
    assert [z["id"] for z in found.json()["items"]] == ["HH-T-1"]
    assert found.json()["items"][0]["distance_m"] < 10


def test_zone_writes_need_an_operator(client: TestClient, driver: dict) -> None:
    assert client.post("/api/v1/zones", json=zone_body()).status_code == 401
    assert client.post("/api/v1/zones", headers=driver, json=zone_body()).status_code == 403
    assert client.delete("/api/v1/zones/HH-T-1", headers=driver).status_code == 403


def test_invalid_zone_lists_the_fields(client: TestClient, operator: dict) -> None:
    body = zone_body()
    body.update(
        geometry={"type": "Point", "coordinates": [9, 53]}, max_stay_min=0, loading_hours="soon"
    )
    response = client.post("/api/v1/zones", headers=operator, json=body)
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM
    pointers = {e["pointer"] for e in response.json()["errors"]}
    assert {"geometry", "max_stay_min", "loading_hours"} <= pointers
    assert response.json()["detail"].startswith("The request is not valid:")


def test_patch_and_retire(client: TestClient, operator: dict) -> None:
    client.post("/api/v1/zones", headers=operator, json=zone_body())
    patched = client.patch("/api/v1/zones/HH-T-1", headers=operator, json={"max_stay_min": 30})
    assert patched.status_code == 200 and patched.json()["max_stay_min"] == 30
    assert client.delete("/api/v1/zones/HH-T-1", headers=operator).status_code == 204
    assert client.get("/api/v1/zones/HH-T-1").json()["status"] == "retired"
    assert client.get("/api/v1/zones").json()["items"] == []
    revived = client.patch("/api/v1/zones/HH-T-1", headers=operator, json={"name": "Back"})
    assert revived.json()["status"] == "active"
    assert [z["id"] for z in client.get("/api/v1/zones").json()["items"]] == ["HH-T-1"]


def test_patch_that_breaks_a_rule_is_refused(client: TestClient, operator: dict) -> None:
    client.post("/api/v1/zones", headers=operator, json=zone_body())
    response = client.patch("/api/v1/zones/HH-T-1", headers=operator, json={"min_stay_min": 120})
    assert response.status_code == 422
    assert "min_stay_min must not exceed max_stay_min" in response.json()["errors"][0]["detail"]


def test_unknown_zone_is_404_problem(client: TestClient, operator: dict) -> None:
    for response in (
        client.get("/api/v1/zones/NOPE"),
        client.patch("/api/v1/zones/NOPE", headers=operator, json={"name": "x"}),
        client.delete("/api/v1/zones/NOPE", headers=operator),
    ):
        assert response.status_code == 404 and response.headers["content-type"] == PROBLEM


def test_import_export_round_trip_and_idempotence(client: TestClient, operator: dict) -> None:
    first = client.post("/api/v1/zones/import", headers=operator, json=smala_collection())
    assert first.json() == {"created": 4, "updated": 0, "unchanged": 0}
    second = client.post("/api/v1/zones/import", headers=operator, json=smala_collection())
    assert second.json() == {"created": 0, "updated": 0, "unchanged": 4}
    exported = client.get("/api/v1/zones/export.geojson")
    assert exported.headers["content-type"] == "application/geo+json"
    assert [f["id"] for f in exported.json()["features"]] == [
        "HH-ABC-1",
        "HH-ALS-1",
        "HH-HER-1",
        "HH-LRE-1",
    ]
    third = client.post("/api/v1/zones/import", headers=operator, json=exported.json())
    assert third.json()["unchanged"] == 4


def test_bad_import_answers_all_problems_at_once(client: TestClient, operator: dict) -> None:
    collection = smala_collection()
    collection["features"][1]["geometry"] = {
        "type": "LineString",
        "coordinates": [[999, 0], [1, 1]],
    }
    collection["features"][3]["properties"]["bays"] = 0
    response = client.post("/api/v1/zones/import", headers=operator, json=collection)
    assert response.status_code == 422
    assert [e["pointer"] for e in response.json()["errors"]][:2] == [
        "features/1/geometry",
        "features/3/bays/int",
    ] or {e["pointer"].split("/")[1] for e in response.json()["errors"]} == {"1", "3"}
    assert client.get("/api/v1/zones").json()["count"] == 0


@pytest.mark.parametrize(
    ("params", "rule_or_field"),
    [
        ({"lat": 53.5}, "near"),
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox": "10,53,9,54"}, "bbox"),
        ({"bbox": "a,b,c,d"}, "bbox"),
        ({"lat": 91, "lon": 9}, "lat"),
        ({"lat": 53, "lon": 9, "radius_m": 0}, "radius_m"),
    ],
)
def test_bad_search_parameters_are_explained(
    client: TestClient, params: dict, rule_or_field: str
) -> None:
    response = client.get("/api/v1/zones", params=params)
    assert response.status_code == 422
    body = response.json()
    assert body.get("rule") == rule_or_field or rule_or_field in str(body.get("errors"))


def test_bbox_search(client: TestClient, operator: dict) -> None:
    client.post("/api/v1/zones/import", headers=operator, json=smala_collection())
    st_georg = client.get("/api/v1/zones", params={"bbox": "10.005,53.55,10.02,53.56"}).json()
    assert [z["id"] for z in st_georg["items"]] == ["HH-LRE-1"]


def test_zone_created_over_rest_is_searchable_at_once(
    client: TestClient, operator: dict, account_headers: Callable[..., dict]
) -> None:
    client.get("/api/v1/zones")  # index warm and fresh
    client.post("/api/v1/zones", headers=operator, json=zone_body("NEW-1"))
    assert [z["id"] for z in client.get("/api/v1/zones").json()["items"]] == ["NEW-1"]


def test_unknown_route_and_method_are_problems(client: TestClient) -> None:
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
    wrong = client.put("/api/v1/zones")
    assert wrong.status_code == 405 and "PUT is not allowed" in wrong.json()["detail"]


def test_malformed_json_is_a_clear_422(client: TestClient, operator: dict) -> None:
    response = client.post(
        "/api/v1/zones", headers={**operator, "Content-Type": "application/json"}, content=b"{nope"
    )
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM
