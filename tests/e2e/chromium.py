"""Headless Chromium, to look at a page the way a person's browser shows it.

Debian's ``chromium`` package, installed with apt-get when it is missing and the tests run as
root on a Debian-like machine (CI and this project's machines); elsewhere a missing Chromium
skips the check with the command that installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

NAMES = ("chromium", "chromium-browser", "google-chrome")
INSTALL = ("apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium")


def find_chromium() -> str | None:
    for name in NAMES:
        if path := shutil.which(name):
            return path
    return None


def chromium_for_tests() -> str:
    """Chromium's path; installed first where apt-get can, and a skip elsewhere."""
    if path := find_chromium():
        return path
    if os.environ.get("CI") and (os.geteuid() != 0 or shutil.which("apt-get") is None):
        pytest.fail("CI must check /docs in Chromium: run as root with apt-get, or install it")
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(f"no Chromium on PATH: install it ({' '.join(INSTALL)}) to run this check")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (("apt-get", "update", "-q"), INSTALL):
        subprocess.run(command, check=True, env=environment, timeout=540)
    if path := find_chromium():
        return path
    pytest.fail(f"Chromium is still not on PATH after {' '.join(INSTALL)}")


def offline_chromium(chromium: str, profile: Path, *arguments: str) -> str:
    """Chromium, headless, reaching nothing but loopback; what it printed on stdout.

    Every other host name resolves to nothing, so a page that needs a CDN shows it.
    ``--virtual-time-budget`` lets the page's scripts run before the DOM or screenshot.
    """
    command = [
        chromium,
        "--headless",
        "--no-sandbox",  # as root, Chromium refuses to start with its sandbox
        "--disable-gpu",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--virtual-time-budget=15000",
        "--window-size=1280,1000",
        *arguments,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=90, check=True)
    return result.stdout
