"""Files generated from a source of truth: the header they carry and the YAML style they are written in.

Every generated file starts with ``# Generated from <source> by `<command>`: edit the source, not this
file.``; a drift test (tests/peakops/test_generated.py) regenerates each and fails on any difference.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from peakops.paths import relative


def header(sources: Iterable[Path | str], command: str, comment: str = "#") -> str:
    names = ", ".join(s if isinstance(s, str) else relative(s) for s in sources)
    return (
        f"{comment} Generated from {names} by `{command}`: edit the source, not this file.\n"
        f"{comment} A drift test regenerates it and fails on any difference.\n"
    )


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (PromQL, templates) as literal blocks, so the generated rules stay readable."""

    def ignore_aliases(self, data: Any) -> bool:
        return True  # no &id001 anchors: each rule reads on its own

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Lists indented under their key, as yamllint (and so ansible-lint) expects.
        super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # YAML 1.1 (PyYAML) reads NEL, LS and PS as line breaks, YAML 1.2 (Go's yaml.v3, so Prometheus)
    # does not: in any style but double-quoted such a value reads back differently in the two. Double
    # quotes escape them (\N, \L, \P) and every other non-printable character.
    if any(not ch.isprintable() for ch in value.replace("\n", "")):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_BlockDumper.add_representer(str, _str)


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=110)


def generated_yaml(data: Any, sources: Iterable[Path | str], command: str) -> str:
    return header(sources, command) + dump_yaml(data)


def write_atomically(path: Path, text: str) -> None:
    """Write beside the target, then rename over it: a reader never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def same_tree(files: dict[str, str], out: Path) -> bool:
    if not out.is_dir():
        return False
    on_disk = {str(p.relative_to(out)): p for p in out.rglob("*") if p.is_file()}
    return on_disk.keys() == files.keys() and all(on_disk[n].read_text() == t for n, t in files.items())


def write_tree(files: dict[str, str], out: Path) -> bool:
    """Write into a sibling temp dir, then swap it in: a failure leaves the old tree whole.

    Returns False (and touches nothing) when the tree already holds exactly these files, so a
    configuration run can report "unchanged".
    """
    out = out.resolve()
    if same_tree(files, out):
        return False
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, text in files.items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        staging.chmod(0o755)
        if out.exists():
            retired = out.with_name(f".{out.name}.old")
            shutil.rmtree(retired, ignore_errors=True)
            out.rename(retired)
            staging.rename(out)
            shutil.rmtree(retired)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return True
