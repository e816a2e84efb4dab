"""Who is asking, and what they may see.

- Browsers sign in with a local account (argon2 hash, ``Users.verify``) and get a session cookie
  signed with ``TCAM_WEB_SESSION_SECRET`` (itsdangerous): HttpOnly, SameSite=Lax, Secure when the
  request came over https, valid for 8 hours from sign-in. The cookie holds only the username,
  the CSRF token and the sign-in time; the account is re-read on every request, so a removed
  account stops working at once.
- Every POST form carries the session's CSRF token in a hidden field; it is compared in
  constant time. Signing in starts a new session (new token), so a token cannot be planted.
- API clients send ``Authorization: Bearer <JWT>`` from the OIDC issuer (see ``oidc.py``).
- Roles: ``safety-lead`` (the risk log of the trusts on its account), ``admin`` (every trust's
  risk log and referrals), ``pharmacist`` (the pharmacy inbox of the one ODS code on its account,
  ``User.pharmacy_ods``), ``hospital-pharmacy`` (read-only: the referrals its trusts sent). A role
  outside a surface's roles gets 403 there; a referral outside the caller's scope answers 404.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from fastapi import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.responses import Response

from tcam_bridge.risklog.users import User, Users
from tcam_bridge.web.oidc import IssuerUnavailable, OidcVerifier, TokenRejected

COOKIE = "tcam_session"
SESSION_SECONDS = 8 * 3600
CSRF_FIELD = "csrf_token"
ROLE_ADMIN = "admin"
ROLE_LEAD = "safety-lead"
ROLE_PHARMACIST = "pharmacist"
ROLE_HOSPITAL = "hospital-pharmacy"
RISKLOG_ROLES = frozenset({ROLE_ADMIN, ROLE_LEAD})
INBOX_ROLES = frozenset({ROLE_PHARMACIST})
TRUST_ROLES = frozenset({ROLE_ADMIN, ROLE_HOSPITAL})
REFERRAL_API_ROLES = INBOX_ROLES | TRUST_ROLES
AREAS = {
    # roles -> what the 403 page calls the surface
    RISKLOG_ROLES: "the risk log",
    INBOX_ROLES: "the pharmacy inbox",
    TRUST_ROLES: "the hospital referral view",
    REFERRAL_API_ROLES: "referrals",
}


class LoginRequired(Exception):
    """No signed-in user: pages redirect to the sign-in form."""


class NotAuthenticated(Exception):
    """No valid credentials on an API request: 401."""

    def __init__(self, reason: str = "authentication required") -> None:
        super().__init__(reason)
        self.reason = reason


class AuthUnavailable(Exception):
    """The OIDC issuer's keys could not be fetched: 503."""


class Forbidden(Exception):
    """Signed in, but the role may not use this surface (``area``): 403."""

    def __init__(self, area: str = "the risk log") -> None:
        super().__init__(area)
        self.area = area


class CsrfFailed(Exception):
    """A POST without the session's CSRF token: 403."""


@dataclass
class Session:
    csrf: str
    username: str | None = None
    signed_in_at: int | None = None
    dirty: bool = field(default=False, compare=False)


