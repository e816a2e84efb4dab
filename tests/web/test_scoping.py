"""A safety lead sees only their trusts' flags: in the list, detail, CSV, API and summary."""

from __future__ import annotations

import csv
import io

import httpx

from tests.web.conftest import Seeded, sign_in

RTH_PATIENT = "9876543210"


def parse_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


async def test_lead_list_shows_only_own_trust(lead: httpx.AsyncClient, seeded: Seeded) -> None:
    page = await lead.get("/flags")
    assert page.status_code == 200
    assert f"<strong>{len(seeded.rr8_ids)}</strong> flags" in page.text
    assert "RTH" not in page.text
    assert "987 654 3210" not in page.text
    for flag_id in seeded.rth_ids:
        assert f'href="/flags/{flag_id}"' not in page.text
    # Filtering on another trust shows nothing rather than that trust's rows.
    other = await lead.get("/flags?trust=RTH")
    assert "<strong>0</strong> flags" in other.text


async def test_lead_gets_404_for_other_trusts_flag(lead: httpx.AsyncClient, seeded: Seeded) -> None:
    for flag_id in seeded.rth_ids:
        page = await lead.get(f"/flags/{flag_id}")
        assert page.status_code == 404
        assert RTH_PATIENT not in page.text
        api = await lead.get(f"/api/flags/{flag_id}")
        assert api.status_code == 404
        assert api.json() == {"detail": "flag not found"}
    # The same answer as for a flag that does not exist.
    assert (await lead.get("/flags/999999")).status_code == 404
    assert (await lead.get("/api/flags/999999")).json() == {"detail": "flag not found"}


async def test_lead_cannot_review_other_trusts_flag(
    lead: httpx.AsyncClient, seeded: Seeded
) -> None:
    from tests.web.conftest import csrf_of

    token = csrf_of((await lead.get("/flags")).text)
    response = await lead.post(
        f"/flags/{seeded.rth_ids[0]}/review",
        data={"status": "under-review", "comment": "", "csrf_token": token},
    )
    assert response.status_code == 404


async def test_lead_csv_has_only_own_trust(lead: httpx.AsyncClient, seeded: Seeded) -> None:
    response = await lead.get("/flags.csv")
    assert response.status_code == 200
    rows = parse_csv(response.text)
    assert {r["trust_ods"] for r in rows} == {"RR8"}
    assert len(rows) == len(seeded.rr8_ids)
    assert RTH_PATIENT not in response.text
    assert not parse_csv((await lead.get("/flags.csv?trust=RTH")).text)


async def test_lead_api_has_only_own_trust(lead: httpx.AsyncClient, seeded: Seeded) -> None:
    body = (await lead.get("/api/flags")).json()
    assert body["total"] == len(seeded.rr8_ids)
    assert {f["trust_ods"] for f in body["items"]} == {"RR8"}
    summary = (await lead.get("/api/summary")).json()
    assert sum(r["count"] for r in summary["by_rule"]) == len(seeded.rr8_ids)


async def test_lead_summary_counts_only_own_trust(lead: httpx.AsyncClient, seeded: Seeded) -> None:
    page = await lead.get("/summary")
    assert page.status_code == 200
    assert f'<div class="value">{len(seeded.rr8_ids)}</div><div>All flags</div>' in page.text


async def test_other_lead_sees_the_other_trust(client: httpx.AsyncClient, seeded: Seeded) -> None:
    await sign_in(client, "lead-rth")
    body = (await client.get("/api/flags")).json()
    assert {f["trust_ods"] for f in body["items"]} == {"RTH"}
    assert (await client.get(f"/flags/{seeded.rr8_ids[0]}")).status_code == 404


async def test_admin_sees_every_trust(admin: httpx.AsyncClient, seeded: Seeded) -> None:
    total = len(seeded.rr8_ids) + len(seeded.rth_ids)
    page = await admin.get("/flags")
    assert f"<strong>{total}</strong> flags" in page.text
    assert "987 654 3210" in page.text
    assert (await admin.get(f"/flags/{seeded.rth_ids[0]}")).status_code == 200
    assert {r["trust_ods"] for r in parse_csv((await admin.get("/flags.csv")).text)} == {
        "RR8",
        "RTH",
    }
    assert (await admin.get("/api/flags")).json()["total"] == total
    only_rth = (await admin.get("/api/flags?trust=rth")).json()
    assert {f["trust_ods"] for f in only_rth["items"]} == {"RTH"}
