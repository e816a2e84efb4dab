"""The hospital's read-only view of its referrals: status, stage, outcome, the pharmacy, and the
event history, scoped to its trusts."""

from __future__ import annotations

import httpx

from tests.web.conftest import InboxSeeded, csrf_of, sign_in


async def as_user(client: httpx.AsyncClient, username: str) -> httpx.AsyncClient:
    response = await sign_in(client, username)
    assert response.status_code == 303
    return client


async def sign_out(client: httpx.AsyncClient, path: str) -> None:
    token = csrf_of((await client.get(path)).text)
    await client.post("/logout", data={"csrf_token": token})


async def test_hospital_sees_the_pharmacys_progress(
    inbox_client: httpx.AsyncClient, inboxed: InboxSeeded
) -> None:
    client = await as_user(inbox_client, "pharmacist")
    for fields in (
        {"action": "accept"},
        {"action": "stage-1-complete", "discrepancy_found": "no", "gp_contacted": "no"},
    ):
        page = await client.get(f"/referrals/{inboxed.own_id}")
        response = await client.post(
            f"/referrals/{inboxed.own_id}/actions",
            data={"csrf_token": csrf_of(page.text), **fields},
        )
        assert response.status_code == 303
    await sign_out(client, "/inbox")

    response = await sign_in(client, "ward")
    assert response.headers["location"] == "/trust/referrals"
    listing = await client.get("/trust/referrals")
    assert listing.status_code == 200
    row = listing.text.split(f'href="/trust/referrals/{inboxed.own_id}"', 1)[1].split("</tr>")[0]
    assert "In progress" in row and "Stage 1 complete" in row and "FA5T2" in row
    for own in (inboxed.own_id, inboxed.other_id, inboxed.xss_id):
        assert own in listing.text
    assert inboxed.rth_id not in listing.text  # another trust's referral
    assert "FV111" in listing.text  # the pharmacy of each referral is shown
    nav = listing.text.split('<nav class="site-nav"', 1)[1].split("</nav>", 1)[0]
    assert 'href="/trust/referrals"' in nav and "/flags" not in nav and "/inbox" not in nav

    detail = await client.get(f"/trust/referrals/{inboxed.own_id}")
    assert detail.status_code == 200
    assert "History" in detail.text and "Accepted" in detail.text
    assert "Stage 1 complete" in detail.text
    assert '<form method="post" action="/referrals/' not in detail.text  # read only
    api = (await client.get(f"/api/referrals/{inboxed.own_id}")).json()
    assert api["summary"]["status"] == "in-progress"
    assert api["allowed"] == []
    assert [e["action"] for e in api["events"]] == ["received", "accept", "stage-1-complete"]


async def test_hospital_cannot_act_or_use_inbox(
    inbox_client: httpx.AsyncClient, inboxed: InboxSeeded
) -> None:
    client = await as_user(inbox_client, "ward")
    assert (await client.get("/inbox")).status_code == 403
    assert (await client.get(f"/referrals/{inboxed.own_id}")).status_code == 403
    token = csrf_of((await client.get("/trust/referrals")).text)
    response = await client.post(
        f"/referrals/{inboxed.own_id}/actions", data={"csrf_token": token, "action": "accept"}
    )
    assert response.status_code == 403
    assert (await client.get("/flags")).status_code == 403


async def test_another_trust_gets_404(
    inbox_client: httpx.AsyncClient, inboxed: InboxSeeded
) -> None:
    client = await as_user(inbox_client, "ward-rth")
    assert (await client.get(f"/trust/referrals/{inboxed.own_id}")).status_code == 404
    assert (await client.get(f"/api/referrals/{inboxed.own_id}")).status_code == 404
    assert (await client.get(f"/trust/referrals/{inboxed.rth_id}")).status_code == 200
    items = (await client.get("/api/referrals")).json()["items"]
    assert [i["referral_id"] for i in items] == [inboxed.rth_id]


async def test_admin_sees_every_trust(
    inbox_client: httpx.AsyncClient, inboxed: InboxSeeded
) -> None:
    client = await as_user(inbox_client, "admin")
    listing = await client.get("/trust/referrals")
    for referral_id in (inboxed.own_id, inboxed.other_id, inboxed.rth_id):
        assert referral_id in listing.text
    assert (await client.get("/api/referrals")).json()["total"] == 5
    assert (await client.get("/inbox")).status_code == 403


async def test_hostile_text_is_escaped(
    inbox_client: httpx.AsyncClient, inboxed: InboxSeeded
) -> None:
    client = await as_user(inbox_client, "ward")
    for path in ("/trust/referrals", f"/trust/referrals/{inboxed.xss_id}"):
        text = (await client.get(path)).text
        assert "<script>alert" not in text and "<img src=x" not in text
        assert "&lt;script&gt;" in text
