"""What the shop sells and who promotes it: one product and influencer schema for the campaign plan (which
owns the facts) and the app's catalog seed (generated from the plan, loaded by the app at start-up).

    Product      sku, name, price (2 decimals), currency, stock, synthetic
    Influencer   slug, name, promo_code (upper-cased), discount_percent
    duplicates(products, influencers) -> ["influencers[1]: slug: duplicate 'lena' (first at ...)", ...]

The plan's influencers extend `Influencer` with their audience and post time (peakops/plan.py), so a plan
that the app would refuse (a duplicate SKU, a promo code used twice) is refused by `peakops plan check`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

SKU_PATTERN = r"^[A-Z0-9][A-Z0-9_-]{0,63}$"
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"


class _Strict(BaseModel):
    # allow_inf_nan: pydantic takes `.inf` for a float by default, and `gt=0` lets it through.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Product(_Strict):
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


class Influencer(_Strict):
    slug: str = Field(pattern=SLUG_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    promo_code: str = Field(pattern=r"^[A-Z0-9_-]{2,32}$")
    discount_percent: int = Field(default=0, ge=0, le=90)

    @field_validator("promo_code", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


def duplicates(products: Sequence[Product], influencers: Sequence[Influencer]) -> list[str]:
    """Keys that must be unique (a SKU, an influencer's slug, a promo code) and are not, one line each."""
    problems = []
    for kind, key, values in (
        ("products", "sku", [p.sku for p in products]),
        ("influencers", "slug", [i.slug for i in influencers]),
        ("influencers", "promo_code", [i.promo_code for i in influencers]),
    ):
        seen: dict[str, int] = {}
        for index, value in enumerate(values):
            if value in seen:
                problems.append(
                    f"{kind}[{index}]: {key}: duplicate {value!r} (first at {kind}[{seen[value]}])"
                )
            else:
                seen[value] = index
    return problems


def seed_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of the seed schema `model` derives from (a plan's influencer carries more)."""
    base = next(cls for cls in model.__mro__ if cls in (Product, Influencer))
    return tuple(base.model_fields)
