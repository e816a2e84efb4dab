"""The JSON API: the same data and the same scoping as the pages.

Authenticate with ``Authorization: Bearer <JWT>`` from the OIDC issuer (see ``oidc.py``), or
with the session cookie of a signed-in browser. Read-only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from tcam_bridge.risklog.store import MAX_PAGE_SIZE, FlagDetail, allowed_transitions, flag_dict
from tcam_bridge.risklog.users import User
from tcam_bridge.web.app import Web, web
from tcam_bridge.web.filters import parse_filters

router = APIRouter(prefix="/api", tags=["risk log"])
WebDep = Annotated[Web, Depends(web)]


async def api_user(request: Request, state: WebDep) -> User:
    return await state.auth.api_user(request)


UserDep = Annotated[User, Depends(api_user)]


def _bad_filters(errors: list[str]) -> JSONResponse:
    return JSONResponse({"detail": errors}, status_code=422)


@router.get("/flags", summary="Flags matching the filters, newest discharge first")
async def list_flags(
    request: Request,
    state: WebDep,
    user: UserDep,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> Any:
    filters, errors = parse_filters(request.query_params)
    if errors:
        return _bad_filters(errors)
    result = await state.risklog.list_flags(filters.query(), user.scope, page, page_size)
    return {
        "items": [flag_dict(f) for f in result.items],
        "total": result.total,
        "page": result.page,
        "page_size": result.page_size,
        "filters": filters.as_dict(),
    }


@router.get("/flags/{flag_id:int}", summary="One flag with its review history")
async def get_flag(flag_id: int, state: WebDep, user: UserDep) -> Any:
    detail = await state.risklog.get_flag(flag_id, user.scope)
    return detail_dict(detail)


def detail_dict(detail: FlagDetail) -> dict[str, Any]:
    return {
        "flag": flag_dict(detail.flag),
        "reviews": [
            {
                "from_status": r.from_status.value,
                "to_status": r.to_status.value,
                "reviewer": r.reviewer,
                "comment": r.comment,
                "at": r.at.isoformat(),
            }
            for r in detail.reviews
        ],
        "allowed_transitions": [s.value for s in allowed_transitions(detail.flag.status)],
    }


@router.get("/summary", summary="Counts by rule and severity, and the weekly trend per rule")
async def summary(
    request: Request,
    state: WebDep,
    user: UserDep,
    weeks: Annotated[int, Query(ge=1, le=104)] = 12,
) -> Any:
    filters, errors = parse_filters(request.query_params)
    if errors:
        return _bad_filters(errors)
    today = state.now().date()
    result = await state.risklog.summary(filters.query(), user.scope, weeks=weeks, today=today)
    return {
        "by_rule": [{"rule_id": r, "count": c} for r, c in result.by_rule],
        "by_severity": [{"severity": s, "count": c} for s, c in result.by_severity],
        "weekly": {
            rule_id: [{"week_start": w.week_start.isoformat(), "count": w.count} for w in counts]
            for rule_id, counts in result.weekly.items()
        },
        "weeks": weeks,
        "today": today.isoformat(),
        "filters": filters.as_dict(),
    }
