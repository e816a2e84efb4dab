"""Bearer tokens for the JSON API: OIDC access or ID tokens (JWT) from the configured issuer.

NHS CIS2 (Care Identity Service 2) is an OpenID Connect provider, so a CIS2 token, or one from
a trust's own identity provider, works once its issuer's claims are mapped as below.

Verification (``OidcVerifier.verify``):

- the signing key comes from the issuer's JWKS: ``TCAM_OIDC_JWKS_URL``, or else the
  ``jwks_uri`` of ``{TCAM_OIDC_ISSUER}/.well-known/openid-configuration`` (whose ``issuer`` must
  match). Keys are cached; an unknown ``kid`` refetches the set (rate limited by PyJWT);
- only asymmetric algorithms are accepted (RS*, PS*, ES*); never ``none`` or HMAC, so a public
  key can never be used as an HMAC secret;
- ``iss`` must equal ``TCAM_OIDC_ISSUER``, ``aud`` must contain ``TCAM_OIDC_AUDIENCE``, ``exp``
  must be in the future (30 seconds of clock skew allowed); ``exp``, ``iss``, ``aud`` and
  ``sub`` are required. Both settings must be set, or every bearer token is refused.

Claims -> user (configure the identity provider, or the gateway in front of it, to issue them):

- ``preferred_username``, else ``sub`` -> ``username`` (the reviewer named in review history);
- ``tcam_role`` (string) -> ``role``: ``safety-lead`` or ``admin`` may use the risk log; any
  other value, or none, gets 403;
- ``tcam_trusts`` (list of ODS codes) -> ``trusts``: the trusts a ``safety-lead`` sees; absent
  or malformed means none;
- ``tcam_pharmacy_ods`` (string) -> ``pharmacy_ods`` (pharmacy roles; unused by the risk log).

With CIS2, derive ``tcam_role`` from the user's selected role (``nhsid_nrbac_roles``, e.g. a
medicines-safety activity code) and ``tcam_trusts`` from its organisation (``org_code``).
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import jwt

from tcam_bridge.risklog.users import User

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
LEEWAY_SECONDS = 30
ROLE_CLAIM = "tcam_role"
TRUSTS_CLAIM = "tcam_trusts"
PHARMACY_CLAIM = "tcam_pharmacy_ods"


class TokenRejected(Exception):
    """The bearer token is not acceptable (the reason is for logs, never shown in detail)."""


class IssuerUnavailable(Exception):
    """The issuer's keys could not be fetched."""


def fetch_json(url: str, timeout: float = 10.0) -> Any:
    """GET a JSON document (OIDC discovery). Tests replace this: no network in tests."""
    response = httpx.get(url, timeout=timeout, follow_redirects=False)
    response.raise_for_status()
    return response.json()


class OidcVerifier:
    def __init__(self, issuer: str | None, audience: str | None, jwks_url: str | None) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url
        self._client: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return bool(self.issuer and self.audience)

    def _jwk_client(self) -> jwt.PyJWKClient:
        with self._lock:
            if self._client is None:
                url = self.jwks_url or self._discover_jwks_uri()
                self._client = jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=10)
            return self._client

    def _discover_jwks_uri(self) -> str:
        assert self.issuer is not None
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            document = fetch_json(url)
        except (httpx.HTTPError, ValueError) as exc:
            raise IssuerUnavailable(f"discovery failed: {type(exc).__name__}") from exc
        if not isinstance(document, dict) or document.get("issuer") != self.issuer:
            raise IssuerUnavailable("discovery document names another issuer")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise IssuerUnavailable("discovery document has no jwks_uri")
        return jwks_uri

    def verify(self, token: str) -> User:
        """Verify ``token`` and map its claims to a user. Blocking (may fetch keys)."""
        if not self.configured:
            raise TokenRejected("bearer tokens are not configured")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise TokenRejected("malformed token") from exc
        if header.get("alg") not in ALGORITHMS:
            raise TokenRejected("algorithm not allowed")
        try:
            key = self._jwk_client().get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            raise IssuerUnavailable("could not fetch the issuer's keys") from exc
        except (jwt.PyJWKClientError, jwt.InvalidTokenError) as exc:
            raise TokenRejected("no matching signing key") from exc
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.InvalidTokenError as exc:
            raise TokenRejected(type(exc).__name__) from exc
        return user_from_claims(claims)


def user_from_claims(claims: dict[str, Any]) -> User:
    username = claims.get("preferred_username") or claims.get("sub")
    if not isinstance(username, str) or not username:
        raise TokenRejected("no subject")
    role = claims.get(ROLE_CLAIM)
    trusts = claims.get(TRUSTS_CLAIM)
    pharmacy = claims.get(PHARMACY_CLAIM)
    trust_set = (
        frozenset(t.strip().upper() for t in trusts if isinstance(t, str) and t.strip())
        if isinstance(trusts, list)
        else frozenset()
    )
    return User(
        username=username,
        role=role if isinstance(role, str) else "",
        trusts=trust_set,
        pharmacy_ods=pharmacy if isinstance(pharmacy, str) else None,
    )
