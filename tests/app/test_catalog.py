"""The catalog seed: valid files load; malformed ones stop start-up naming the file, entry and field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.catalog import CatalogError, load_catalog, parse_catalog
from peakops.paths import REPO_ROOT
from tests.conftest import TEST_CATALOG
from tests.support.procs import free_port

GOOD = """
products:
  - {sku: TEE, name: Tee, price: 25.00, currency: EUR, stock: 10}
influencers:
  - {slug: lena, name: Lena, promo_code: lena15, discount_percent: 15}
"""


def test_demo_and_test_catalogs_are_valid() -> None:
    demo = load_catalog(REPO_ROOT / "app" / "seed" / "demo-catalog.yaml")
    assert any(p.synthetic for p in demo.products)
    assert load_catalog(TEST_CATALOG).products[0].sku == "TEE"


def test_promo_codes_are_normalised_and_prices_become_cents() -> None:
    seed = parse_catalog(GOOD, "good.yaml")
    assert seed.influencers[0].promo_code == "LENA15"
    assert seed.products[0].price_cents == 2500


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace("price: 25.00", "price: -1"),
            "bad.yaml: products[0] (sku 'TEE'): price: Input should be greater than 0",
        ),
        (GOOD.replace("stock: 10", "stock: many"), "products[0] (sku 'TEE'): stock:"),
        (GOOD.replace("currency: EUR", "currency: euro"), "products[0] (sku 'TEE'): currency:"),
        (
            GOOD.replace("discount_percent: 15", "discount_percent: 150"),
            "influencers[0] (slug 'lena'): discount_percent:",
        ),
        (GOOD.replace("name: Tee, ", ""), "products[0] (sku 'TEE'): name: Field required"),
        (
            GOOD.replace("stock: 10}", "stock: 10, colour: red}"),
            "products[0] (sku 'TEE'): colour: Extra inputs",
        ),
        (
            GOOD + "  - {slug: lena, name: Lena2, promo_code: X2, discount_percent: 5}\n",
            "influencers[1]: slug: duplicate 'lena' (first at influencers[0])",
        ),
        ("products: [", "bad.yaml: not valid YAML"),
        ("- just a list", "bad.yaml: expected a mapping"),
        ("products: []", "bad.yaml: products: List should have at least 1 item"),
        (GOOD + "products: []\n", "bad.yaml: not valid YAML: while constructing a mapping"),
        ("products: " + "[" * 3000 + "]" * 3000, "bad.yaml: not valid YAML: nested too deeply"),
    ],
)
def test_malformed_seed_names_file_entry_and_field(text: str, expected: str) -> None:
    with pytest.raises(CatalogError) as error:
        parse_catalog(text, "bad.yaml")
    assert expected in str(error.value)


def test_missing_or_undecodable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"nowhere\.yaml: cannot read catalog seed"):
        load_catalog(tmp_path / "nowhere.yaml")
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(b"# caf\xe9\n" + GOOD.encode())
    with pytest.raises(CatalogError, match=r"latin1\.yaml: not UTF-8 text: byte 0xe9 at offset 5$"):
        load_catalog(latin1)


def test_bad_seed_stops_startup_with_exit_2_and_the_problem(tmp_path: Path) -> None:
    seed = tmp_path / "catalog.yaml"
    seed.write_text(GOOD.replace("stock: 10", "stock: -5"))
    result = subprocess.run(
        [sys.executable, "-m", "cli", "app", "serve", "--port", str(free_port())],
        env={"PATH": "/usr/bin:/bin", "PEAKOPS_CATALOG": str(seed), "PEAKOPS_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 2
    assert (
        f"{seed}: products[0] (sku 'TEE'): stock: Input should be greater than or equal to 0" in result.stderr
    )
    assert not (tmp_path / "peakops.db").exists()  # nothing half-created


def test_check_catalog_command(tmp_path: Path) -> None:
    # A path longer than any console is wide: the status stays one line (a wrapped one broke CI once).
    deep = tmp_path / ("campaign-catalog-seeds-for-the-spring-drop-" * 3)
    deep.mkdir()
    seed = deep / "catalog.yaml"
    seed.write_text(TEST_CATALOG.read_text())
    ok = subprocess.run(
        [sys.executable, "-m", "cli", "app", "check-catalog", str(seed)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == f"{seed}: 6 products, 2 influencers: ok\n"
