"""The catalog seed: products and influencers, loaded from YAML at start-up when the catalog is empty.

A malformed seed must stop start-up with a message a person can act on, naming the file, the entry and
the field, e.g. ``catalog.yaml: products[2] (sku 'HOODIE'): price: Input should be greater than 0``.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

SKU_PATTERN = r"^[A-Z0-9][A-Z0-9_-]{0,63}$"
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"


class CatalogError(ValueError):
    """The seed file is unreadable or invalid; the message names the file, the entry and the field."""


class ProductSeed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: str = Field(pattern=SKU_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    price: Decimal = Field(gt=0, max_digits=12, decimal_places=2)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    stock: int = Field(ge=0)
    # Synthetic products exist for the monitoring journeys and stay out of business figures.
    synthetic: bool = False

    @property
    def price_cents(self) -> int:
        return int(self.price * 100)


class InfluencerSeed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    slug: str = Field(pattern=SLUG_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    promo_code: str = Field(pattern=r"^[A-Z0-9_-]{2,32}$")
    discount_percent: int = Field(ge=0, le=90)

    @field_validator("promo_code", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class CatalogSeed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    products: list[ProductSeed] = Field(min_length=1)
    influencers: list[InfluencerSeed] = Field(default_factory=list)


def _entry_label(data: Any, loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic location like ('products', 2, 'price') into "products[2] (sku 'X'): price"."""
    parts: list[str] = []
    node = data
    key_hint = ""
    for index, item in enumerate(loc):
        if isinstance(item, int):
            parts[-1] += f"[{item}]"
            node = node[item] if isinstance(node, list) and item < len(node) else None
            if isinstance(node, dict) and index < len(loc) - 1:
                for key in ("sku", "slug"):
                    if key in node:
                        key_hint = f" ({key} {node[key]!r})"
        else:
            parts.append(str(item))
            node = node.get(item) if isinstance(node, dict) else None
    if len(parts) >= 2:
        return f"{parts[0]}{key_hint}: {'.'.join(parts[1:])}"
    return ".".join(parts) or "<top level>"


def parse_catalog(text: str, source: str) -> CatalogSeed:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise CatalogError(f"{source}: expected a mapping with 'products' and 'influencers'")
    try:
        seed = CatalogSeed.model_validate(data)
    except ValidationError as exc:
        problems = [f"{source}: {_entry_label(data, err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise CatalogError("\n".join(problems)) from None
    _check_unique(seed, source)
    return seed


def _check_unique(seed: CatalogSeed, source: str) -> None:
    for kind, key, values in (
        ("products", "sku", [p.sku for p in seed.products]),
        ("influencers", "slug", [i.slug for i in seed.influencers]),
        ("influencers", "promo_code", [i.promo_code for i in seed.influencers]),
    ):
        seen: dict[str, int] = {}
        for index, value in enumerate(values):
            if value in seen:
                raise CatalogError(
                    f"{source}: {kind}[{index}]: {key}: duplicate {value!r} (first at {kind}[{seen[value]}])"
                )
            seen[value] = index


def load_catalog(path: Path) -> CatalogSeed:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read catalog seed: {exc.strerror}") from exc
    return parse_catalog(text, str(path))
