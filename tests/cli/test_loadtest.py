"""`peakops loadtest` arguments: time spans as Locust takes them."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from cli.loadtest import timespan_seconds
from cli.main import app


@pytest.mark.parametrize(
    ("text", "seconds"), [("20s", 20), ("1m30s", 90), ("2h", 7200), ("45", 45), ("1h2m3s", 3723)]
)
def test_durations_take_locusts_time_spans(text: str, seconds: int) -> None:
    assert timespan_seconds(text) == seconds


@pytest.mark.parametrize("text", ["abc", "20x", "-5s", "1.5m", "", "3s", "25h"])
def test_bad_durations_are_refused_with_the_forms_that_work(text: str) -> None:
    with pytest.raises(typer.BadParameter):
        timespan_seconds(text)


def test_a_bad_duration_exits_2_naming_the_option() -> None:
    result = CliRunner().invoke(app, ["loadtest", "--host", "http://127.0.0.1:9", "--duration", "20x"])
    assert result.exit_code == 2
    assert "--duration" in result.output
    assert "20x" in result.output


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--time-scale", "inf"),
        ("--time-scale", "0"),
        ("--time-scale", "nan"),
        ("--peak-arrivals", "-1"),
        ("--peak-arrivals", "1e308"),
        ("--baseline-arrivals", "inf"),
    ],
)
def test_a_rate_or_scale_out_of_range_exits_2_naming_the_option(option: str, value: str) -> None:
    """Found by hostile input: unbounded, these reached Locust (and the rules' compression)."""
    result = CliRunner().invoke(
        app, ["loadtest", "--host", "http://127.0.0.1:9", "--plan", "campaigns/demo.yaml", option, value]
    )
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}'" in result.output
