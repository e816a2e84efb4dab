"""The web app: server-rendered pages and a JSON API.

- the risk log, for medicines safety leads (``pages.py``, ``api.py``);
- the community pharmacy inbox, for pharmacists, and the hospital's read-only view of its
  referrals and their outcomes (``referrals.py``), when an ``Inbox`` is given.

``create_app(settings, risklog, users, inbox=...)`` builds it; ``tcam web`` serves it with
uvicorn. Pages need no JavaScript (the Content-Security-Policy allows none); charts are inline
SVG.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from tcam_bridge.adapters import logs
from tcam_bridge.risklog.store import FlagNotFound, RiskLog
from tcam_bridge.risklog.users import User, Users
from tcam_bridge.settings import Settings
from tcam_bridge.web.auth import (
    Auth,
    AuthUnavailable,
    CsrfFailed,
    Forbidden,
    LoginRequired,
    NotAuthenticated,
    home,
)
from tcam_bridge.web.filters import STATUS_LABELS
from tcam_bridge.web.oidc import OidcVerifier

if TYPE_CHECKING:
    from tcam_bridge.inbox.store import Inbox

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

Clock = Callable[[], datetime]
FORBIDDEN_TEXT = {
    "the risk log": "The medicines safety risk log is for medicines safety leads and "
    "administrators. ",
    "the pharmacy inbox": "The pharmacy inbox is for community pharmacists. ",
    "the hospital referral view": "The hospital referral view is for hospital pharmacy teams "
    "and administrators. ",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class LoginThrottle:
    """Refuse a user name after ``limit`` failed sign-ins within ``window`` seconds."""

    limit: int = 10
    window: float = 900.0
    failures: dict[str, list[float]] = field(default_factory=dict)

    def blocked(self, username: str) -> bool:
        now = time.monotonic()
        recent = [t for t in self.failures.get(username, []) if now - t < self.window]
        if recent:
            self.failures[username] = recent
        else:
            self.failures.pop(username, None)
        return len(recent) >= self.limit

    def failed(self, username: str) -> None:
        if len(self.failures) > 10_000:  # bounded memory
            self.failures.clear()
        self.failures.setdefault(username, []).append(time.monotonic())

    def succeeded(self, username: str) -> None:
        self.failures.pop(username, None)


@dataclass
class Web:
    """What the routes need, kept on ``app.state.web``."""

    settings: Settings
    risklog: RiskLog
    users: Users
    auth: Auth
    now: Clock
    templates: jinja2.Environment
    static_version: str
    log: Any
    inbox: Inbox | None = None
    throttle: LoginThrottle = field(default_factory=LoginThrottle)

    async def quiet_user(self, request: Request) -> User | None:
        """The signed-in user, or None (no error for a missing or bad credential)."""
        return await _quiet_user(self, request)

    def render(
        self,
        request: Request,
        name: str,
        context: dict[str, Any],
        *,
        user: User | None,
        status_code: int = 200,
        nav: str = "",
    ) -> HTMLResponse:
        session = self.auth.session(request)
        html = self.templates.get_template(name).render(
            {
                "user": user,
                "csrf_token": session.csrf,
                "nav": nav,
                **context,
            }
        )
        return HTMLResponse(html, status_code=status_code)

    def error_page(
        self,
        request: Request,
        status_code: int,
        heading: str,
        message: str,
        *,
        user: User | None = None,
        back_href: str = "/flags",
        back_text: str = "Go to the flags",
    ) -> HTMLResponse:
        return self.render(
            request,
            "error.html",
            {
                "heading": heading,
                "message": message,
                "back_href": back_href,
                "back_text": back_text,
            },
            user=user,
            status_code=status_code,
        )


def web(request: Request) -> Web:
    state: Web = request.app.state.web
    return state


# --- template filters --------------------------------------------------------------------


def _nhs_number(value: str) -> str:
    return f"{value[:3]} {value[3:6]} {value[6:]}" if len(value) == 10 else value


def _day(value: date | None) -> str:
    return f"{value.day} {value:%b %Y}" if value else ""


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    value = value.astimezone(UTC)
    return f"{value.day} {value:%b %Y, %H:%M} UTC"


def make_templates(static_version: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, whatever its extension
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["nhs_number"] = _nhs_number
    env.filters["day"] = _day
    env.filters["when"] = _when
    env.globals["status_labels"] = STATUS_LABELS
    env.globals["static_url"] = lambda name: f"/static/{name}?v={static_version}"
    return env


def _static_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(STATIC.glob("*")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


# --- the app -------------------------------------------------------------------------------


def create_app(
    settings: Settings,
    risklog: RiskLog,
    users: Users,
    *,
    inbox: Inbox | None = None,
    now: Clock = utc_now,
    logger: Any = None,
) -> FastAPI:
    from tcam_bridge.web import api, pages, referrals

    secret = (
        settings.web_session_secret.get_secret_value().encode()
        if settings.web_session_secret is not None
        else secrets.token_bytes(32)
    )
    oidc = OidcVerifier(settings.oidc_issuer, settings.oidc_audience, settings.oidc_jwks_url)
    version = _static_version()
    state = Web(
        settings=settings,
        risklog=risklog,
        users=users,
        auth=Auth(secret, users, oidc),
        now=now,
        templates=make_templates(version),
        static_version=version,
        log=logger or logs.get_logger("tcam.web"),
        inbox=inbox,
    )
    app = FastAPI(
        title="TCAM Bridge risk log",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.web = state
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(referrals.router)
    app.include_router(referrals.api_router)
    _install_middleware(app, state)
    _install_handlers(app, state)
    return app


def _install_middleware(app: FastAPI, state: Web) -> None:
    @app.middleware("http")
    async def headers_and_session(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        session = getattr(request.state, "tcam_session", None)
        if session is not None and session.dirty:
            state.auth.save(request, response, session)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.scheme == "https":
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        # The path only: query strings may hold filter values; NHS numbers are never in a URL.
        route = request.scope.get("route")
        state.log.info(
            "http_request",
            method=request.method,
            path=getattr(route, "path", None) or "(unmatched)",
            status=response.status_code,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return response


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _install_handlers(app: FastAPI, state: Web) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        from urllib.parse import urlencode

        return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)

    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(request: Request, exc: NotAuthenticated) -> Response:
        return JSONResponse(
            {"detail": exc.reason},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="tcam-risk-log"'},
        )

    @app.exception_handler(AuthUnavailable)
    async def auth_unavailable(request: Request, exc: AuthUnavailable) -> Response:
        state.log.warning("oidc_keys_unavailable")
        return JSONResponse({"detail": "the identity provider is unavailable"}, status_code=503)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": f"your role may not use {exc.area}"}, status_code=403)
        user = await _quiet_user(state, request)
        explain = FORBIDDEN_TEXT.get(exc.area, "")
        return state.error_page(
            request,
            403,
            f"You do not have access to {exc.area}",
            f"{explain}Your account's role does not include it. "
            "Ask your administrator if you need it.",
            user=user,
            back_href="/login",
            back_text="Sign in with another account",
        )

    from tcam_bridge.inbox.store import ReferralNotFound

    @app.exception_handler(ReferralNotFound)
    async def referral_not_found(request: Request, exc: ReferralNotFound) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": "referral not found"}, status_code=404)
        user = await _quiet_user(state, request)
        return state.error_page(
            request,
            404,
            "Referral not found",
            "There is no referral with this id that you can see.",
            user=user,
            back_href=home(user) if user else "/login",
            back_text="Go to your referrals",
        )

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        return state.error_page(
            request,
            403,
            "This form has expired",
            "The form was not sent from this page, or your session changed since it was shown. "
            "Go back, reload the page and try again.",
        )

    @app.exception_handler(FlagNotFound)
    async def flag_not_found(request: Request, exc: FlagNotFound) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": "flag not found"}, status_code=404)
        return state.error_page(
            request,
            404,
            "Flag not found",
            "There is no flag with this number that you can see.",
            user=await _quiet_user(state, request),
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _is_api(request) or request.url.path.startswith("/static/"):
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        heading = "Page not found" if exc.status_code == 404 else "Something went wrong"
        return state.error_page(request, exc.status_code, heading, str(exc.detail), user=None)


async def _quiet_user(state: Web, request: Request) -> User | None:
    try:
        user = await state.auth.user(request)
    except (NotAuthenticated, AuthUnavailable):
        return None
    return user
