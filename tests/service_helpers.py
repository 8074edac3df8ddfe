"""Start a real `vfxmatte serve` process on a free loopback port for tests (service and add-ons)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from conftest import REPO_ROOT, cli_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningService:
    url: str
    token_file: Path
    process: subprocess.Popen
    log: Path

    @property
    def token(self) -> str:
        return self.token_file.read_text().strip()

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_service(
    folder: Path, roots: list[Path], *extra: str, timeout: float = 60
) -> RunningService:
    """Run `python -m cli.main serve` in a subprocess and wait until /health answers."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    token_file = folder / "config" / "service-token"
    log = folder / "serve.log"
    args = [
        sys.executable,
        "-m",
        "cli.main",
        "serve",
        "--port",
        str(port),
        "--token-file",
        str(token_file),
        "--work-dir",
        str(folder / "work"),
        *[a for r in roots for a in ("--allow-root", str(r))],
        *extra,
    ]
    with open(log, "w") as fh:
        proc = subprocess.Popen(args, cwd=REPO_ROOT, env=cli_env(), stdout=fh, stderr=fh)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"vfxmatte serve exited {proc.returncode}: {log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as resp:
                if json.loads(resp.read())["status"] == "ok":
                    return RunningService(url, token_file, proc, log)
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"vfxmatte serve did not answer within {timeout}s: {log.read_text()}")
