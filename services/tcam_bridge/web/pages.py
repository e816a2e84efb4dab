"""The HTML pages: sign-in, flag list, flag detail and review, summary, CSV export."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, StreamingResponse
from starlette.responses import Response

from tcam_bridge.risklog.store import (
    EXPORT_COLUMNS,
    InvalidTransition,
    ReviewStatus,
    allowed_transitions,
    csv_row,
)
from tcam_bridge.risklog.users import User
from tcam_bridge.web.app import Web, web
from tcam_bridge.web.auth import ROLE_LEAD, home, may_open, safe_next
from tcam_bridge.web.charts import trend_chart
from tcam_bridge.web.filters import SEVERITIES, STATUS_LABELS, Filters, parse_filters, positive_int

router = APIRouter()
PAGE_SIZE = 50
COMMENT_MAX = 4000
SUMMARY_WEEKS = 12
MUST_EXPLAIN = frozenset(
    {ReviewStatus.ACTION_TAKEN, ReviewStatus.NO_ACTION_NEEDED, ReviewStatus.FALSE_POSITIVE}
)

WebDep = Annotated[Web, Depends(web)]


async def page_user(request: Request, state: WebDep) -> User:
    return await state.auth.page_user(request)


UserDep = Annotated[User, Depends(page_user)]


def rule_titles() -> dict[str, str]:
    from tcam_bridge.rules import default_rules

    return {rule.meta.id: rule.meta.title for rule in default_rules()}


_RULE_TITLES: dict[str, str] = {}


def _titles() -> dict[str, str]:
    if not _RULE_TITLES:
        _RULE_TITLES.update(rule_titles())
    return _RULE_TITLES


def _filter_context(filters: Filters, user: User) -> dict[str, Any]:
    trust_options = [(t, t) for t in sorted(user.trusts)] if user.role == ROLE_LEAD else None
    return {
        "form": filters.form(),
        "rule_options": [(rule_id, f"{rule_id} · {title}") for rule_id, title in _titles().items()],
        "severity_options": [(s, s.capitalize()) for s in SEVERITIES],
        "status_options": list(STATUS_LABELS.items()),
        "trust_options": trust_options,
    }


def _page_numbers(current: int, pages: int) -> list[int | None]:
    """1 … 4 5 [6] 7 8 … 20: ``None`` marks a gap."""
    shown = {1, pages, *range(current - 2, current + 3)}
    numbers: list[int | None] = []
    for n in sorted(p for p in shown if 1 <= p <= pages):
        if numbers and numbers[-1] is not None and n - numbers[-1] > 1:
            numbers.append(None)
        numbers.append(n)
    return numbers


# --- sign-in -------------------------------------------------------------------------------


@router.get("/", include_in_schema=False)
async def start(request: Request, state: WebDep) -> RedirectResponse:
    user = await state.quiet_user(request)
    return RedirectResponse(home(user) if user else "/flags", status_code=303)


@router.get("/healthz", include_in_schema=False)
async def healthz() -> PlainTextResponse:
    return PlainTextResponse("ok")


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_form(request: Request, state: WebDep, next: str | None = None) -> Response:
    return state.render(
        request,
        "login.html",
        {"next": safe_next(next, default=""), "username": "", "error": None},
        user=None,
    )


@router.post("/login", response_class=HTMLResponse, include_in_schema=False)
async def login(request: Request, state: WebDep) -> Response:
    form = await request.form()
    username = str(form.get("username", "")).strip()[:200]
    password = str(form.get("password", ""))[:1000]
    target = safe_next(str(form.get("next", "")), default="")
    state.auth.check_csrf(request, _field(form, "csrf_token"))

    def again(error: str, status_code: int) -> Response:
        return state.render(
            request,
            "login.html",
            {"next": target, "username": username, "error": error},
            user=None,
            status_code=status_code,
        )

    key = username.lower()
    if state.throttle.blocked(key):
        state.log.warning("sign_in_throttled")
        return again("Too many failed attempts. Wait 15 minutes and try again.", 429)
    user = await state.users.verify(username, password) if username and password else None
    if user is None:
        state.throttle.failed(key)
        state.log.info("sign_in_failed")
        return again("The username or password is not right.", 400)
    state.throttle.succeeded(key)
    state.auth.sign_in(request, user)
    state.log.info("sign_in", user=user.username, role=user.role)
    if not target or not may_open(user, target):
        target = home(user)  # a pharmacist sent to /flags lands on the inbox instead
    return RedirectResponse(target, status_code=303)


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, state: WebDep) -> Response:
    form = await request.form()
    state.auth.check_csrf(request, _field(form, "csrf_token"))
    response = RedirectResponse("/login", status_code=303)
    state.auth.sign_out(request)
    return response


def _field(form: Any, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


# --- flags ---------------------------------------------------------------------------------


@router.get("/flags", response_class=HTMLResponse, include_in_schema=False)
async def flag_list(request: Request, state: WebDep, user: UserDep) -> Response:
    filters, errors = parse_filters(request.query_params)
    page = positive_int(request.query_params.get("page"), 1, 1_000_000)
    result = await state.risklog.list_flags(filters.query(), user.scope, page, PAGE_SIZE)
    pages_total = max(1, math.ceil(result.total / PAGE_SIZE))
    first = (result.page - 1) * PAGE_SIZE + 1
    return state.render(
        request,
        "flags.html",
        {
            **_filter_context(filters, user),
            "errors": errors,
            "result": result,
            "pages": pages_total,
            "page_numbers": _page_numbers(result.page, pages_total),
            "page_href": lambda p: filters.href("/flags", page=p),
            "csv_href": filters.href("/flags.csv"),
            "first": first,
            "last": first + len(result.items) - 1,
        },
        user=user,
        nav="flags",
    )


@router.get("/flags.csv", include_in_schema=False)
async def flag_csv(request: Request, state: WebDep, user: UserDep) -> Response:
    filters, errors = parse_filters(request.query_params)
    if errors:
        # Never export more than was asked for because a filter was not understood.
        return PlainTextResponse("\n".join(errors), status_code=400)
    rows = state.risklog.export_rows(filters.query(), user.scope)
    stamp = state.now().strftime("%Y%m%d-%H%M")
    state.log.info("csv_export", user=user.username)
    return StreamingResponse(
        _csv_chunks(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="tcam-risk-log-{stamp}.csv"'},
    )


async def _csv_chunks(rows: AsyncIterator[Any]) -> AsyncIterator[str]:
    """UTF-8 with a byte order mark (so Excel reads the names right), CRLF line ends, every
    cell quoted as needed by the csv module; formula-like cells are neutralised by csv_row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    yield "\ufeff" + buffer.getvalue()
    async for flag in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(csv_row(flag))
        yield buffer.getvalue()


