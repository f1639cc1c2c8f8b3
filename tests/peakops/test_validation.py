"""Reading hand-written YAML: duplicate keys refused, YAML's own merge keys and anchors kept, every
failure an InputError naming the file and the place."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from peakops.validation import InputError, parse_yaml, parse_yaml_documents, read_text


def test_anchors_and_merge_keys_load_as_pyyaml_loads_them() -> None:
    text = "base: &base {p95_ms: 1, p99_ms: 2}\nlater: {<<: *base, p99_ms: 3}\nsame: *base\n"
    assert parse_yaml(text, "x.yaml") == yaml.safe_load(text)
    assert parse_yaml(text, "x.yaml")["later"] == {"p95_ms": 1, "p99_ms": 3}


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: 1\nb: 2\na: 3\n", 3),
        ("outer:\n  inner: 1\n  inner: 2\n", 3),
        ("- {x: 1, x: 2}\n", 1),
    ],
)
def test_a_key_given_twice_is_refused_at_its_line(text: str, line: int) -> None:
    with pytest.raises(InputError) as caught:
        parse_yaml(text, "x.yaml")
    message = str(caught.value)
    assert message.startswith("x.yaml: not valid YAML: while constructing a mapping")
    assert "found duplicate key" in message
    assert f"line {line}," in message.rsplit("found duplicate key", 1)[1]


def test_every_document_is_checked() -> None:
    assert parse_yaml_documents("a: 1\n---\nb: 2\n", "x.yaml") == [{"a": 1}, {"b": 2}]
    with pytest.raises(InputError, match="found duplicate key 'b'"):
        parse_yaml_documents("a: 1\n---\nb: 2\nb: 3\n", "x.yaml")


def test_nesting_past_the_recursion_limit_is_an_error_not_a_crash() -> None:
    for opener, closer in (("[", "]"), ("{a: ", "}")):
        with pytest.raises(InputError, match=r"x\.yaml: not valid YAML: nested too deeply"):
            parse_yaml(opener * 5000 + closer * 5000, "x.yaml")


def test_unreadable_and_undecodable_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.yaml: cannot read campaign plan: No such file"):
        read_text(tmp_path / "missing.yaml", "campaign plan")
    with pytest.raises(InputError, match=r": cannot read campaign plan: Is a directory"):
        read_text(tmp_path, "campaign plan")
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("name: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1\.yaml: not UTF-8 text: byte 0xe9 at offset 9$"):
        read_text(latin1, "campaign plan")


@given(st.binary(max_size=200))
def test_any_bytes_give_a_value_or_an_input_error(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    try:
        parse_yaml(text, "x.yaml")
    except InputError as exc:
        message = str(exc)
    else:
        return
    assert message.startswith("x.yaml: not valid YAML: "), message
