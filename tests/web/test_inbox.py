"""The pharmacy inbox: a pharmacist sees only their pharmacy's referrals, acts on them with
CSRF-protected forms, and gets the store's message for a step out of order."""

from __future__ import annotations

import re

import httpx

from tests.web.conftest import InboxSeeded, csrf_of, sign_in


async def signed_in(client: httpx.AsyncClient, username: str) -> httpx.AsyncClient:
    response = await sign_in(client, username)
    assert response.status_code == 303
    return client


async def act(client: httpx.AsyncClient, referral_id: str, **fields: str) -> httpx.Response:
    page = await client.get(f"/referrals/{referral_id}")
    assert page.status_code == 200
    return await client.post(
        f"/referrals/{referral_id}/actions", data={"csrf_token": csrf_of(page.text), **fields}
    )


async def test_pharmacist_lands_on_inbox_and_sees_only_own(
    inbox_client: httpx.AsyncClient, inboxed: InboxSeeded
) -> None:
    response = await sign_in(inbox_client, "pharmacist")
    assert response.headers["location"] == "/inbox"
    page = await inbox_client.get("/inbox")
    assert page.status_code == 200
    for own in (inboxed.own_id, inboxed.overdue_id, inboxed.xss_id, inboxed.rth_id):
        assert f"/referrals/{own}" in page.text
    assert inboxed.other_id not in page.text
    # Sorted by Stage 1 deadline: the overdue one first, with its marker and countdowns.
    links = re.findall(r'href="/referrals/([^"]+)"', page.text)
    assert links[0] == inboxed.overdue_id
    assert "OVERDUE" in page.text and "by 5 h" in page.text
    assert "due in 29 h" in page.text  # deadline 21 Nov 15:00, now 20 Nov 09:30
    nav = page.text.split('<nav class="site-nav"', 1)[1].split("</nav>", 1)[0]
    assert 'href="/inbox"' in nav and "/flags" not in nav and "/trust/" not in nav


async def test_next_to_a_risklog_page_still_lands_on_inbox(
    inbox_client: httpx.AsyncClient,
) -> None:
    page = await inbox_client.get("/login?next=/flags")
    response = await inbox_client.post(
        "/login",
        data={
            "username": "pharmacist",
            "password": "correct horse battery staple",
            "next": "/flags",
            "csrf_token": csrf_of(page.text),
        },
    )
    assert response.headers["location"] == "/inbox"
    assert (await inbox_client.get("/")).headers["location"] == "/inbox"


async def test_detail_shows_findings_first_and_contact_details(
    inbox_client: httpx.AsyncClient, inboxed: InboxSeeded
) -> None:
    client = await signed_in(inbox_client, "pharmacist")
    page = await client.get(f"/referrals/{inboxed.own_id}")
    assert page.status_code == 200
    text = page.text
    findings = text.index("Safety findings")
    assert findings < text.index("Medicines on discharge") < text.index("History")
    assert text.index("Duplicate oral anticoagulants") > findings
    for change in ("new", "stopped", "continued"):
        assert f'<span class="badge ch-{change}">{change}</span>' in text
    for needle in ("999 402 7611", "Patient", "GP practice", "Reasons for referral"):
        assert needle in text
    assert "Accept referral" in text and "Reject referral" in text
    assert "Stage 1 complete" not in text.split("Record what you did", 1)[1]


async def test_other_pharmacys_referral_is_404_on_page_api_and_action(
    inbox_client: httpx.AsyncClient, inboxed: InboxSeeded
) -> None:
    client = await signed_in(inbox_client, "pharmacist")
    page = await client.get(f"/referrals/{inboxed.other_id}")
    assert page.status_code == 404
    assert "Referral not found" in page.text and "FV111" not in page.text
    assert (await client.get(f"/api/referrals/{inboxed.other_id}")).status_code == 404
    assert (await client.get("/referrals/no-such-referral")).status_code == 404
    token = csrf_of((await client.get("/inbox")).text)
    posted = await client.post(
        f"/referrals/{inboxed.other_id}/actions", data={"csrf_token": token, "action": "accept"}
    )
    assert posted.status_code == 404
    listed = (await client.get("/api/referrals")).json()
    assert {i["pharmacy_ods"] for i in listed["items"]} == {"FA5T2"}
    assert inboxed.other_id not in {i["referral_id"] for i in listed["items"]}
    # The other pharmacy sees it, and only it.
    await client.post("/logout", data={"csrf_token": token})
    other = await signed_in(client, "pharmacist-fv111")
    assert (await other.get(f"/referrals/{inboxed.other_id}")).status_code == 200
    assert (await other.get(f"/referrals/{inboxed.own_id}")).status_code == 404


