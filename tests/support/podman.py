"""podman on the storage `make images` fills (scripts/images.sh keeps it under ~/.cache/peakops/images,
so nothing in /etc changes): one place that reads its environment, for every test that runs podman."""

from __future__ import annotations

import os
import subprocess

from tests.support.gotools import CACHE

ENV_FILE = CACHE / "images" / "env.sh"


class PodmanError(RuntimeError):
    """A podman command failed: the message has the command and the end of its error output."""


def podman_env() -> dict[str, str]:
    """os.environ plus the variables scripts/images.sh writes to env.sh (`export A=x B=y`).

    Raises PodmanError when `make images` has not run yet."""
    if not ENV_FILE.exists():
        raise PodmanError(f"{ENV_FILE} is missing: run `make images`")
    env = dict(os.environ)
    for word in ENV_FILE.read_text().split():
        if "=" in word:
            key, value = word.split("=", 1)
            env[key] = value
    return env


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `podman ARGS` on the project's storage; PodmanError on a non-zero exit when `check`."""
    done = subprocess.run(
        ["podman", *args], env=podman_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        raise PodmanError(f"podman {' '.join(args)} failed ({done.returncode}): {done.stderr[-3000:]}")
    return done


def image_exists(reference: str) -> bool:
    return podman("image", "exists", reference, check=False).returncode == 0
