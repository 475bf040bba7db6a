"""Numbers that cannot name a row are 4xx, never a database overflow; the OpenAPI document
describes the error body the API really sends."""
import pytest

from tests.support import login

HUGE = 10**20


@pytest.mark.parametrize("method,path", [
    ("get", f"/api/v1/memberships/{HUGE}"),
    ("post", f"/api/v1/memberships/{HUGE}/topups"),
    ("get", f"/api/v1/topups/{HUGE}"),
    ("get", f"/api/v1/announcements/{HUGE}"),
    ("get", f"/api/v1/plans/adult_789/runs/{HUGE}"),
    ("get", f"/api/v1/claims/{HUGE}"),
])
def test_huge_ids_in_paths_are_404(client, emulator, method, path):
    headers = login(client, emulator.url, "o-huge")
    response = getattr(client, method)(path, headers=headers, json={"amount_fen": 300} if method == "post" else None)
    assert response.status_code == 404, response.get_json()
    assert response.get_json()["error"]["code"] == "not_found"


def test_huge_ids_in_bodies_are_422(client, emulator):
    headers = login(client, emulator.url, "o-huge-body")
    response = client.post("/api/v1/claims", headers=headers, json={
        "membership_id": HUGE, "incident_type": "illness", "incident_date": "2026-01-01",
        "diagnosis_date": "2026-01-02", "diagnosis": "x", "hospital": "x", "city": "x"})
    assert response.status_code == 422 and "membership_id" in response.get_json()["error"]["details"]["fields"]["json"]


@pytest.mark.no_database
def test_every_documented_error_is_the_envelope(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    envelope_refs = {"#/components/schemas/ErrorEnvelope"}
    responses = spec["components"].get("responses", {})
    for name, response in responses.items():
        schema = response["content"]["application/json"]["schema"]
        assert schema.get("$ref") in envelope_refs, (name, schema)
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            for status, response in operation.get("responses", {}).items():
                if status.startswith("2") or "$ref" in response:
                    if "$ref" in response:
                        assert response["$ref"].split("/")[-1] in responses
                    continue
                schema = response.get("content", {}).get("application/json", {}).get("schema", {})
                # The envelope, with error.code narrowed to the operation's codes (app/api/error_docs.py).
                envelope = schema["allOf"][0] if "allOf" in schema else schema
                assert envelope.get("$ref") in envelope_refs, (method, path, status, schema)
                assert response["x-error-codes"], (method, path, status)
