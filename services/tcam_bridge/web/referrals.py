"""The pharmacy inbox and the hospital's view of its referrals: pages and JSON API.

- ``pharmacist`` (bound to one pharmacy, ``User.pharmacy_ods``): ``/inbox`` lists that pharmacy's
  referrals by Stage 1 deadline; ``/referrals/{id}`` shows one (safety findings first) with a
  form per allowed action, posted to ``/referrals/{id}/actions``.
- ``hospital-pharmacy`` (its trusts) and ``admin`` (every trust): ``/trust/referrals`` and
  ``/trust/referrals/{id}``, read only: status, stage, outcome and event history.
- ``/api/referrals`` and ``/api/referrals/{id}``: the same data, scoped the same way, for all
  three roles (bearer tokens map ``tcam_pharmacy_ods`` for pharmacists, see ``oidc.py``).

A referral outside the caller's scope answers 404 everywhere (``ReferralNotFound``).
"""

from __future__ import annotations

import dataclasses
import enum
import math
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from tcam_bridge.risklog.users import User
from tcam_bridge.web.app import Web, web
from tcam_bridge.web.auth import (
    INBOX_ROLES,
    REFERRAL_API_ROLES,
    ROLE_HOSPITAL,
    ROLE_PHARMACIST,
    TRUST_ROLES,
)

if TYPE_CHECKING:
    from tcam_bridge.inbox.store import Inbox, Scope

router = APIRouter()
api_router = APIRouter(prefix="/api", tags=["referrals"])
WebDep = Annotated[Web, Depends(web)]

NOTE_MAX = 2000
# Stage 1 is open until it is recorded (the status moves on to in-progress) or the referral ends.
OPEN_STATUSES = frozenset({"requested", "received", "accepted"})
ACTION_LABELS = {
    "accept": "Accept referral",
    "reject": "Reject referral",
    "stage-1-complete": "Stage 1 complete",
    "stage-2-complete": "Stage 2 complete",
    "stage-3-complete": "Stage 3 complete",
    "complete": "Complete referral",
    "unable-to-contact": "Unable to contact patient",
}
EVENT_LABELS = {
    "received": "Referral received",
    "accept": "Accepted",
    "reject": "Rejected",
    "stage-1-complete": "Stage 1 complete",
    "stage-2-complete": "Stage 2 complete",
    "stage-3-complete": "Stage 3 complete",
    "complete": "Completed",
    "unable-to-contact": "Unable to contact patient",
}
STAGE_TEXT = {
    "stage-1-complete": "Stage 1 complete",
    "stage-2-complete": "Stage 2 complete",
    "stage-3-complete": "Stage 3 complete",
}
STATUS_TEXT = {
    "requested": "New",
    "received": "Received",
    "accepted": "Accepted",
    "rejected": "Rejected",
    "in-progress": "In progress",
    "completed": "Completed",
    "failed": "Failed",
    "cancelled": "Cancelled",
}
RESOLVED_WITH = (("hospital", "Hospital"), ("gp-practice", "GP practice"), ("patient", "Patient"))
CONSULTATION_MODES = (("in-person", "In person"), ("remote", "Remote (phone or video)"))


def scope_of(user: User) -> Scope:
    """The inbox scope of a user whose role was checked (``check_role``)."""
    from tcam_bridge.inbox.store import Scope

    if user.role == ROLE_PHARMACIST:
        return Scope(pharmacy_ods=user.pharmacy_ods)
    if user.role == ROLE_HOSPITAL:
        return Scope(trusts=user.trusts)
    return Scope()


def inbox_of(state: Web) -> Inbox:
    if state.inbox is None:
        from fastapi import HTTPException

        raise HTTPException(404, "The pharmacy inbox is not enabled on this server.")
    return state.inbox


async def pharmacist(request: Request, state: WebDep) -> User:
    return await state.auth.page_user(request, INBOX_ROLES)


async def hospital(request: Request, state: WebDep) -> User:
    return await state.auth.page_user(request, TRUST_ROLES)


async def api_caller(request: Request, state: WebDep) -> User:
    return await state.auth.api_user(request, REFERRAL_API_ROLES)


PharmacistDep = Annotated[User, Depends(pharmacist)]
HospitalDep = Annotated[User, Depends(hospital)]
ApiUserDep = Annotated[User, Depends(api_caller)]


# --- presentation helpers ----------------------------------------------------------------------


def _value(item: Any) -> str:
    return str(item.value) if isinstance(item, enum.Enum) else str(item)


