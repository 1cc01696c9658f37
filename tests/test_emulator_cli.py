"""``dbt-cio emulator`` in a subprocess, and :class:`EmulatorThread` for synchronous callers."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dbt_cio.emulator import Emulator, EmulatorThread
from dbt_cio.emulator.cli import DEV_API_KEY, DEV_APP_API_KEY, DEV_SITE_ID

DBT_CIO = str(Path(sys.executable).parent / "dbt-cio")


def _request(url: str, site: str, key: str, body: Any = None) -> tuple[int, Any]:
    auth = base64.b64encode(f"{site}:{key}".encode()).decode()
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url, data=data, headers={"Authorization": f"Basic {auth}", "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


class Running:
    def __init__(self, *args: str):
        self.proc = subprocess.Popen(
            [DBT_CIO, "emulator", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("# state:"):
                break
        else:
            raise AssertionError(
                f"the emulator did not start: {self.proc.stderr.read() if self.proc.stderr else ''}"
            )
        self.url = self.lines[0].split(" on ")[1].split(" ")[0]

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=20)
        return self.proc.returncode, out


@pytest.fixture
def running() -> Iterator[Running]:
    emulator = Running("--seed-segment", "vip", "--seed-segment", "auto:dynamic", "--rate-limit", "100")
    try:
        yield emulator
    finally:
        if emulator.proc.poll() is None:
            emulator.proc.kill()
            emulator.proc.wait()


def test_cli_serves_region_and_prints_exports(running: Running) -> None:
    status, body = _request(running.url + "/api/v1/accounts/region", DEV_SITE_ID, DEV_API_KEY)
    assert status == 200 and body["region"] == "us"
    assert _request(running.url + "/api/v1/accounts/region", DEV_SITE_ID, "wrong")[0] == 401
    assert f"export CUSTOMERIO_TRACK_URL={running.url}" in running.lines
    assert f"export CUSTOMERIO_API_KEY={DEV_API_KEY}" in running.lines
    assert f"export CUSTOMERIO_APP_API_KEY={DEV_APP_API_KEY}" in running.lines
    assert "# segment 2: auto (dynamic)" in running.lines
    status, _ = _request(
        running.url + "/api/v2/batch",
        DEV_SITE_ID,
        DEV_API_KEY,
        {
            "batch": [
                {"type": "person", "identifiers": {"id": "1"}, "action": "identify", "attributes": {"a": 1}}
            ]
        },
    )
    assert status == 200
    with urllib.request.urlopen(running.url + "/_emulator/state", timeout=10) as resp:
        state = json.loads(resp.read())
    assert state["people"][0]["attributes"] == {"a": 1}
    assert [s["type"] for s in state["segments"]] == ["manual", "dynamic"]
    code, out = running.stop()
    assert code == 0 and "stopped" in out


def test_cli_never_prints_a_key_the_user_chose() -> None:
    emulator = Running("--api-key", "my-s3cret", "--app-api-key", "app-s3cret", "--region", "eu")
    try:
        assert not any("s3cret" in line for line in emulator.lines)
        assert any(line.startswith("# CUSTOMERIO_API_KEY:") for line in emulator.lines)
        status, body = _request(emulator.url + "/api/v1/accounts/region", DEV_SITE_ID, "my-s3cret")
        assert (status, body["region"]) == (200, "eu")
    finally:
        code, out = emulator.stop()
    assert code == 0 and "s3cret" not in out


def test_cli_help_is_instant_and_lists_options() -> None:
    proc = subprocess.run(
        [DBT_CIO, "emulator", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0
    for flag in (
        "--port",
        "--site-id",
        "--api-key",
        "--app-api-key",
        "--region",
        "--rate-limit",
        "--burst",
        "--error-rate",
        "--drop-rate",
        "--seed-segment",
    ):
        assert flag in proc.stdout


def test_cli_import_does_not_import_aiohttp() -> None:
    code = "import sys, dbt_cio.emulator.cli; print('aiohttp' in sys.modules)"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.stdout.strip() == "False"


def test_emulator_thread_for_synchronous_callers() -> None:
    emu = Emulator()
    with EmulatorThread(emu) as base_url:
        status, body = _request(
            base_url + "/api/v2/batch",
            "site",
            "key",
            {
                "batch": [
                    {
                        "type": "person",
                        "identifiers": {"id": "7"},
                        "action": "identify",
                        "attributes": {"x": "y"},
                    }
                ]
            },
        )
        assert (status, body) == (200, {})
        assert _request(base_url + "/api/v1/accounts/region", "site", "bad")[0] == 401
    assert emu.state.person(id="7") is not None
    assert sum(emu.requests_per_second().values()) == 2
