"""A role's template rendered the way the role renders it (its defaults, its vars, then overrides), for
tests that run one component (nginx, HAProxy) from the same config the roles install, without a converge.
"""

from __future__ import annotations

from typing import Any

import jinja2
import yaml

from peakops.paths import ANSIBLE_DIR


def render(role: str, template: str, **overrides: Any) -> str:
    directory = ANSIBLE_DIR / "roles" / role
    variables: dict[str, Any] = {"ansible_managed": f"Rendered by a test from the {role} role"}
    for source in ("defaults", "vars"):
        path = directory / source / "main.yml"
        if path.exists():
            variables.update(yaml.safe_load(path.read_text()) or {})
    variables.update(overrides)
    # As Ansible's template module renders: blocks trimmed, the final newline kept.
    environment = jinja2.Environment(
        trim_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - server configs, not HTML
    )
    return environment.from_string((directory / "templates" / template).read_text()).render(variables)
