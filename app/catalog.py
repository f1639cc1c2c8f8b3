"""The catalog seed: products and influencers, loaded from YAML at start-up when the catalog is empty.

A malformed seed must stop start-up with a message a person can act on, naming the file, the entry and
the field, e.g. ``catalog.yaml: products[2] (sku 'HOODIE'): price: Input should be greater than 0``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from peakops.catalog import SKU_PATTERN, Influencer, Product, duplicates
from peakops.validation import InputError, format_errors, parse_yaml, read_text

__all__ = ["SKU_PATTERN", "CatalogError", "CatalogSeed", "load_catalog", "parse_catalog"]


class CatalogError(ValueError):
    """The seed file is unreadable or invalid; the message names the file, the entry and the field."""


class CatalogSeed(BaseModel):
    """The seed's schema is the campaign plan's (peakops/catalog.py): the seed is generated from a plan."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    products: list[Product] = Field(min_length=1)
    influencers: list[Influencer] = Field(default_factory=list)


def parse_catalog(text: str, source: str) -> CatalogSeed:
    try:
        data = parse_yaml(text, source)
    except InputError as exc:
        raise CatalogError(str(exc)) from None
    if not isinstance(data, dict):
        raise CatalogError(f"{source}: expected a mapping with 'products' and 'influencers'")
    try:
        seed = CatalogSeed.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(format_errors(exc, data, source, keys=("sku", "slug"))) from None
    problems = duplicates(seed.products, seed.influencers)
    if problems:
        raise CatalogError("\n".join(f"{source}: {problem}" for problem in problems))
    return seed


def load_catalog(path: Path) -> CatalogSeed:
    try:
        text = read_text(path, "catalog seed")
    except InputError as exc:
        raise CatalogError(str(exc)) from None
    return parse_catalog(text, str(path))
