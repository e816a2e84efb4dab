"""`tcam demo --serve`: findings from the demo reach the risk log and the dashboard."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tcam_bridge.adapters.embedded_broker import free_port
from tests.integration.test_cli_processes import tansu_processes

pytestmark = pytest.mark.integration


def _children(pid: int) -> set[int]:
    """Broker processes whose parent is ``pid`` (from /proc)."""
    found = set()
    for candidate in tansu_processes():
        try:
            stat = open(f"/proc/{candidate}/stat").read()  # noqa: SIM115
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(candidate)
    return found


def test_demo_serve_shows_the_demo_findings_on_the_dashboard() -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TCAM_")}
    env.update({"TCAM_WEB_PORT": str(port), "COLUMNS": "200"})
    demo = subprocess.Popen(
        [sys.executable, "-m", "tcam_bridge", "demo", "--serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    output: list[str] = []
    started: set[int] = set()
    try:
        assert demo.stdout is not None
        deadline = time.monotonic() + 180
        while not any("Risk-log dashboard" in line for line in output):
            assert time.monotonic() < deadline, "".join(output)
            line = demo.stdout.readline()
            assert line or demo.poll() is None, "".join(output)
            output.append(line)
        started = _children(demo.pid)  # the demo's own broker
        assert started, "the demo started no broker"
        admin = next(line for line in output if re.search(r"│\s*admin\s*│", line))
        password = admin.split("│")[2].strip()
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, follow_redirects=True, timeout=10) as web:
            form = web.get("/login").text
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
            assert csrf is not None
            signed_in = web.post(
                "/login",
                data={"username": "admin", "password": password, "csrf_token": csrf.group(1)},
            )
            assert signed_in.status_code == 200
            # The risk-log consumer fills the store from the findings topic: wait for it.
            deadline = time.monotonic() + 60
            while True:
                flags = web.get("/api/flags").json()
                rules = {f["rule_id"] for f in flags["items"]}
                if "TCAM_DUP_ANTICOAG" in rules or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert "TCAM_DUP_ANTICOAG" in rules
            page = web.get("/flags").text
            assert "Duplicate oral anticoagulants" in page
        # The gateway fills the pharmacy inbox: the FA5T2 pharmacist sees the referral.
        pharmacist = next(line for line in output if "pharmacist-fa5t2" in line)
        password = pharmacist.split("│")[2].strip()
        with httpx.Client(base_url=base, follow_redirects=True, timeout=10) as web:
            form = web.get("/login").text
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
            assert csrf is not None
            landed = web.post(
                "/login",
                data={
                    "username": "pharmacist-fa5t2",
                    "password": password,
                    "csrf_token": csrf.group(1),
                },
            )
            assert landed.url.path == "/inbox"
            deadline = time.monotonic() + 60
            while not (items := web.get("/api/referrals").json()["items"]):
                assert time.monotonic() < deadline, "no referral reached the inbox"
                time.sleep(0.5)
            assert {i["pharmacy_ods"] for i in items} == {"FA5T2"}
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=60)
        except subprocess.TimeoutExpired:
            demo.kill()
            raise
    assert not (tansu_processes() & started), "the demo left its broker running"
