from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from api.app import create_app
from api.settings import ApiSettings
from booking.settings import BookingSettings


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_readyz_is_503_when_the_database_is_gone(api_settings: ApiSettings) -> None:
    unreachable = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    app = create_app(api_settings, BookingSettings(), engine=unreachable)
    response = TestClient(app).get("/readyz")  # no lifespan: startup would need the database
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "database does not answer" in response.json()["detail"]


def test_openapi_documents_problem_responses(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    create = schema["paths"]["/api/v1/zones"]["post"]["responses"]
    assert "application/problem+json" in create["422"]["content"]
    assert schema["paths"]["/api/v1/zones/{zone_id}"]["get"]["responses"]["404"]
