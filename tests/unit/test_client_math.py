"""perp_client's pure math (no chain): SPEC §8 vectors, trade simulation, liquidation price."""

from __future__ import annotations

import pytest

from perp_client import pool_math as pm
from perp_client.quote import (
    Holding,
    Pool,
    QuoteError,
    liquidation_price,
    simulate_open,
)
from perp_client.units import UnitError, to_units, to_wad
from tests.helpers import wad

POOL = Pool(wad(1000), wad(100), trade_limit_ratio=9 * 10**17)
MMR = wad("0.05")


def test_pool_math_reproduces_the_spec_vectors():
    q, b = POOL.quote_reserve, POOL.base_reserve
    assert pm.get_input_price(True, wad(50), q, b) == 4761904761904761904
    assert pm.get_input_price(False, wad(50), q, b) == 5263157894736842106
    assert pm.get_output_price(True, wad(5), q, b) == 47619047619047619047
    assert pm.get_output_price(False, wad(5), q, b) == 52631578947368421053


@pytest.mark.parametrize(("is_long", "margin", "leverage", "size"), [(True, 60, 10, 54545454545454545454), (False, 40, 5, -66666666666666666667)])
def test_two_trades_reproduce_the_spec_positions(is_long, margin, leverage, size):
    first = simulate_open(POOL, Holding(), is_long, wad(margin), wad(leverage))
    second = simulate_open(first.pool_after, first.holding, is_long, wad(margin), wad(leverage))
    assert (second.holding.size, second.holding.margin) == (size, wad(2 * margin))


def test_margin_ratio_alone_is_a_tenth():
    r = simulate_open(POOL, Holding(), True, wad(25), wad(10))
    h, p = r.holding, r.pool_after
    assert pm.margin_ratio(h.size, h.margin, h.open_notional, 0, p.quote_reserve, p.base_reserve) == wad("0.1")


@pytest.mark.parametrize("is_long", [True, False])
def test_liquidation_price_separates_healthy_from_liquidatable(is_long):
    r = simulate_open(POOL, Holding(), is_long, wad(25), wad(10))
    liq = liquidation_price(r.holding, r.pool_after, MMR)
    k = r.pool_after.quote_reserve * r.pool_after.base_reserve // wad(1)

    def ratio_at(price: int) -> int:
        from math import isqrt

        q = isqrt(k * price)
        h = r.holding
        return pm.margin_ratio(h.size, h.margin, h.open_notional, 0, q, k * wad(1) // q)

    beyond, inside = (liq, liq + 1) if is_long else (liq, liq - 1)
    assert ratio_at(beyond) < MMR <= ratio_at(inside)


def test_a_fully_collateralised_long_is_never_liquidated():
    r = simulate_open(POOL, Holding(), True, wad(10), wad(1))
    assert liquidation_price(r.holding, r.pool_after, MMR) is None


def test_refusals():
    with pytest.raises(QuoteError, match="trade limit"):
        simulate_open(POOL, Holding(), False, wad(475), wad(2))  # 950 of the 1000 quote reserve
    with pytest.raises(UnitError, match="more than 6 decimals"):
        to_units("1.0000001", 6)
    assert to_wad("0.05") == 5 * 10**16 and to_units(1.5, 6) == 1_500_000
