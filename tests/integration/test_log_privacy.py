"""No patient data in logs: the whole demo at DEBUG, searched for every patient identifier."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tcam_bridge.demo import example_files
from tests.integration.conftest import EXAMPLES

pytestmark = pytest.mark.integration


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def patient_identifiers() -> set[str]:
    """NHS numbers, MRNs, names, birth dates, addresses and phone numbers of every patient."""
    found: set[str] = set()
    for path in example_files(EXAMPLES):
        try:
            bundle = json.loads(path.read_bytes())
        except ValueError:
            continue
        resources = (
            [bundle]
            if bundle.get("resourceType") == "Patient"
            else [e.get("resource", {}) for e in bundle.get("entry", []) if isinstance(e, dict)]
        )
        for res in resources:
            if res.get("resourceType") != "Patient":
                continue
            found.update(i["value"] for i in res.get("identifier", []) if "value" in i)
            found.update(_strings(res.get("name", [])))
            found.update(_strings(res.get("address", [])))
            found.update(t["value"] for t in res.get("telecom", []) if "value" in t)
            if "birthDate" in res:
                found.add(res["birthDate"])
    # Short generic words (a "use" of "official", a country "GB") are not identifying.
    return {s for s in found if len(s) >= 5 and s not in {"official", "usual", "home", "phone"}}


def test_demo_at_debug_logs_no_patient_identifier() -> None:
    identifiers = patient_identifiers()
    assert len(identifiers) > 50  # the examples do carry patient data to look for
    env = {k: v for k, v in os.environ.items() if not k.startswith("TCAM_")}
    done = subprocess.run(
        [sys.executable, "-m", "tcam_bridge", "demo", "--log-level", "DEBUG"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    output = done.stdout + done.stderr
    assert '"event": "discharge_processed"' in output  # DEBUG logging really ran
    leaked = sorted(i for i in identifiers if i in output)
    assert not leaked, f"patient identifiers in the logs: {len(leaked)} (first: {leaked[:3]})"
