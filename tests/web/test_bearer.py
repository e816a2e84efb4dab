"""Bearer tokens (OIDC JWTs) on the API, verified against a JWKS served by a fixture."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI

from tcam_bridge.web import create_app, oidc
from tests.web.conftest import AUDIENCE, ISSUER, JWKS_URL, NOW, Seeded, web_settings

KID = "test-key-1"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture
def jwks(monkeypatch: pytest.MonkeyPatch, signing_key: rsa.RSAPrivateKey) -> list[str]:
    """Serve the issuer's JWKS without a network: PyJWKClient's fetch is replaced."""
    public = jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key(), as_dict=True)
    document = {"keys": [{**public, "kid": KID, "use": "sig", "alg": "RS256"}]}
    fetched: list[str] = []

    def fetch_data(self: jwt.PyJWKClient) -> Any:
        fetched.append(self.uri)
        if self.jwk_set_cache is not None:
            self.jwk_set_cache.put(document)
        return document

    monkeypatch.setattr(jwt.PyJWKClient, "fetch_data", fetch_data)
    return fetched


Token = Callable[..., str]


@pytest.fixture
def token(signing_key: rsa.RSAPrivateKey) -> Token:
    def make(
        key: rsa.RSAPrivateKey | None = None,
        kid: str = KID,
        algorithm: str = "RS256",
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "555123456789",
            "preferred_username": "jo.bloggs@rr8.nhs.uk",
            "iat": now,
            "exp": now + 600,
            "tcam_role": "safety-lead",
            "tcam_trusts": ["RR8"],
            **claims,
        }
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(payload, key or signing_key, algorithm=algorithm, headers={"kid": kid})

    return make


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


async def test_valid_token_is_accepted_and_scoped(
    client: httpx.AsyncClient, jwks: list[str], token: Token, seeded: Seeded
) -> None:
    response = await client.get("/api/flags", headers=bearer(token()))
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == len(seeded.rr8_ids)
    assert {f["trust_ods"] for f in body["items"]} == {"RR8"}
    assert jwks == [JWKS_URL]
    other = await client.get(f"/api/flags/{seeded.rth_ids[0]}", headers=bearer(token()))
    assert other.status_code == 404
    mine = await client.get(f"/api/flags/{seeded.rr8_ids[0]}", headers=bearer(token()))
    assert mine.status_code == 200
    assert "set-cookie" not in response.headers  # no session for API clients


async def test_admin_token_sees_everything(
    client: httpx.AsyncClient, jwks: list[str], token: Token, seeded: Seeded
) -> None:
    response = await client.get("/api/flags", headers=bearer(token(tcam_role="admin")))
    assert response.json()["total"] == len(seeded.rr8_ids) + len(seeded.rth_ids)


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"aud": "another-service"}, id="wrong-audience"),
        pytest.param({"iss": "https://evil.example"}, id="wrong-issuer"),
        pytest.param({"exp": int(time.time()) - 3600}, id="expired"),
        pytest.param({"exp": None}, id="no-expiry"),
    ],
)
async def test_bad_claims_are_rejected(
    client: httpx.AsyncClient, jwks: list[str], token: Token, claims: dict[str, Any]
) -> None:
    response = await client.get("/api/flags", headers=bearer(token(**claims)))
    assert response.status_code == 401
    assert response.json() == {"detail": "invalid bearer token"}
    assert "9994027611" not in response.text


async def test_bad_signature_is_rejected(
    client: httpx.AsyncClient, jwks: list[str], token: Token
) -> None:
    forged = token(key=new_key())  # same kid, another key
    assert (await client.get("/api/flags", headers=bearer(forged))).status_code == 401
    tampered = token().rsplit(".", 1)[0] + ".AAAA"
    assert (await client.get("/api/flags", headers=bearer(tampered))).status_code == 401


async def test_hmac_and_none_algorithms_are_rejected(
    client: httpx.AsyncClient, jwks: list[str], signing_key: rsa.RSAPrivateKey
) -> None:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60}
    hs = jwt.encode({**claims, "tcam_role": "admin"}, "secret-" * 6, algorithm="HS256")
    unsigned = jwt.encode({**claims, "tcam_role": "admin"}, "", algorithm="none")
    for value in (hs, unsigned, "not-a-jwt"):
        assert (await client.get("/api/flags", headers=bearer(value))).status_code == 401
    basic = {"Authorization": "Basic YWRtaW46YWRtaW4="}
    assert (await client.get("/api/flags", headers=basic)).status_code == 401


async def test_unknown_key_id_is_rejected(
    client: httpx.AsyncClient, jwks: list[str], token: Token
) -> None:
    assert (await client.get("/api/flags", headers=bearer(token(kid="other")))).status_code == 401


@pytest.mark.parametrize("role", ["pharmacist", "hospital-pharmacy", None])
async def test_other_roles_get_403(
    client: httpx.AsyncClient, jwks: list[str], token: Token, role: str | None
) -> None:
    response = await client.get("/api/flags", headers=bearer(token(tcam_role=role)))
    assert response.status_code == 403


async def test_lead_without_trusts_sees_nothing(
    client: httpx.AsyncClient, jwks: list[str], token: Token
) -> None:
    for trusts in (None, "RR8", [1, 2]):  # absent or malformed: no trusts
        body = (await client.get("/api/flags", headers=bearer(token(tcam_trusts=trusts)))).json()
        assert body["total"] == 0


async def test_tokens_refused_when_oidc_is_not_configured(
    seeded: Seeded, jwks: list[str], token: Token
) -> None:
    app = create_app(
        web_settings(oidc_issuer=None, oidc_audience=None, oidc_jwks_url=None),
        seeded.risklog,
        seeded.users,
        now=lambda: NOW,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        assert (await c.get("/api/flags", headers=bearer(token()))).status_code == 401
    assert jwks == []


async def test_jwks_found_by_discovery(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch, jwks: list[str], token: Token
) -> None:
    asked: list[str] = []

    def fetch_json(url: str, timeout: float = 10.0) -> Any:
        asked.append(url)
        return {"issuer": ISSUER, "jwks_uri": "https://login.test.example/keys"}

    monkeypatch.setattr(oidc, "fetch_json", fetch_json)
    app: FastAPI = create_app(
        web_settings(oidc_jwks_url=None), seeded.risklog, seeded.users, now=lambda: NOW
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        assert (await c.get("/api/flags", headers=bearer(token()))).status_code == 200
        assert (await c.get("/api/summary", headers=bearer(token()))).status_code == 200
    assert asked == [f"{ISSUER}/.well-known/openid-configuration"]
    assert jwks[0] == "https://login.test.example/keys"


async def test_discovery_naming_another_issuer_is_refused(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch, jwks: list[str], token: Token
) -> None:
    monkeypatch.setattr(
        oidc,
        "fetch_json",
        lambda url, timeout=10.0: {"issuer": "https://evil.example", "jwks_uri": "https://e/k"},
    )
    app = create_app(
        web_settings(oidc_jwks_url=None), seeded.risklog, seeded.users, now=lambda: NOW
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        assert (await c.get("/api/flags", headers=bearer(token()))).status_code == 503
    assert jwks == []


def test_claims_mapping() -> None:
    user = oidc.user_from_claims(
        {"sub": "1", "tcam_role": "safety-lead", "tcam_trusts": [" rr8 ", "RTH", 5]}
    )
    assert user.username == "1"
    assert user.role == "safety-lead"
    assert user.trusts == frozenset({"RR8", "RTH"})
    assert user.scope.trusts == frozenset({"RR8", "RTH"})


async def test_pharmacist_token_is_scoped_to_its_pharmacy(
    inbox_client: httpx.AsyncClient, inboxed: Any, jwks: list[str], token: Token
) -> None:
    own = token(tcam_role="pharmacist", tcam_trusts=None, tcam_pharmacy_ods="FA5T2")
    body = (await inbox_client.get("/api/referrals", headers=bearer(own))).json()
    assert {i["pharmacy_ods"] for i in body["items"]} == {"FA5T2"}
    other = await inbox_client.get(f"/api/referrals/{inboxed.other_id}", headers=bearer(own))
    assert other.status_code == 404
    assert (await inbox_client.get("/api/flags", headers=bearer(own))).status_code == 403
    # A pharmacist token without a pharmacy sees nothing, rather than everything.
    bare = token(tcam_role="pharmacist", tcam_trusts=None)
    assert (await inbox_client.get("/api/referrals", headers=bearer(bare))).status_code == 403
    lead = token()  # safety-lead
    assert (await inbox_client.get("/api/referrals", headers=bearer(lead))).status_code == 403
    ward = token(tcam_role="hospital-pharmacy", tcam_trusts=["RTH"])
    items = (await inbox_client.get("/api/referrals", headers=bearer(ward))).json()["items"]
    assert [i["referral_id"] for i in items] == [inboxed.rth_id]