@router.get("/flags/{flag_id:int}", response_class=HTMLResponse, include_in_schema=False)
async def flag_detail(request: Request, flag_id: int, state: WebDep, user: UserDep) -> Response:
    detail = await state.risklog.get_flag(flag_id, user.scope)
    return _detail_page(
        request, state, user, detail, saved=request.query_params.get("saved") == "1"
    )


def _detail_page(
    request: Request,
    state: Web,
    user: User,
    detail: Any,
    *,
    saved: bool = False,
    errors: list[str] | None = None,
    form_status: str | None = None,
    form_comment: str = "",
    status_code: int = 200,
) -> Response:
    flag = detail.flag
    options = [(s.value, STATUS_LABELS[s.value]) for s in allowed_transitions(flag.status)]
    return state.render(
        request,
        "flag.html",
        {
            "f": flag,
            "reviews": detail.reviews,
            "saved": saved,
            "errors": errors or [],
            "status_options": options,
            "form_status": form_status,
            "form_comment": form_comment,
            "comment_max": COMMENT_MAX,
            "back_href": "/flags",
        },
        user=user,
        status_code=status_code,
        nav="flags",
    )


@router.post("/flags/{flag_id:int}/review", include_in_schema=False)
async def review(request: Request, flag_id: int, state: WebDep, user: UserDep) -> Response:
    form = await request.form()
    state.auth.check_csrf(request, _field(form, "csrf_token"))
    raw_status = _field(form, "status") or ""
    comment = (_field(form, "comment") or "").replace("\r\n", "\n").strip()
    detail = await state.risklog.get_flag(flag_id, user.scope)  # 404 outside scope
    errors: list[str] = []
    try:
        status: ReviewStatus | None = ReviewStatus(raw_status)
    except ValueError:
        status = None
        errors.append("Choose a status.")
    if len(comment) > COMMENT_MAX:
        errors.append(f"The comment must be at most {COMMENT_MAX} characters.")
    if status in MUST_EXPLAIN and not comment:
        errors.append(f"Say why in the comment when you mark a flag {STATUS_LABELS[status]}.")
    if status is not None and not errors:
        try:
            await state.risklog.review(
                flag_id, status, user.username, comment, state.now(), user.scope
            )
        except InvalidTransition as exc:
            errors.append(str(exc))
            detail = await state.risklog.get_flag(flag_id, user.scope)
            return _detail_page(
                request,
                state,
                user,
                detail,
                errors=errors,
                form_status=raw_status,
                form_comment=comment,
                status_code=409,
            )
        state.log.info("flag_reviewed", flag_id=flag_id, status=status.value, user=user.username)
        return RedirectResponse(f"/flags/{flag_id}?saved=1", status_code=303)
    return _detail_page(
        request,
        state,
        user,
        detail,
        errors=errors,
        form_status=raw_status,
        form_comment=comment,
        status_code=400,
    )


# --- summary -------------------------------------------------------------------------------


@router.get("/summary", response_class=HTMLResponse, include_in_schema=False)
async def summary_page(request: Request, state: WebDep, user: UserDep) -> Response:
    filters, errors = parse_filters(request.query_params)
    today = state.now().date()
    summary = await state.risklog.summary(
        filters.query(), user.scope, weeks=SUMMARY_WEEKS, today=today
    )
    titles = _titles()
    by_rule = [
        (rule_id, titles.get(rule_id, ""), count, filters.href("/flags", rule=rule_id))
        for rule_id, count in summary.by_rule
    ]
    charts = [
        trend_chart(rule_id, summary.weekly[rule_id])
        for rule_id, _count in summary.by_rule
        if rule_id in summary.weekly
    ]
    return state.render(
        request,
        "summary.html",
        {
            **_filter_context(filters, user),
            "errors": errors,
            "summary": summary,
            "by_severity": dict(summary.by_severity),
            "by_rule": by_rule,
            "total": sum(c for _, c in summary.by_severity),
            "severities": SEVERITIES,
            "charts": charts,
            "titles": titles,
            "weeks": SUMMARY_WEEKS,
            "today": today,
        },
        user=user,
        nav="summary",
    )
