"""The web app logs ids, paths and outcomes, never NHS numbers or query strings."""

from __future__ import annotations

from typing import Any

import httpx

from tcam_bridge.web import create_app
from tests.web.conftest import NOW, Seeded, csrf_of, sign_in, web_settings


class Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def _log(self, event: str, **fields: Any) -> None:
        self.lines.append(f"{event} {fields!r}")

    info = warning = error = debug = _log


async def test_no_nhs_numbers_in_logs(seeded: Seeded) -> None:
    recorder = Recorder()
    app = create_app(web_settings(), seeded.risklog, seeded.users, now=lambda: NOW, logger=recorder)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        await sign_in(c, "admin")
        await c.get("/flags?pharmacy=FA5T2&since=2026-01-01")
        await c.get("/flags.csv")
        await c.get("/api/flags")
        page = await c.get(f"/flags/{seeded.rr8_ids[0]}")
        assert "9994027611" in page.text.replace(" ", "")  # shown to the user...
        await c.post(
            f"/flags/{seeded.rr8_ids[0]}/review",
            data={"status": "under-review", "comment": "x", "csrf_token": csrf_of(page.text)},
        )
    text = "\n".join(recorder.lines)
    assert "http_request" in text and "flag_reviewed" in text
    for nhs in ("9994027611", "9990001112", "9876543210", "999 402 7611"):
        assert nhs not in text  # ...but never logged
    assert "FA5T2" not in text  # query strings are not logged
    assert "/flags/{flag_id:int}" in text  # route templates, not concrete URLs