def due_label(due: datetime | None, now: datetime, status: Any) -> tuple[str, bool]:
    """("due in 41 h", False) or ("OVERDUE by 3 h", True); ("", False) once no longer open."""
    if due is None or _value(status) not in OPEN_STATUSES:
        return "", False
    seconds = (due - now).total_seconds()
    span = abs(seconds)
    if span < 3600:
        amount = f"{max(1, math.floor(span / 60))} min"
    elif span < 72 * 3600:
        amount = f"{math.floor(span / 3600)} h"
    else:
        amount = f"{math.floor(span / 86400)} days"
    return (f"due in {amount}", False) if seconds >= 0 else (f"OVERDUE by {amount}", True)


DETAIL_NAMES = {
    "discrepancy_found": "Discrepancy found",
    "resolved_with": "Resolved with",
    "gp_contacted": "GP practice contacted",
    "consultation_mode": "Consultation",
    "onward_referral": "Onward referral",
    "reason": "Reason",
    "note": "Note",
}
CHOICE_TEXT = dict(RESOLVED_WITH) | dict(CONSULTATION_MODES)


def event_details(details: Any) -> list[tuple[str, str]]:
    """An event's details as (label, text) lines: yes/no for booleans, words for codes."""
    if not isinstance(details, dict):
        return [("", str(details))] if details else []
    lines = []
    for key, value in details.items():
        if value is None or value == "":
            continue
        if isinstance(value, bool):
            text = "Yes" if value else "No"
        else:
            text = CHOICE_TEXT.get(str(value), str(value))
        lines.append((DETAIL_NAMES.get(key, key.replace("_", " ").capitalize()), text))
    return lines


def jsonable(item: Any) -> Any:
    """Store dataclasses to JSON-ready values (enums by value, times in ISO 8601)."""
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return {f.name: jsonable(getattr(item, f.name)) for f in dataclasses.fields(item)}
    if isinstance(item, enum.Enum):
        return item.value
    if isinstance(item, datetime | date):
        return item.isoformat()
    if isinstance(item, dict):
        return {str(k): jsonable(v) for k, v in item.items()}
    if isinstance(item, list | tuple | set | frozenset):
        return [jsonable(v) for v in item]
    return item


def _rows(state: Web, items: Any) -> list[dict[str, Any]]:
    now = state.now()
    rows = []
    for s in items:
        text, overdue = due_label(s.stage1_due, now, s.status)
        rows.append({"s": s, "due_text": text, "overdue": overdue})
    return rows


def _field(form: Any, name: str) -> str:
    value = form.get(name)
    return value.replace("\r\n", "\n").strip() if isinstance(value, str) else ""


def _yes_no(form: Any, name: str) -> bool | None:
    return {"yes": True, "no": False}.get(_field(form, name))


# --- pharmacist pages --------------------------------------------------------------------------


@router.get("/inbox", response_class=HTMLResponse, include_in_schema=False)
async def inbox_page(request: Request, state: WebDep, user: PharmacistDep) -> Response:
    items = await inbox_of(state).list(scope_of(user))
    return state.render(
        request,
        "inbox.html",
        {"rows": _rows(state, items), "status_text": STATUS_TEXT, "stage_text": STAGE_TEXT},
        user=user,
        nav="inbox",
    )


