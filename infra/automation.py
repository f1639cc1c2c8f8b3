"""The second entry point of the Pulumi program: the Automation API, with the program inline.

    pulumi up                      from the repository root: Pulumi.yaml, infra/__main__.py, the Python
                                   language host the Pulumi CLI installs with its plugins
    peakops k8s up|preview|destroy the same program (`infra.program.run`) inline through the Automation
                                   API: the CLI talks to this Python process (`--client`), so no language
                                   host binary is needed; a CLI on PATH and a backend (`pulumi login`, or
                                   PULUMI_BACKEND_URL) are

Both read the same `Pulumi.<stack>.yaml` in the same work dir (the repository root by default; the CLI
writes the stack's encryption salt and secrets there, as `pulumi config set` does).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pulumi import automation as auto

from peakops.paths import REPO_ROOT

PROJECT = "peakops"


def _program() -> None:
    from infra.program import run

    run()


def select_stack(stack: str, work_dir: Path = REPO_ROOT, env: Mapping[str, str] | None = None) -> auto.Stack:
    """The stack `stack` of the peakops project, created when missing, running the inline program.

    `work_dir` must hold Pulumi.yaml (and Pulumi.<stack>.yaml for its config); its `main: infra/` folder
    must exist (the CLI checks it even for an inline program). `env` is passed to every CLI run."""
    (work_dir / "infra").mkdir(exist_ok=True)
    return auto.create_or_select_stack(
        stack_name=stack,
        project_name=PROJECT,
        program=_program,
        opts=auto.LocalWorkspaceOptions(work_dir=str(work_dir), env_vars=dict(env or {})),
    )
