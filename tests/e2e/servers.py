"""Running `leadgate serve` as a real process in end-to-end tests: a free port, an
environment that points at one database and nothing else, and waiting until it is ready."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import AnyStr

import httpx

LEADGATE = Path(sys.executable).parent / "leadgate"  # the console script, as installed


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(database: Path | str) -> dict[str, str]:
    """This process's environment without any LEADGATE_ setting, pointed at ``database``
    (a SQLite file or a whole URL)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADGATE_")}
    url = database if isinstance(database, str) else f"sqlite:///{database}"
    env.update({"LEADGATE_DATABASE_URL": url, "NO_COLOR": "1"})
    return env


def wait_ready(url: str, process: subprocess.Popen[AnyStr], timeout: float = 60) -> None:
    """Wait until the server at ``url`` answers /readyz (fail if it exits or takes longer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited early"
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("the server did not become ready")
