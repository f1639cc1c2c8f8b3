"""Read hand-written YAML and turn pydantic validation errors into messages that name the file, the entry
and the field.

Shared by the campaign plan and the SLO specs, so both read the same way:
``campaigns/x.yaml: influencers[1] (slug 'marco-fit'): click_through: Input should be ...``
``monitors/slos/shop.yaml: slos[2] (name 'checkout-success'): objective: Input should be ...``
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError


class InputError(ValueError):
    """A file that cannot be read as UTF-8 YAML; the message names the file and the place."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping: PyYAML keeps the last one silently,
    so a second `rehearsal:` would replace the first without a word."""


def _unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *base` then a key of base: an override, as YAML's merge keys mean it
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, Hashable):
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}",
                    key_node.start_mark,
                )  # fmt: skip
            seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def read_text(path: Path, what: str) -> str:
    """The UTF-8 text of `path`.

    Raises InputError naming the file: unreadable (`what` says what it should have held) or not UTF-8
    (with the offending byte's offset)."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text: byte {exc.object[exc.start]:#04x} at offset {exc.start}"
        ) from None


def parse_yaml(text: str, source: str) -> Any:
    """One YAML document (PyYAML's safe loader, duplicate keys refused).

    Raises InputError naming `source` and the line: invalid YAML, a duplicate key, or nesting deeper
    than Python's recursion limit (PyYAML's parser recurses once per level)."""
    return _parse(text, source, every=False)


def parse_yaml_documents(text: str, source: str) -> list[Any]:
    """Every document of a `---`-separated YAML stream; errors as `parse_yaml`."""
    documents: list[Any] = _parse(text, source, every=True)
    return documents


def _parse(text: str, source: str, every: bool) -> Any:
    try:
        if every:
            return list(yaml.load_all(text, Loader=_UniqueKeyLoader))
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise InputError(f"{source}: not valid YAML: {exc}") from None
    except RecursionError:
        raise InputError(f"{source}: not valid YAML: nested too deeply") from None


def describe_location(data: Any, loc: Sequence[int | str], keys: Sequence[str]) -> str:
    """('influencers', 1, 'click_through') -> "influencers[1] (slug 'marco-fit'): click_through".

    The first of `keys` found in a list entry names it, so the reader finds the entry without counting.
    """
    path = ""
    hint = ""
    node = data
    for _index, item in enumerate(loc):
        if isinstance(item, int):
            path += f"[{item}]"
            node = node[item] if isinstance(node, list) and item < len(node) else None
            if isinstance(node, dict):
                for key in keys:
                    if key in node:
                        hint = f" ({key} {node[key]!r})"
                        break
        else:
            if hint and path:
                path += hint + ":"
                hint = ""
                path += f" {item}"
            else:
                path += f".{item}" if path else str(item)
            node = node.get(item) if isinstance(node, dict) else None
    return path + hint or "<top level>"


def format_errors(exc: ValidationError, data: Any, source: str, keys: Sequence[str]) -> str:
    lines = []
    for err in exc.errors():
        # pydantic puts the failing variant of a union in the location ("function-after[...]"): drop it.
        loc = [part for part in err["loc"] if not (isinstance(part, str) and "[" in part)]
        where = describe_location(data, loc, keys)
        message = err["msg"].removeprefix("Value error, ")
        lines.append(f"{source}: {where}: {message}" if where != "<top level>" else f"{source}: {message}")
    return "\n".join(lines)