class Auth:
    def __init__(self, secret: bytes, users: Users, oidc: OidcVerifier) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="tcam-web-session")
        self.users = users
        self.oidc = oidc

    # --- session cookie -------------------------------------------------------------------

    def session(self, request: Request) -> Session:
        """The request's session, or a new anonymous one (saved by ``save``)."""
        cached = getattr(request.state, "tcam_session", None)
        if isinstance(cached, Session):
            return cached
        session = self._load(request.cookies.get(COOKIE))
        request.state.tcam_session = session
        return session

    def _load(self, cookie: str | None) -> Session:
        if cookie:
            try:
                data: Any = self._serializer.loads(cookie, max_age=SESSION_SECONDS)
            except BadSignature:
                data = None
            if isinstance(data, dict) and isinstance(data.get("csrf"), str):
                username = data.get("user")
                at = data.get("at")
                return Session(
                    csrf=data["csrf"],
                    username=username if isinstance(username, str) else None,
                    signed_in_at=at if isinstance(at, int) else None,
                )
        return Session(csrf=secrets.token_urlsafe(32), dirty=True)

    def save(self, request: Request, response: Response, session: Session) -> None:
        value = self._serializer.dumps(
            {"csrf": session.csrf, "user": session.username, "at": session.signed_in_at}
        )
        response.set_cookie(
            COOKIE,
            value,
            max_age=SESSION_SECONDS,
            path="/",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )

    def sign_in(self, request: Request, user: User) -> Session:
        session = Session(
            csrf=secrets.token_urlsafe(32),
            username=user.username,
            signed_in_at=int(time.time()),
            dirty=True,
        )
        request.state.tcam_session = session
        return session

    def sign_out(self, request: Request) -> None:
        """A new anonymous session replaces the signed-in one (saved by the middleware)."""
        request.state.tcam_session = Session(csrf=secrets.token_urlsafe(32), dirty=True)

    def check_csrf(self, request: Request, submitted: str | None) -> None:
        session = self.session(request)
        if session.dirty or not submitted or not hmac.compare_digest(submitted, session.csrf):
            raise CsrfFailed

    # --- who is asking --------------------------------------------------------------------

    async def user(self, request: Request) -> User | None:
        """The bearer token's user when an Authorization header is sent, else the session's."""
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise NotAuthenticated("unsupported authorization scheme")
            try:
                return await anyio.to_thread.run_sync(self.oidc.verify, token.strip())
            except TokenRejected as exc:
                raise NotAuthenticated("invalid bearer token") from exc
            except IssuerUnavailable as exc:
                raise AuthUnavailable from exc
        if COOKIE not in request.cookies and not hasattr(request.state, "tcam_session"):
            return None  # no session: do not start one just to say so
        session = self.session(request)
        if session.username is None:
            return None
        return await self.users.get(session.username)

    async def page_user(self, request: Request, roles: frozenset[str] = RISKLOG_ROLES) -> User:
        try:
            user = await self.user(request)
        except NotAuthenticated:
            user = None
        if user is None:
            raise LoginRequired
        check_role(user, roles)
        return user

    async def api_user(self, request: Request, roles: frozenset[str] = RISKLOG_ROLES) -> User:
        user = await self.user(request)
        if user is None:
            raise NotAuthenticated
        check_role(user, roles)
        return user


def check_role(user: User, roles: frozenset[str]) -> None:
    """403 unless the role is one of ``roles`` and its scope is not empty (a pharmacist without
    a pharmacy, a hospital user without trusts: never "everything")."""
    if user.role not in roles:
        raise Forbidden(AREAS.get(roles, "this page"))
    if user.role == ROLE_PHARMACIST and not user.pharmacy_ods:
        raise Forbidden(AREAS.get(roles, "this page"))
    if user.role == ROLE_HOSPITAL and not user.trusts:
        raise Forbidden(AREAS.get(roles, "this page"))


def home(user: User) -> str:
    """Where a role lands after sign-in."""
    if user.role == ROLE_PHARMACIST:
        return "/inbox"
    if user.role == ROLE_HOSPITAL:
        return "/trust/referrals"
    return "/flags"


def may_open(user: User, path: str) -> bool:
    """Whether ``path`` (a safe same-site path) is a page the role may use."""
    area = path.split("?", 1)[0]
    if area.startswith(("/flags", "/summary")):
        return user.role in RISKLOG_ROLES
    if area.startswith(("/inbox", "/referrals")):
        return user.role in INBOX_ROLES
    if area.startswith("/trust/"):
        return user.role in TRUST_ROLES
    return True


def safe_next(target: str | None, default: str = "/flags") -> str:
    """Only same-site paths: never an open redirect."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 0x20 for c in target)
    ):
        return default
    return target
