"""Token and JWT authentication of the API, with the reference's role rules."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from server_testkit import JWT_SECRET, bearer, expired_claims, make_jwt

TOKEN = "s3cret-token"


async def reason(response) -> str:
    return (await response.json())["reason"]


async def test_without_auth_configured_the_api_is_open(client: TestClient) -> None:
    assert (await client.get("/status")).status == 200


async def test_the_token_is_required_on_the_api_but_not_on_greeting_and_channels(
    make_client,
) -> None:
    client: TestClient = await make_client(auth_token=TOKEN)
    missing = await client.get("/status")
    assert missing.status == 401 and await reason(missing) == "NotAuthenticated"
    wrong = await client.get("/status?token=nope")
    assert wrong.status == 401
    assert (await client.get(f"/status?token={TOKEN}")).status == 200
    assert (await client.get("/status", headers=bearer(TOKEN))).status == 200
    assert (await client.get("/")).status == 200
    assert (await client.get("/version")).status == 200
    webhook = await client.post("/webhooks/rest/webhook", json={"message": "hello"})
    assert webhook.status == 200
    tracker = await client.get("/conversations/u/tracker")
    assert tracker.status == 401


async def test_an_admin_jwt_may_call_everything(make_client) -> None:
    client: TestClient = await make_client(jwt_secret=JWT_SECRET)
    admin = bearer(make_jwt("alice", "admin"))
    assert (await client.get("/status", headers=admin)).status == 200
    assert (await client.get("/conversations/bob/tracker", headers=admin)).status == 200


async def test_a_user_jwt_may_only_see_its_own_conversation(make_client) -> None:
    client: TestClient = await make_client(jwt_secret=JWT_SECRET)
    user = bearer(make_jwt("alice", "user"))
    own = await client.get("/conversations/alice/tracker", headers=user)
    assert own.status == 200
    other = await client.get("/conversations/bob/tracker", headers=user)
    assert other.status == 403 and await reason(other) == "NotAuthorized"
    status = await client.get("/status", headers=user)
    assert status.status == 403
    parse = await client.post("/model/parse", json={"text": "hi"}, headers=user)
    assert parse.status == 403


async def test_invalid_jwts_are_not_authenticated(make_client) -> None:
    client: TestClient = await make_client(jwt_secret=JWT_SECRET)
    forged = bearer(make_jwt("alice", "admin", secret="another-secret-of-32-bytes-length!!"))
    expired = bearer(make_jwt("alice", "admin", **expired_claims()))
    for headers in (forged, expired, bearer("not-a-jwt"), {}):
        response = await client.get("/status", headers=headers)
        assert response.status == 401 and await reason(response) == "NotAuthenticated"


async def test_either_credential_works_when_both_are_configured(make_client) -> None:
    client: TestClient = await make_client(auth_token=TOKEN, jwt_secret=JWT_SECRET)
    assert (await client.get(f"/status?token={TOKEN}")).status == 200
    assert (await client.get("/status", headers=bearer(make_jwt("a", "admin")))).status == 200
    user = bearer(make_jwt("a", "user"))
    assert (await client.get("/status", headers=user)).status == 403
    assert (await client.get("/status")).status == 401


async def test_the_openapi_description_names_the_schemes(make_client) -> None:
    client: TestClient = await make_client(auth_token=TOKEN)
    description = await (await client.get("/openapi.json")).json()
    assert set(description["components"]["securitySchemes"]) == {"token", "bearer"}
    assert description["paths"]["/status"]["get"]["security"]
    assert "security" not in description["paths"]["/"]["get"]


async def test_unsigned_or_unavailable_jwt_methods_are_refused_at_start(make_client) -> None:
    for method in ("none", "XX512"):
        with pytest.raises(ValueError, match="JWT method"):
            await make_client(jwt_secret=JWT_SECRET, jwt_method=method)
