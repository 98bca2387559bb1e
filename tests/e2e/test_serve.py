"""`leadgate serve` and `leadgate demo` serving: real processes, real HTTP on 127.0.0.1."""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

import httpx

from tests.cli.runner import leadgate as prepare
from tests.cli.runner import ok
from tests.e2e.servers import free_port, server_env, wait_ready
from tests.e2e.test_cli import LEADGATE
from tests.e2e.test_cli import leadgate as run


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    try:
        out, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out


def test_serve_answers_tracking_and_logs_json(tmp_path: Path) -> None:
    database = tmp_path / "serve.db"
    # Set up in this process; the server under test is the console script's.
    ok(prepare(database, "db", "upgrade"))
    ok(prepare(database, "model", "activate", "--default"))
    key = ok(prepare(database, "keys", "create", "--name", "site")).splitlines()[0].strip()
    assert key.startswith("lg_pub_")
    port = free_port()
    process = subprocess.Popen(
        [str(LEADGATE), "serve", "--port", str(port)],
        env=server_env(database),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process)
        sent = httpx.post(
            f"{url}/v1/track",
            auth=(key, ""),
            json={"userId": "u-1", "event": "Demo Requested", "messageId": "m-1"},
        )
        assert sent.status_code == 200, sent.text
        assert sent.json()["stored"] == 1
        assert httpx.get(f"{url}/docs").status_code == 200
    finally:
        output = _stop(process)
    access = [line for line in output.splitlines() if '"leadgate.access"' in line]
    assert any('"path":"/v1/track"' in line and '"status":200' in line for line in access)


def test_serve_refuses_an_unmigrated_database_in_one_line(tmp_path: Path) -> None:
    result = run(tmp_path / "empty.db", "serve", "--port", str(free_port()))
    assert result.returncode == 1
    assert "leadgate db upgrade" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_ends_by_serving_its_workspace(tmp_path: Path) -> None:
    database = tmp_path / "demo.db"
    port = free_port()
    process = subprocess.Popen(
        [str(LEADGATE), "demo", "--leads", "100", "--days", "14", "--port", str(port)],
        env={**server_env(database), "COLUMNS": "200"},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process, timeout=120)
        lines: list[str] = []
        assert process.stdout is not None
        while not any("secret key:" in line for line in lines):
            lines.append(process.stdout.readline())
        printed = "".join(lines)
        track = re.search(r"tracking key: (lg_pub_\S+)", printed)
        assert track, printed
        sent = httpx.post(
            f"{url}/v1/batch",
            auth=(track[1], ""),
            json={"batch": [{"type": "page", "anonymousId": "a-1", "name": "Pricing"}]},
        )
        assert sent.status_code == 200, sent.text
        assert sent.json()["accepted"] == 1

        # The printed dashboard password signs in, and the funnel page renders.
        password = re.search(r"sign in as demo, password (\S+)\)", printed)
        assert password, printed
        with httpx.Client(base_url=url) as browser:
            token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").text)
            assert token
            signed_in = browser.post(
                "/login",
                data={"username": "demo", "password": password[1], "csrf_token": token[1]},
            )
            assert signed_in.status_code == 303, signed_in.text
            funnel = browser.get("/funnel")
            assert funnel.status_code == 200
            assert "Stages and conversion" in funnel.text
    finally:
        _stop(process)
