"""The list, detail and review pages, filters and paging, escaping, the CSV and the API."""

from __future__ import annotations

import csv
import io
import re

import httpx

from tests.web.conftest import FORMULA, XSS, Seeded, csrf_of

WARFARIN_FLAG = "Duplicate oral anticoagulants"


async def test_list_filters(lead: httpx.AsyncClient, seeded: Seeded) -> None:
    page = await lead.get("/flags?rule=TCAM_DUP_ANTICOAG")
    assert "<strong>4</strong> flags" in page.text
    assert 'value="TCAM_DUP_ANTICOAG" selected' in page.text
    page = await lead.get("/flags?since=2026-11-01&until=2026-11-10")
    assert "<strong>2</strong> flags" in page.text
    page = await lead.get("/flags?severity=high&status=new&pharmacy=FA5T2")
    assert f"<strong>{len(seeded.rr8_ids)}</strong> flags" in page.text
    page = await lead.get("/flags?status=action-taken")
    assert "No flags match these filters." in page.text


async def test_bad_filter_values_are_reported(lead: httpx.AsyncClient) -> None:
    page = await lead.get("/flags?since=yesterday&severity=urgent&trust=<b>")
    assert page.status_code == 200
    assert "Discharged from must be a date" in page.text
    assert "Severity must be high, moderate or low." in page.text
    assert "<b>" not in page.text
    assert (await lead.get("/flags.csv?since=yesterday")).status_code == 400
    assert (await lead.get("/api/flags?severity=urgent")).status_code == 422


async def test_paging(admin: httpx.AsyncClient, seeded: Seeded) -> None:
    for n in range(60):
        from datetime import date

        from tests.web.conftest import NOW, make_event

        await seeded.risklog.record(
            make_event("RX1", discharge=date(2026, 9, 1 + n % 28), findings=1), NOW
        )
    first = await admin.get("/flags?trust=RX1")
    assert "<strong>60</strong> flags, showing 1–50" in first.text
    assert 'href="/flags?trust=RX1&amp;page=2"' in first.text
    second = await admin.get("/flags?trust=RX1&page=2")
    assert "showing 51–60" in second.text
    assert 'rel="prev"' in second.text
    api = (await admin.get("/api/flags?trust=RX1&page=2&page_size=25")).json()
    assert api["page"] == 2 and len(api["items"]) == 25 and api["total"] == 60


async def test_detail_page(lead: httpx.AsyncClient, seeded: Seeded) -> None:
    flag_id = seeded.rr8_ids[0]
    page = await lead.get(f"/flags/{flag_id}")
    assert page.status_code == 200
    text = page.text
    assert "999 402 7611" in text or "999 000 1112" in text
    assert "Dabigatran etexilate 110mg capsules" in text
    assert 'class="badge ch-new"' in text and 'class="badge ch-stopped"' in text
    assert "Warfarin 3mg tablets (before admission): stopped (inferred)" in text
    assert "Not reviewed yet." in text
    assert 'action="/flags/' in text and "/review" in text
    assert (await lead.get("/flags/not-a-number")).status_code == 404