async def test_action_needs_csrf(inbox_client: httpx.AsyncClient, inboxed: InboxSeeded) -> None:
    client = await signed_in(inbox_client, "pharmacist")
    for token in (None, "forged"):
        data = {"action": "accept"} | ({"csrf_token": token} if token else {})
        response = await client.post(f"/referrals/{inboxed.own_id}/actions", data=data)
        assert response.status_code == 403
    detail = (await client.get(f"/api/referrals/{inboxed.own_id}")).json()
    assert detail["summary"]["status"] == "received"


async def test_accept_then_stage_1_with_discrepancy(
    inbox_client: httpx.AsyncClient, inboxed: InboxSeeded
) -> None:
    client = await signed_in(inbox_client, "pharmacist")
    accepted = await act(client, inboxed.own_id, action="accept")
    assert accepted.status_code == 303
    assert accepted.headers["location"] == f"/referrals/{inboxed.own_id}?done=accept"
    page = await client.get(accepted.headers["location"])
    assert "Accept referral: saved" in page.text
    assert "Discrepancy found?" in page.text
    done = await act(
        client,
        inboxed.own_id,
        action="stage-1-complete",
        discrepancy_found="yes",
        resolved_with="gp-practice",
        gp_contacted="yes",
        note="Warfarin still on GP repeat; practice cancelled it.",
    )
    assert done.status_code == 303
    detail = (await client.get(f"/api/referrals/{inboxed.own_id}")).json()
    assert detail["summary"]["status"] == "in-progress"
    assert detail["summary"]["business_status"] == "stage-1-complete"
    last = detail["events"][-1]
    assert last["actor"] == "pharmacist"
    assert last["details"]["discrepancy_found"] is True
    assert last["details"]["resolved_with"] == "gp-practice"
    page = await client.get(f"/referrals/{inboxed.own_id}")
    assert "Warfarin still on GP repeat; practice cancelled it." in page.text
    assert "Stage 2 complete" in page.text.split("Record what you did", 1)[1]
    # Stage 1 is done: no countdown any more.
    inbox = await client.get("/inbox")
    row = inbox.text.split(f"/referrals/{inboxed.own_id}", 1)[0].rsplit("<tr", 1)[1]
    assert "due in" not in row


async def test_invalid_transition_shows_the_store_message(
    inbox_client: httpx.AsyncClient, inboxed: InboxSeeded
) -> None:
    client = await signed_in(inbox_client, "pharmacist")
    response = await act(client, inboxed.own_id, action="stage-2-complete", note="kept text")
    assert response.status_code == 409
    assert "Stage 2 cannot be completed before the referral is accepted" in response.text
    assert "Safety findings" in response.text  # the page is still there
    assert (await act(client, inboxed.own_id, action="accept")).status_code == 303
    missing = await act(client, inboxed.own_id, action="stage-1-complete", discrepancy_found="yes")
    assert missing.status_code == 409
    assert "say who resolved it" in missing.text
    assert 'value="yes" required checked' in missing.text  # the answer is kept
    bad = await act(client, inboxed.own_id, action="explode")
    assert bad.status_code == 400 and "Choose an action." in bad.text
    reject = await act(client, inboxed.rth_id, action="reject")
    assert reject.status_code == 409 and "A reason is required" in reject.text


async def test_roles_are_kept_apart(inbox_client: httpx.AsyncClient, inboxed: InboxSeeded) -> None:
    client = await signed_in(inbox_client, "pharmacist")
    for path in ("/flags", "/summary", "/api/flags", "/trust/referrals"):
        assert (await client.get(path)).status_code == 403, path
    token = csrf_of((await client.get("/inbox")).text)
    await client.post("/logout", data={"csrf_token": token})
    lead = await signed_in(client, "lead-rr8")
    assert (await lead.get("/flags")).status_code == 200
    for path in (
        "/inbox",
        f"/referrals/{inboxed.own_id}",
        "/trust/referrals",
        "/api/referrals",
        f"/api/referrals/{inboxed.own_id}",
    ):
        response = await lead.get(path)
        assert response.status_code == 403, path
    page = await lead.get("/inbox")
    assert "You do not have access to the pharmacy inbox" in page.text


async def test_hostile_text_is_escaped(
    inbox_client: httpx.AsyncClient, inboxed: InboxSeeded
) -> None:
    client = await signed_in(inbox_client, "pharmacist")
    for path in ("/inbox", f"/referrals/{inboxed.xss_id}"):
        text = (await client.get(path)).text
        assert "<script>alert" not in text and "<img src=x" not in text
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in text
