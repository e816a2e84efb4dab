"""Sign-in, sign-out, CSRF, roles and the security headers."""

from __future__ import annotations

import httpx

from tests.web.conftest import PASSWORD, csrf_of, sign_in


async def test_pages_redirect_to_sign_in(client: httpx.AsyncClient) -> None:
    response = await client.get("/flags?severity=high")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fflags%3Fseverity%3Dhigh"


async def test_good_password_signs_in_and_returns_to_next(client: httpx.AsyncClient) -> None:
    page = await client.get("/login?next=/summary")
    assert 'value="/summary"' in page.text
    response = await client.post(
        "/login",
        data={
            "username": "lead-rr8",
            "password": PASSWORD,
            "next": "/summary",
            "csrf_token": csrf_of(page.text),
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/summary"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie  # plain http here; see the https test
    flags = await client.get("/flags")
    assert flags.status_code == 200
    assert "Signed in as" in flags.text and "lead-rr8" in flags.text


async def test_bad_password_is_refused(client: httpx.AsyncClient) -> None:
    response = await sign_in(client, "lead-rr8", "wrong password")
    assert response.status_code == 400
    assert "username or password is not right" in response.text
    assert (await client.get("/flags")).status_code == 303
    unknown = await sign_in(client, "nobody", PASSWORD)
    assert unknown.status_code == 400
    assert "username or password is not right" in unknown.text


async def test_repeated_failures_are_throttled(client: httpx.AsyncClient) -> None:
    for _ in range(10):
        await sign_in(client, "admin", "nope")
    response = await sign_in(client, "admin", PASSWORD)
    assert response.status_code == 429


async def test_open_redirect_is_refused(client: httpx.AsyncClient) -> None:
    page = await client.get("/login")
    response = await client.post(
        "/login",
        data={
            "username": "admin",
            "password": PASSWORD,
            "next": "//evil.example/",
            "csrf_token": csrf_of(page.text),
        },
    )
    assert response.headers["location"] == "/flags"


async def test_sign_in_without_csrf_token_is_rejected(client: httpx.AsyncClient) -> None:
    await client.get("/login")
    response = await client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert response.status_code == 403
    assert "This form has expired" in response.text
    assert (await client.get("/flags")).status_code == 303


async def test_forged_review_is_rejected(lead: httpx.AsyncClient) -> None:
    flags = await lead.get("/flags")
    flag_id = int(flags.text.split('href="/flags/')[1].split('"')[0])
    for token in (None, "forged-token"):
        data = {"status": "under-review", "comment": "x"}
        if token:
            data["csrf_token"] = token
        response = await lead.post(f"/flags/{flag_id}/review", data=data)
        assert response.status_code == 403
    detail = await lead.get(f"/flags/{flag_id}")
    assert "Not reviewed yet" in detail.text


async def test_token_from_another_session_is_rejected(
    client: httpx.AsyncClient, app: object
) -> None:
    await sign_in(client, "lead-rr8")
    page = await client.get("/flags")
    token = csrf_of(page.text)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        await sign_in(other, "lead-rr8")
        response = await other.post("/logout", data={"csrf_token": token})
        assert response.status_code == 403


async def test_sign_out(lead: httpx.AsyncClient) -> None:
    page = await lead.get("/flags")
    response = await lead.post("/logout", data={"csrf_token": csrf_of(page.text)})
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert (await lead.get("/flags")).status_code == 303


async def test_pharmacy_roles_get_403(client: httpx.AsyncClient) -> None:
    for username in ("pharmacist", "ward"):
        client.cookies.clear()
        assert (await sign_in(client, username)).status_code == 303
        for path in ("/flags", "/summary", "/flags.csv", "/api/flags", "/api/summary"):
            response = await client.get(path)
            assert response.status_code == 403, (username, path)
            assert "9994027611" not in response.text


async def test_security_headers(client: httpx.AsyncClient) -> None:
    for path in ("/login", "/healthz", "/flags", "/api/flags"):
        response = await client.get(path)
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "script-src" not in csp  # no scripts at all (default-src 'none')
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-content-type-options"] == "nosniff"
    assert (await client.get("/flags")).headers["cache-control"] == "no-store"


async def test_secure_cookie_and_hsts_over_https(app: object) -> None:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="https://risklog.test") as c:
        page = await c.get("/login")
        assert "Secure" in page.headers["set-cookie"]
        assert page.headers["strict-transport-security"].startswith("max-age=")


async def test_healthz_and_static(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).text == "ok"
    css = await client.get("/static/style.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")


async def test_tampered_session_cookie_is_ignored(client: httpx.AsyncClient) -> None:
    client.cookies.set("tcam_session", "eyJ1c2VyIjoiYWRtaW4ifQ.forged.sig")
    assert (await client.get("/flags")).status_code == 303
