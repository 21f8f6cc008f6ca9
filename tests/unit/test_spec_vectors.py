"""SPEC §8: Perp v1's reference vectors, pool 1000 quote / 100 base, 18 decimals."""

from tests.helpers import ADD_TO_AMM, BUY, REMOVE_FROM_AMM, SELL, wad


def test_input_and_output_prices(amm):
    assert amm.getInputPrice(ADD_TO_AMM, wad(50)) == 4761904761904761904
    assert amm.getInputPrice(REMOVE_FROM_AMM, wad(50)) == 5263157894736842106
    assert amm.getOutputPrice(ADD_TO_AMM, wad(5)) == 47619047619047619047
    assert amm.getOutputPrice(REMOVE_FROM_AMM, wad(5)) == 52631578947368421053


def test_long_twice(ch, amm, alice, fund_trader):
    fund_trader(alice, wad(1000))
    ch.openPosition(amm, BUY, wad(60), wad(10), 0, {"from": alice})
    ch.openPosition(amm, BUY, wad(60), wad(10), 0, {"from": alice})
    pos = ch.getPosition(amm, alice)
    assert pos[0] == 54545454545454545454
    assert pos[1] == wad(120)


def test_short_twice(ch, amm, alice, fund_trader):
    fund_trader(alice, wad(1000))
    ch.openPosition(amm, SELL, wad(40), wad(5), 0, {"from": alice})
    ch.openPosition(amm, SELL, wad(40), wad(5), 0, {"from": alice})
    pos = ch.getPosition(amm, alice)
    assert pos[0] == -66666666666666666667
    assert pos[1] == wad(80)


def test_margin_ratio_alone(ch, amm, alice, fund_trader):
    fund_trader(alice, wad(1000))
    ch.openPosition(amm, BUY, wad(25), wad(10), 0, {"from": alice})
    assert ch.getMarginRatio(amm, alice) == wad("0.1")
