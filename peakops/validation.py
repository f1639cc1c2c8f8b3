"""Turn pydantic validation errors into messages that name the file, the entry and the field.

Shared by the campaign plan and the SLO specs, so both read the same way:
``campaigns/x.yaml: influencers[1] (slug 'marco-fit'): click_through: Input should be ...``
``monitors/slos/shop.yaml: slos[2] (name 'checkout-success'): objective: Input should be ...``
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError


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
