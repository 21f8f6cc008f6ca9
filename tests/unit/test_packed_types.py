"""Round trips of every packed storage word (contracts/types/): what is packed reads back unchanged, each setter
changes its own field only, and the word's bits are where the type's layout comment says (so a layout change
shows up here, not as a silently misread field). Driven through contracts/test/PackedTypesHarness.sol."""

from __future__ import annotations

import pytest
from brownie import PackedTypesHarness
from brownie.test import given
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def uint(bits: int) -> st.SearchStrategy[int]:
    return st.integers(0, 2**bits - 1)


def sint(bits: int) -> st.SearchStrategy[int]:
    return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def twos(value: int, bits: int) -> int:
    """A signed value's bits as stored (two's complement in `bits` bits)."""
    return value % 2**bits


def offset_binary(value: int) -> int:
    """An int96 as the market words store it: the sign bit flipped."""
    return twos(value, 96) ^ (1 << 95)


@pytest.fixture(scope="module")
def harness(owner):
    return PackedTypesHarness.deploy({"from": owner})


@SETTINGS
@given(quote=uint(104), base=uint(96), last_block=uint(32), head=uint(16), is_open=st.booleans(), reopen=st.booleans())
def test_pool_slot(harness, quote, base, last_block, head, is_open, reopen):
    word, unpacked, reopened = harness.poolSlot(quote, base, last_block, head, is_open, reopen)
    assert word == quote | base << 104 | last_block << 200 | head << 232 | int(is_open) << 248
    assert tuple(unpacked) == (quote, base, last_block, head, is_open)
    assert reopened == (word & (2**248 - 1)) | int(reopen) << 248


@SETTINGS
@given(before=uint(256), ratios=st.lists(uint(40), min_size=4, max_size=4), caps=st.lists(uint(48), min_size=2, max_size=2))
def test_trading_params(harness, before, ratios, caps):
    word, wad = harness.tradingParams(before, ratios, caps)
    expected = ratios[0] | ratios[1] << 40 | ratios[2] << 80 | ratios[3] << 120 | caps[0] << 160 | caps[1] << 208
    assert word == expected  # both setters together cover the whole word: nothing of `before` survives
    assert list(wad) == [r * 10**6 for r in ratios] + [c * 10**15 for c in caps]


@SETTINGS
@given(ratios=st.lists(uint(56), min_size=4, max_size=4), paused=st.booleans(), paused_after=st.booleans())
def test_margin_params(harness, ratios, paused, paused_after):
    word, wad, is_paused, repaused = harness.marginParams(ratios, paused, paused_after)
    ratio_bits = ratios[0] | ratios[1] << 56 | ratios[2] << 112 | ratios[3] << 168
    assert word == ratio_bits | int(paused) << 224
    assert list(wad) == [r * 100 for r in ratios]
    assert is_paused == paused
    assert repaused == ratio_bits | int(paused_after) << 224


@SETTINGS
@given(
    listed=st.booleans(), restriction=uint(32), collateral=sint(96), cum_short=sint(96), new_collateral=sint(96)
)
def test_market_state(harness, listed, restriction, collateral, cum_short, new_collateral):
    word, *fields, recollateralized = harness.marketState(listed, restriction, collateral, cum_short, new_collateral)
    assert word == int(listed) | restriction << 8 | twos(collateral, 96) << 40 | offset_binary(cum_short) << 136
    assert fields == [listed, restriction, collateral, cum_short]
    mask = (2**96 - 1) << 40
    assert recollateralized == (word & ~mask) | twos(new_collateral, 96) << 40


@SETTINGS
@given(cum_long=sint(96), long_size=uint(96))
def test_market_longs(harness, cum_long, long_size):
    word, read_cum, read_size = harness.marketLongs(cum_long, long_size)
    assert word == offset_binary(cum_long) | long_size << 96
    assert (read_cum, read_size) == (cum_long, long_size)
    if cum_long == 0:
        assert word != 0  # a listed market's longs' word is never zero (the first long's write stays cheap)


@SETTINGS
@given(
    size=sint(128),
    margin=uint(96),
    last_block=uint(32),
    open_notional=uint(128),
    cumulative=sint(128),
    new_margin=uint(96),
    new_cumulative=sint(128),
)
def test_position(harness, size, margin, last_block, open_notional, cumulative, new_margin, new_cumulative):
    stored = (size, margin, last_block, open_notional, cumulative)
    head, tail, loaded, changed = harness.position.call(stored, new_margin, new_cumulative)
    assert head == twos(size, 128) | margin << 128 | last_block << 224
    assert tail == open_notional | twos(cumulative, 128) << 128
    assert tuple(loaded) == stored
    assert tuple(changed) == (size, new_margin, last_block, open_notional, new_cumulative)


@SETTINGS
@given(clearing_house=uint(160), income=uint(96), new_income=uint(96))
def test_vault_head(harness, clearing_house, income, new_income):
    address = "0x" + f"{clearing_house:040x}"
    word, read_address, read_income, reincome = harness.vaultHead(address, income, new_income)
    assert word == clearing_house | income << 160
    assert (int(read_address, 16), read_income) == (clearing_house, income)
    assert reincome == clearing_house | new_income << 160


def test_vault_head_refuses_income_above_96_bits(harness):
    from brownie.exceptions import VirtualMachineError

    with pytest.raises(VirtualMachineError, match="FundIncomeOverflow"):
        harness.vaultHead("0x" + "11" * 20, 2**96, 0)


@SETTINGS
@given(timestamp=uint(32), price=uint(80), cumulative=uint(256), new_price=uint(80))
def test_observation(harness, timestamp, price, cumulative, new_price):
    word, read_ts, read_price, read_cumulative, repriced, placeholder = harness.observation(
        timestamp, price, cumulative, new_price
    )
    wrapped = cumulative % 2**144  # the accumulator is kept modulo 2^144
    assert word == timestamp | price << 32 | wrapped << 112
    assert (read_ts, read_price, read_cumulative) == (timestamp, price, wrapped)
    assert repriced == timestamp | new_price << 32 | wrapped << 112
    assert placeholder == 1 << 112  # timestamp 0, cumulative 1: never mistaken for a written observation