def _referral_page(
    request: Request,
    state: Web,
    user: User,
    detail: Any,
    *,
    readonly: bool,
    errors: list[str] | None = None,
    done: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    summary = detail.summary
    due_text, overdue = due_label(summary.stage1_due, state.now(), summary.status)
    allowed = [_value(a) for a in detail.allowed]
    return state.render(
        request,
        "referral.html",
        {
            "d": detail,
            "r": summary,
            "due_text": due_text,
            "overdue": overdue,
            "readonly": readonly,
            "allowed": [] if readonly else allowed,
            "action_labels": ACTION_LABELS,
            "event_labels": EVENT_LABELS,
            "status_text": STATUS_TEXT,
            "stage_text": STAGE_TEXT,
            "errors": errors or [],
            "done": ACTION_LABELS.get(done or "", ""),
            "form": form or {},
            "resolved_with": RESOLVED_WITH,
            "consultation_modes": CONSULTATION_MODES,
            "note_max": NOTE_MAX,
            "back_href": "/trust/referrals" if readonly else "/inbox",
            "value": _value,
            "event_details": event_details,
        },
        user=user,
        status_code=status_code,
        nav="trust" if readonly else "inbox",
    )


@router.get("/referrals/{referral_id}", response_class=HTMLResponse, include_in_schema=False)
async def referral_page(
    request: Request, referral_id: str, state: WebDep, user: PharmacistDep
) -> Response:
    detail = await inbox_of(state).get(referral_id, scope_of(user))
    done = request.query_params.get("done")
    return _referral_page(request, state, user, detail, readonly=False, done=done)


@router.post("/referrals/{referral_id}/actions", include_in_schema=False)
async def referral_action(
    request: Request, referral_id: str, state: WebDep, user: PharmacistDep
) -> Response:
    from tcam_bridge.inbox.store import Action, ActionInput, InvalidAction

    form = await request.form()
    state.auth.check_csrf(request, _field(form, "csrf_token") or None)
    inbox = inbox_of(state)
    scope = scope_of(user)
    await inbox.get(referral_id, scope)  # 404 outside scope, before anything else
    kept = {
        name: _field(form, name)
        for name in (
            "action",
            "reason",
            "discrepancy_found",
            "resolved_with",
            "gp_contacted",
            "consultation_mode",
            "onward_referral",
            "note",
        )
    }
    errors: list[str] = []
    try:
        action: Action | None = Action(kept["action"])
    except ValueError:
        action = None
        errors.append("Choose an action.")
    for name in ("reason", "onward_referral", "note"):
        if len(kept[name]) > NOTE_MAX:
            errors.append(f"Keep each text box to {NOTE_MAX} characters.")
            break
    if action is not None and not errors:
        data = ActionInput(
            action,
            reason=kept["reason"] or None,
            discrepancy_found=_yes_no(form, "discrepancy_found"),
            resolved_with=kept["resolved_with"] or None,
            gp_contacted=_yes_no(form, "gp_contacted"),
            consultation_mode=kept["consultation_mode"] or None,
            onward_referral=kept["onward_referral"] or None,
            note=kept["note"] or None,
        )
        try:
            await inbox.act(referral_id, data, user.username, state.now(), scope)
        except InvalidAction as exc:
            detail = await inbox.get(referral_id, scope)
            return _referral_page(
                request,
                state,
                user,
                detail,
                readonly=False,
                errors=[str(exc)],
                form=kept,
                status_code=409,
            )
        state.log.info(
            "referral_action", referral_id=referral_id, action=action.value, user=user.username
        )
        return RedirectResponse(f"/referrals/{referral_id}?done={action.value}", status_code=303)
    detail = await inbox.get(referral_id, scope)
    return _referral_page(
        request, state, user, detail, readonly=False, errors=errors, form=kept, status_code=400
    )


# --- hospital pages ----------------------------------------------------------------------------


@router.get("/trust/referrals", response_class=HTMLResponse, include_in_schema=False)
async def trust_list(request: Request, state: WebDep, user: HospitalDep) -> Response:
    items = await inbox_of(state).list(scope_of(user))
    return state.render(
        request,
        "trust_referrals.html",
        {"rows": _rows(state, items), "status_text": STATUS_TEXT, "stage_text": STAGE_TEXT},
        user=user,
        nav="trust",
    )


@router.get("/trust/referrals/{referral_id}", response_class=HTMLResponse, include_in_schema=False)
async def trust_detail(
    request: Request, referral_id: str, state: WebDep, user: HospitalDep
) -> Response:
    detail = await inbox_of(state).get(referral_id, scope_of(user))
    return _referral_page(request, state, user, detail, readonly=True)


# --- JSON API ----------------------------------------------------------------------------------


@api_router.get("/referrals", summary="Referrals in your scope, by Stage 1 deadline")
async def api_list(state: WebDep, user: ApiUserDep) -> Any:
    items = await inbox_of(state).list(scope_of(user))
    now = state.now()
    return {
        "items": [
            {**jsonable(s), "stage1_overdue": due_label(s.stage1_due, now, s.status)[1]}
            for s in items
        ],
        "total": len(items),
    }


@api_router.get("/referrals/{referral_id}", summary="One referral with its events")
async def api_detail(referral_id: str, state: WebDep, user: ApiUserDep) -> Any:
    detail = await inbox_of(state).get(referral_id, scope_of(user))
    result: dict[str, Any] = jsonable(detail)
    if user.role != ROLE_PHARMACIST:
        result["allowed"] = []  # only the pharmacy acts on a referral
    return result