async def test_review_flow(lead: httpx.AsyncClient, seeded: Seeded) -> None:
    flag_id = seeded.rr8_ids[0]
    page = await lead.get(f"/flags/{flag_id}")
    token = csrf_of(page.text)
    # from new, "new" is not offered; under-review and the closed statuses are
    assert '<option value="new"' not in page.text
    assert '<option value="under-review"' in page.text
    response = await lead.post(
        f"/flags/{flag_id}/review",
        data={"status": "under-review", "comment": "Phoning the ward.", "csrf_token": token},
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/flags/{flag_id}?saved=1"
    page = await lead.get(response.headers["location"])
    assert "Review saved." in page.text
    assert "Phoning the ward." in page.text
    assert "lead-rr8" in page.text
    # closing needs a reason
    response = await lead.post(
        f"/flags/{flag_id}/review",
        data={"status": "action-taken", "comment": "  ", "csrf_token": token},
    )
    assert response.status_code == 400
    assert "Say why in the comment" in response.text
    response = await lead.post(
        f"/flags/{flag_id}/review",
        data={
            "status": "action-taken",
            "comment": "GP cancelled the warfarin repeat.",
            "csrf_token": token,
        },
    )
    assert response.status_code == 303
    detail = (await lead.get(f"/api/flags/{flag_id}")).json()
    assert detail["flag"]["status"] == "action-taken"
    assert [(r["from_status"], r["to_status"], r["reviewer"]) for r in detail["reviews"]] == [
        ("new", "under-review", "lead-rr8"),
        ("under-review", "action-taken", "lead-rr8"),
    ]
    assert detail["allowed_transitions"] == ["under-review"]
    listed = await lead.get("/flags?status=action-taken")
    assert "<strong>1</strong> flag," in listed.text


async def test_invalid_transition_message(lead: httpx.AsyncClient, seeded: Seeded) -> None:
    flag_id = seeded.rr8_ids[1]
    token = csrf_of((await lead.get(f"/flags/{flag_id}")).text)
    for status in ("new", "bogus"):
        response = await lead.post(
            f"/flags/{flag_id}/review",
            data={"status": status, "comment": "", "csrf_token": token},
        )
        if status == "new":
            assert response.status_code == 409
            assert f"Flag {flag_id} is already new." in response.text
        else:
            assert response.status_code == 400
            assert "Choose a status." in response.text
        assert 'role="alert"' in response.text
    assert (await lead.get(f"/api/flags/{flag_id}")).json()["reviews"] == []


async def test_malicious_detail_is_escaped(lead: httpx.AsyncClient, seeded: Seeded) -> None:
    for path in (f"/flags/{seeded.xss_id}", "/flags"):
        page = await lead.get(path)
        assert "<script>" not in page.text
        assert "onerror=alert" not in page.text or "&lt;img" in page.text
        assert "<img" not in page.text
    detail = (await lead.get(f"/flags/{seeded.xss_id}")).text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in detail
    # The API returns the text as data, as JSON.
    api = await lead.get(f"/api/flags/{seeded.xss_id}")
    assert api.headers["content-type"] == "application/json"
    assert api.json()["flag"]["detail"] == XSS


async def test_unverified_marker(lead: httpx.AsyncClient, seeded: Seeded) -> None:
    page = await lead.get(f"/flags/{seeded.formula_id}")
    assert "Name match · unverified" in page.text
    assert "none: name only" in page.text
    listing = await lead.get("/flags")
    assert listing.text.count("Name match · unverified") == 1


async def test_csv_export(lead: httpx.AsyncClient, seeded: Seeded) -> None:
    response = await lead.get("/flags.csv?rule=TCAM_DUP_ANTICOAG")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert re.match(
        r'attachment; filename="tcam-risk-log-\d{8}-\d{4}\.csv"',
        response.headers["content-disposition"],
    )
    assert response.text.startswith("\ufeffid,")
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert len(rows) == 4
    assert {r["rule_id"] for r in rows} == {"TCAM_DUP_ANTICOAG"}
    xss_row = next(r for r in rows if r["id"] == str(seeded.xss_id))
    assert xss_row["detail"] == XSS  # quotes and commas survive the round trip
    assert xss_row["nhs_number"] == "9994027611"


async def test_csv_formula_injection_is_neutralised(
    lead: httpx.AsyncClient, seeded: Seeded
) -> None:
    response = await lead.get("/flags.csv")
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    row = next(r for r in rows if r["id"] == str(seeded.formula_id))
    assert row["title"] == "'" + FORMULA
    assert all(not v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values())


async def test_summary_page_and_chart(lead: httpx.AsyncClient, seeded: Seeded) -> None:
    page = await lead.get("/summary")
    text = page.text
    assert page.status_code == 200
    assert "<svg" in text and 'role="img"' in text
    assert text.count('<figure class="chart">') == 2  # TCAM_DUP_ANTICOAG, TCAM_STOPPED_HIGH_RISK
    assert "Week of 16 Nov 2026: 1 flag" in text
    assert "Week of 02 Nov 2026: 2 flags" in text
    assert 'class="bar"' in text
    assert 'href="/flags?rule=TCAM_DUP_ANTICOAG"' in text
    filtered = await lead.get("/summary?since=2026-11-10")
    assert '<div class="value">2</div><div>All flags</div>' in filtered.text


async def test_api_summary(lead: httpx.AsyncClient) -> None:
    body = (await lead.get("/api/summary?weeks=4")).json()
    assert body["today"] == "2026-11-20"
    assert body["by_rule"][0] == {"rule_id": "TCAM_DUP_ANTICOAG", "count": 4}
    weekly = body["weekly"]["TCAM_DUP_ANTICOAG"]
    assert [w["week_start"] for w in weekly] == [
        "2026-10-26",
        "2026-11-02",
        "2026-11-09",
        "2026-11-16",
    ]
    assert [w["count"] for w in weekly] == [1, 2, 0, 1]


async def test_api_needs_authentication(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/flags")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
