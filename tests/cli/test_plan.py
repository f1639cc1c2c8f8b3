"""`peakops plan check` holds a plan to what `peakops rehearse` would: hostile plans are refused with exit
2 and their place, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from peakops.paths import DEFAULT_PLAN


def check(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["plan", "check", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_the_demo_plan_is_ok() -> None:
    code, output = check(DEFAULT_PLAN)
    assert code == 0, output
    assert output.endswith("expected visitors: ok\n")


def changed(change: Callable[[dict[str, Any]], None]) -> str:
    plan = yaml.safe_load(DEFAULT_PLAN.read_text())
    change(plan)
    return yaml.safe_dump(plan, sort_keys=False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # What only `peakops rehearse` refused before: names the generated rules and the bars lack.
        (
            changed(lambda d: d["rehearsal"]["scenarios"][1]["expect"]["fire"][0].update(alert="NoAlert")),
            "rehearsal.scenarios[1] (payment-outage).expect.fire[0].alert: 'NoAlert' is not an alert of the "
            "generated rules",
        ),
        (
            changed(lambda d: d["rehearsal"]["scenarios"][2]["expect"].update(quiet=["Nope"])),
            "rehearsal.scenarios[2] (database-restart).expect.quiet[0]: 'Nope' is not an alert",
        ),
        (
            changed(lambda d: d["rehearsal"]["scenarios"][1]["expect"].update(may_burn=["chekout"])),
            "rehearsal.scenarios[1] (payment-outage).expect.may_burn[0]: 'chekout' is not a bar",
        ),
        # Overflows and undecodable or unparseable text: these were tracebacks.
        (
            changed(lambda d: d["influencers"][0].update(followers=10**400)),
            "influencers[0] (slug 'lena-glow'): followers: Input should be less than or equal to 10000000000",
        ),
        ("name: x\nrehearsal: " + "[" * 3000 + "]" * 3000 + "\n", "not valid YAML: nested too deeply"),
        (b"# caf\xe9\n", "not UTF-8 text: byte 0xe9 at offset 5"),
    ],
)
def test_a_hostile_plan_is_refused_with_its_place(tmp_path: Path, text: str | bytes, expected: str) -> None:
    path = tmp_path / "plan.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    code, output = check(path)
    assert code == 2, output
    assert f"{path}: {expected}" in output
    assert "Traceback" not in output
