"""s3rver, the S3 stand-in: installed once with npm into ``<project>/.cache/s3rver`` from the package.json
beside this module (it pins the version), run with node in its own session, files under ``<data dir>/s3``,
found again by later commands through a state file."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from patient360.background import read_state, stop_recorded, write_state
from patient360.settings import PROJECT_DIR

PACKAGE_JSON = Path(__file__).resolve().parent / "package.json"
INSTALL_DIR = PROJECT_DIR / ".cache" / "s3rver"  # outside the source tree: node_modules is not our code
LOOPBACK = "127.0.0.1"


class S3StandInError(RuntimeError):
    """s3rver cannot be installed or started (the message says why)."""


@dataclass(frozen=True)
class S3Server:
    port: int
    pid: int

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"


def s3rver_script() -> Path:
    """The s3rver entry point, installed with npm on first use (node and npm must be on PATH)."""
    script = INSTALL_DIR / "node_modules" / "s3rver" / "bin" / "s3rver.js"
    if script.exists():
        return script
    npm = shutil.which("npm")
    if npm is None:
        raise S3StandInError("npm is not on PATH: the S3 stand-in (s3rver) needs node and npm")
    INSTALL_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PACKAGE_JSON, INSTALL_DIR / "package.json")
    completed = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=INSTALL_DIR,
                               capture_output=True, text=True, timeout=600, check=False)
    if completed.returncode != 0 or not script.exists():
        raise S3StandInError(f"npm install of s3rver failed: {completed.stderr.strip()[-500:]}")
    return script


def _state_file(data_dir: Path) -> Path:
    return data_dir / "s3" / "s3rver.json"


def running(data_dir: Path) -> S3Server | None:
    return read_state(_state_file(data_dir), S3Server)


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise S3StandInError(f"s3rver exited with code {process.returncode}: see its log under the data dir")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise S3StandInError(f"s3rver does not accept connections on port {port} after {timeout_s:.0f}s")


def start(data_dir: Path, port: int) -> S3Server:
    """s3rver on loopback:port with its files under <data dir>/s3/buckets (already running: that one)."""
    found = running(data_dir)
    if found is not None:
        return found
    node = shutil.which("node")
    if node is None:
        raise S3StandInError("node is not on PATH: the S3 stand-in (s3rver) needs it")
    script = s3rver_script()
    root = data_dir / "s3" / "buckets"
    root.mkdir(parents=True, exist_ok=True)
    with (data_dir / "s3" / "s3rver.log").open("ab") as log:
        process = subprocess.Popen(
            [node, str(script), "--directory", str(root), "--address", LOOPBACK, "--port", str(port), "--silent"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    _wait_listening(port, process, timeout_s=30)
    server = S3Server(port=port, pid=process.pid)
    write_state(_state_file(data_dir), server)
    return server


def stop(data_dir: Path, timeout_s: float = 10.0) -> bool:
    return stop_recorded(_state_file(data_dir), S3Server, timeout_s)
