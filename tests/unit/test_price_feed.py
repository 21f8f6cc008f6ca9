"""Unit tests of ChainlinkPriceFeed (index price from Chainlink aggregators) against MockAggregator.

Time: brownie 1.22's `chain.mine(timestamp=...)` sends a malformed `evm_mine` to anvil, so exact block times are
set with anvil's `evm_setNextBlockTimestamp` (helpers `at` and `mine_at`). A view call sees the latest block's
timestamp as `block.timestamp`.
"""
import brownie
import pytest
from brownie import web3
from brownie.exceptions import VirtualMachineError

ETH = b"ETH".ljust(32, b"\0")  # Solidity's bytes32("ETH"); brownie would left-pad b"ETH"
BTC = b"BTC".ljust(32, b"\0")
WAD = 10**18
PHASE = 1 << 64  # Chainlink proxy round ids: phase in the top 16 bits of 80


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    pass


# ---------------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------------


class reverts_with:
    """Asserts that the block reverts with custom error `name` (brownie renders it "Name: arg1, arg2");
    with `args`, the rendered arguments must match exactly too."""

    def __init__(self, name, *args):
        self.name, self.args = name, args

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            raise AssertionError(f"did not revert (expected {self.name})")
        if exc_type is not VirtualMachineError:
            return False
        msg = exc.revert_msg or ""
        assert msg.split(":")[0] == self.name, f"expected {self.name}, got {msg!r}"
        if self.args:
            expected = f"{self.name}: " + ", ".join(str(a) for a in self.args)
            assert msg == expected, f"expected {expected!r}, got {msg!r}"
        return True


def at(ts):
    """The next block (the next transaction) gets timestamp `ts`."""
    res = web3.provider.make_request("evm_setNextBlockTimestamp", [int(ts)])
    assert "error" not in res, res


def mine_at(chain, ts):
    at(ts)
    chain.mine()
    assert chain[-1].timestamp == ts


def deploy(ChainlinkPriceFeed, MockAggregator, owner, decimals=8, answer=400 * 10**8, staleness=0, key=ETH):
    agg = MockAggregator.deploy(decimals, answer, {"from": owner})
    feed = ChainlinkPriceFeed.deploy({"from": owner})
    feed.addAggregator(key, agg, staleness, {"from": owner})
    return feed, agg


def set_rounds(agg, owner, rounds):
    """rounds: list of (roundId, answer, updatedAt); each complete (answeredInRound = roundId)."""
    for rid, answer, ts in rounds:
        agg.updateRoundData(rid, answer, ts, rid, {"from": owner})


def future(chain, seconds=100_000):
    """A timestamp comfortably after every block mined so far."""
    return chain[-1].timestamp + seconds


# ---------------------------------------------------------------------------------------------------------------
# registration
# ---------------------------------------------------------------------------------------------------------------


def test_add_aggregator_stores_feed_and_emits(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    owner = accounts[0]
    agg = MockAggregator.deploy(8, 400 * 10**8, {"from": owner})
    feed = ChainlinkPriceFeed.deploy({"from": owner})
    assert feed.owner() == owner
    assert feed.MAX_TWAP_ROUNDS() == 1024
    assert tuple(feed.getAggregator(ETH)) == (brownie.ZERO_ADDRESS, 0, 0)

    tx = feed.addAggregator(ETH, agg, 3600, {"from": owner})
    assert tx.events["AggregatorAdded"]["key"] == "0x" + ETH.hex()
    assert tx.events["AggregatorAdded"]["aggregator"] == agg
    assert tx.events["AggregatorAdded"]["maxStaleness"] == 3600
    assert tuple(feed.getAggregator(ETH)) == (agg, 8, 3600)
    assert feed.getAggregator(ETH).dict() == {"aggregator": agg, "decimals": 8, "maxStaleness": 3600}


def test_remove_aggregator(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    owner = accounts[0]
    feed, _agg = deploy(ChainlinkPriceFeed, MockAggregator, owner)
    tx = feed.removeAggregator(ETH, {"from": owner})
    assert tx.events["AggregatorRemoved"]["key"] == "0x" + ETH.hex()
    assert tuple(feed.getAggregator(ETH)) == (brownie.ZERO_ADDRESS, 0, 0)
    with reverts_with("UnknownFeed"):
        feed.getPrice(ETH)
    # the key can be registered again, e.g. with another aggregator
    agg6 = MockAggregator.deploy(6, 401 * 10**6, {"from": owner})
    feed.addAggregator(ETH, agg6, 0, {"from": owner})
    assert feed.getPrice(ETH) == 401 * WAD


def test_add_aggregator_rejects_zero_address_duplicate_and_wide_staleness(
    ChainlinkPriceFeed, MockAggregator, accounts, chain
):
    owner = accounts[0]
    feed, agg = deploy(ChainlinkPriceFeed, MockAggregator, owner)
    with reverts_with("ZeroAddress"):
        feed.addAggregator(BTC, brownie.ZERO_ADDRESS, 0, {"from": owner})
    with reverts_with("FeedAlreadyRegistered"):
        feed.addAggregator(ETH, agg, 0, {"from": owner})
    with reverts_with("SafeCastOverflowedUintDowncast", 32, 2**32):
        feed.addAggregator(BTC, agg, 2**32, {"from": owner})
    feed.addAggregator(BTC, agg, 2**32 - 1, {"from": owner})
    assert tuple(feed.getAggregator(BTC)) == (agg, 8, 2**32 - 1)


def test_remove_unknown_feed_reverts(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    owner = accounts[0]
    feed, _ = deploy(ChainlinkPriceFeed, MockAggregator, owner)
    with reverts_with("UnknownFeed"):
        feed.removeAggregator(BTC, {"from": owner})


def test_only_owner_registers(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    owner, other = accounts[0], accounts[1]
    feed, agg = deploy(ChainlinkPriceFeed, MockAggregator, owner)
    with reverts_with("OwnableUnauthorizedAccount", other.address.lower()):
        feed.addAggregator(BTC, agg, 0, {"from": other})
    with reverts_with("OwnableUnauthorizedAccount", other.address.lower()):
        feed.removeAggregator(ETH, {"from": other})
    assert feed.getAggregator(ETH)[0] == agg


# ---------------------------------------------------------------------------------------------------------------
# getPrice
# ---------------------------------------------------------------------------------------------------------------


def test_get_price_scales_8_decimals(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    owner = accounts[0]
    feed, agg = deploy(ChainlinkPriceFeed, MockAggregator, owner, decimals=8, answer=400_12345678)
    assert feed.getPrice(ETH) == 400_123456780000000000
    agg.updateAnswer(1, {"from": owner})  # the smallest positive answer
    assert feed.getPrice(ETH) == 10**10


def test_get_price_scales_18_decimals(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    owner = accounts[0]
    feed, _ = deploy(ChainlinkPriceFeed, MockAggregator, owner, decimals=18, answer=1234_567890123456789012)
    assert feed.getPrice(ETH) == 1234_567890123456789012


def test_get_price_scales_6_decimals(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    owner = accounts[0]
    feed, _ = deploy(ChainlinkPriceFeed, MockAggregator, owner, decimals=6, answer=1234_567891)
    assert feed.getPrice(ETH) == 1234_567891_000000000000


def test_get_price_scales_down_more_than_18_decimals(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    owner = accounts[0]
    # 20 decimals: 1234.56789012345678901299 -> truncated to 18 decimals
    feed, _ = deploy(ChainlinkPriceFeed, MockAggregator, owner, decimals=20, answer=1234_56789012345678901299)
    assert feed.getPrice(ETH) == 1234_567890123456789012
    # 0 decimals
    feed0, _ = deploy(ChainlinkPriceFeed, MockAggregator, owner, decimals=0, answer=3)
    assert feed0.getPrice(ETH) == 3 * WAD


def test_get_price_unknown_feed(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    feed, _ = deploy(ChainlinkPriceFeed, MockAggregator, accounts[0])
    with reverts_with("UnknownFeed"):
        feed.getPrice(BTC)


def test_get_price_non_positive(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    owner = accounts[0]
    feed, agg = deploy(ChainlinkPriceFeed, MockAggregator, owner)
    agg.updateAnswer(0, {"from": owner})
    with reverts_with("NonPositivePrice", 0):
        feed.getPrice(ETH)
    agg.updateAnswer(-5, {"from": owner})
    with reverts_with("NonPositivePrice", -5):
        feed.getPrice(ETH)


def test_get_price_incomplete_round(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    owner = accounts[0]
    feed, agg = deploy(ChainlinkPriceFeed, MockAggregator, owner)
    now = chain[-1].timestamp
    agg.updateRoundData(2, 401 * 10**8, now, 1, {"from": owner})  # answeredInRound < roundId
    with reverts_with("IncompleteRound", 2):
        feed.getPrice(ETH)
    agg.updateRoundData(3, 402 * 10**8, 0, 3, {"from": owner})  # updatedAt == 0
    with reverts_with("IncompleteRound", 3):
        feed.getPrice(ETH)
    agg.updateRoundData(4, 403 * 10**8, now, 4, {"from": owner})
    assert feed.getPrice(ETH) == 403 * WAD


def test_get_price_stale(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    owner = accounts[0]
    feed, agg = deploy(ChainlinkPriceFeed, MockAggregator, owner, staleness=3600)
    t = future(chain)
    at(t)
    agg.updateAnswer(410 * 10**8, {"from": owner})
    mine_at(chain, t + 3600)  # exactly maxStaleness old: still fresh
    assert feed.getPrice(ETH) == 410 * WAD
    mine_at(chain, t + 3601)
    with reverts_with("StalePrice", t, 3600):
        feed.getPrice(ETH)


def test_get_price_no_staleness_check_when_zero(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    owner = accounts[0]
    feed, _agg = deploy(ChainlinkPriceFeed, MockAggregator, owner, staleness=0)
    mine_at(chain, future(chain, 10 * 365 * 86400))
    assert feed.getPrice(ETH) == 400 * WAD


def test_each_key_has_its_own_feed(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    owner = accounts[0]
    feed, _agg = deploy(ChainlinkPriceFeed, MockAggregator, owner)
    btc = MockAggregator.deploy(18, 60_000 * WAD, {"from": owner})
    feed.addAggregator(BTC, btc, 0, {"from": owner})
    assert feed.getPrice(ETH) == 400 * WAD
    assert feed.getPrice(BTC) == 60_000 * WAD


# ---------------------------------------------------------------------------------------------------------------
# getTwapPrice
# ---------------------------------------------------------------------------------------------------------------


def _three_rounds(ChainlinkPriceFeed, MockAggregator, owner, chain):
    """400 at t0 (round 1), 405 at t0+15min, 410 at t0+30min; 8 decimals."""
    t0 = future(chain)
    at(t0)
    agg = MockAggregator.deploy(8, 400 * 10**8, {"from": owner})
    feed = ChainlinkPriceFeed.deploy({"from": owner})
    feed.addAggregator(ETH, agg, 0, {"from": owner})
    at(t0 + 900)
    agg.updateAnswer(405 * 10**8, {"from": owner})
    at(t0 + 1800)
    agg.updateAnswer(410 * 10**8, {"from": owner})
    return feed, agg, t0


def test_twap_three_rounds_whole_window(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    feed, agg, t0 = _three_rounds(ChainlinkPriceFeed, MockAggregator, accounts[0], chain)
    assert tuple(agg.latestRoundData()) == (3, 410 * 10**8, t0 + 1800, t0 + 1800, 3)
    mine_at(chain, t0 + 2700)
    # base = t0: each price was in force 15 min within [t0, t0+45min]
    assert feed.getTwapPrice(ETH, 2700) == (410 * 900 + 405 * 900 + 400 * 900) * 10**8 // 2700 * 10**10
    assert feed.getTwapPrice(ETH, 2700) == 405 * WAD
    # base = t0+15min: 410 for 15 min, 405 for 15 min
    assert feed.getTwapPrice(ETH, 1800) == (410 * 900 + 405 * 900) * 10**8 // 1800 * 10**10
    assert feed.getTwapPrice(ETH, 1800) == 407_500000000000000000
    # base = t0+10min: 410 for 15 min, 405 for 15 min, 400 for 5 min (from base to t0+15min)
    assert feed.getTwapPrice(ETH, 2100) == (410 * 900 + 405 * 900 + 400 * 300) * 10**8 // 2100 * 10**10
    assert feed.getTwapPrice(ETH, 2100) == 406_42857142 * 10**10


def test_twap_history_shorter_than_interval(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    feed, _, t0 = _three_rounds(ChainlinkPriceFeed, MockAggregator, accounts[0], chain)
    mine_at(chain, t0 + 2700)
    # interval 1 h reaches back to t0-15min, but history starts at t0: divide by the 45 min covered
    assert feed.getTwapPrice(ETH, 3600) == (410 * 900 + 405 * 900 + 400 * 900) * 10**8 // 2700 * 10**10
    assert feed.getTwapPrice(ETH, 3600) == 405 * WAD
    # an interval longer than the chain's whole life (base clamps to 0) behaves the same
    assert feed.getTwapPrice(ETH, 2**255) == 405 * WAD


def test_twap_interval_shorter_than_latest_round_age(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    feed, _, t0 = _three_rounds(ChainlinkPriceFeed, MockAggregator, accounts[0], chain)
    mine_at(chain, t0 + 2700)
    # latest round (t0+30min) is older than base (t0+35min): the latest price
    assert feed.getTwapPrice(ETH, 600) == 410 * WAD
    assert feed.getTwapPrice(ETH, 1) == 410 * WAD
    # latest round exactly at base: the latest price over the whole interval
    assert feed.getTwapPrice(ETH, 900) == 410 * WAD


def test_twap_rounding_truncates_in_feed_decimals_then_scales(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    owner = accounts[0]
    feed, agg = deploy(ChainlinkPriceFeed, MockAggregator, owner, decimals=8)
    t = future(chain)
    set_rounds(agg, owner, [(1, 1999_99999999, t - 1000), (2, 2000_00000001, t - 700), (3, 2100_12345678, t - 333)])
    mine_at(chain, t)
    # base = t-777: 2100.12345678 for 333 s, 2000.00000001 for 367 s, 1999.99999999 for 77 s (base to t-700)
    weighted = 2100_12345678 * 333 + 2000_00000001 * 367 + 1999_99999999 * 77
    expected = weighted // 777 * 10**10
    assert expected == 2042_91005290 * 10**10
    assert feed.getTwapPrice(ETH, 777) == expected
    assert expected != weighted * 10**10 // 777  # v1 truncates before scaling


def test_twap_scales_6_and_18_decimals(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    owner = accounts[0]
    for decimals in (6, 18, 20):
        one = 10**decimals
        feed, agg = deploy(ChainlinkPriceFeed, MockAggregator, owner, decimals=decimals, answer=100 * one)
        t = future(chain)
        set_rounds(agg, owner, [(1, 100 * one, t - 100), (2, 103 * one, t - 30)])
        mine_at(chain, t)
        # base = t-60: 103 for 30 s, 100 for 30 s
        assert feed.getTwapPrice(ETH, 60) == (103 * 30 + 100 * 30) * one // 60 * WAD // one
        assert feed.getTwapPrice(ETH, 60) == 101_500000000000000000


def test_twap_first_round_only(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    owner = accounts[0]
    feed, _agg = deploy(ChainlinkPriceFeed, MockAggregator, owner)
    chain.sleep(100)
    chain.mine()
    # the only round is in the window: its price
    assert feed.getTwapPrice(ETH, 3600) == 400 * WAD
    assert feed.getTwapPrice(ETH, 10) == 400 * WAD


def test_twap_all_rounds_at_now(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    owner = accounts[0]
    feed, agg = deploy(ChainlinkPriceFeed, MockAggregator, owner)
    t = future(chain)
    set_rounds(agg, owner, [(1, 300 * 10**8, t), (2, 500 * 10**8, t)])
    mine_at(chain, t)
    # no time covered at all: the latest price
    assert feed.getTwapPrice(ETH, 60) == 500 * WAD


def test_twap_stops_at_phase_boundary(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    owner = accounts[0]
    feed, agg = deploy(ChainlinkPriceFeed, MockAggregator, owner, decimals=0, answer=100)
    t = future(chain)
    set_rounds(
        agg,
        owner,
        [
            (1, 100, t - 5000),
            (2, 200, t - 3000),  # phase 0: would count if the walk crossed phases
            (PHASE | 1, 300, t - 600),
            (PHASE | 2, 600, t - 300),
        ],
    )
    assert agg.latestRound() == PHASE | 2
    mine_at(chain, t)
    # phase 1 history starts at t-600: 600 for 300 s, 300 for 300 s, divided by the 600 s covered
    assert feed.getTwapPrice(ETH, 1200) == (600 * 300 + 300 * 300) // 600 * WAD
    assert feed.getTwapPrice(ETH, 1200) == 450 * WAD
    # within the phase, the window is covered normally
    assert feed.getTwapPrice(ETH, 400) == (600 * 300 + 300 * 100) // 400 * WAD
    # the next update continues the phase
    at(t + 100)
    agg.updateAnswer(900, {"from": owner})
    assert agg.latestRound() == PHASE | 3
    mine_at(chain, t + 200)
    assert feed.getTwapPrice(ETH, 200) == (900 * 100 + 600 * 100) // 200 * WAD


def twap_at_head(chain, feed, interval, key=ETH):
    """(getTwapPrice at the newest block, that block's timestamp). The call runs against that block once a later
    one is mined: anvil may give a call on the head a later timestamp (the wall clock) under load."""
    height = chain.height
    chain.mine()
    return feed.getTwapPrice(key, interval, block_identifier=height), chain[height].timestamp


def _exact_twap(rounds, now, interval):
    """v1's index TWAP over every round (no bound), in the feed's decimals: rounds = [(answer, updatedAt)...],
    oldest first, all of one phase starting at the first."""
    base = max(now - interval, 0)
    newer, weighted = now, 0
    for answer, ts in reversed(rounds):
        if ts <= base:
            return (weighted + answer * (newer - base)) // (now - base)
        weighted += answer * (newer - ts)
        newer = ts
    return weighted // (now - newer)  # history runs out: the seconds covered


def _stretched_twap(rounds, now, interval, bound=48):
    """What the old bounded walk served: after `bound` rounds read, the oldest one read counted as in force back
    to the window's start."""
    base = now - interval
    newer, weighted = now, 0
    for read, (answer, ts) in enumerate(reversed(rounds), start=1):
        if ts <= base or read == bound:
            return (weighted + answer * (newer - base)) // interval
        weighted += answer * (newer - ts)
        newer = ts
    raise AssertionError("history shorter than the window")


def test_twap_busy_rising_hour_is_exact(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    """119 rounds in one rising hour (a round every 30 s, +0.05 % each, as a 0.05 %-deviation feed in a rally):
    every round in the window is read. The old bound (48 rounds, the oldest read stretched back to the window's
    start) was more than 1 % off."""
    owner = accounts[0]
    feed, agg = deploy(ChainlinkPriceFeed, MockAggregator, owner, decimals=8, answer=3000 * 10**8)
    t = future(chain)
    # round 1 two hours back, round 2 in force at the window's start, rounds 3..121 inside [t-3600, t]
    answers, stamps = [2990 * 10**8, 3000 * 10**8], [t - 7200, t - 5000]
    for i in range(119):
        answers.append(answers[-1] * 10_005 // 10_000)
        stamps.append(t - 3600 + 30 * i + 7)
    agg.updateRounds(1, answers, stamps, {"from": owner})
    mine_at(chain, t)
    rounds = list(zip(answers, stamps))
    twap, now = twap_at_head(chain, feed, 3600)
    exact = _exact_twap(rounds, now, 3600)
    assert twap == exact * 10**10
    assert abs(exact - _stretched_twap(rounds, now, 3600)) * 10_000 // exact >= 100  # what main served: >= 1 % off

    # every round in the window is read: a bad one anywhere in it is refused, one before it is not
    agg.updateRoundData(3, -1, stamps[2], 3, {"from": owner})
    with reverts_with("NonPositivePrice", -1):
        twap_at_head(chain, feed, 3600)
    agg.updateRoundData(3, answers[2], stamps[2], 3, {"from": owner})
    agg.updateRoundData(1, -1, stamps[0], 1, {"from": owner})
    twap, now = twap_at_head(chain, feed, 3600)
    assert twap == _exact_twap(rounds, now, 3600) * 10**10


def test_twap_round_bound_averages_over_the_rounds_read(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    """Beyond MAX_TWAP_ROUNDS rounds in the window, the TWAP covers the time of the rounds it read (the most recent
    ones), divided by that time: no round is stretched over the part of the window it did not read."""
    owner = accounts[0]
    bound = 1024
    feed, agg = deploy(ChainlinkPriceFeed, MockAggregator, owner, decimals=0, answer=1000)
    assert feed.MAX_TWAP_ROUNDS() == bound
    t = future(chain)
    n = bound + 6  # rounds 1..1030, one every 3 s, priced 1000 + r
    stamps = [t - 3 * (n - r) - 1 for r in range(1, n + 1)]
    answers = [1000 + r for r in range(1, n + 1)]
    for first in range(0, n, 150):
        agg.updateRounds(first + 1, answers[first:first + 150], stamps[first:first + 150], {"from": owner})
    assert agg.latestRound() == n
    mine_at(chain, t)
    rounds = list(zip(answers, stamps))

    # a window of exactly `bound` rounds (the one in force at its start included) is exact
    interval = t - stamps[n - bound]
    height = chain.height
    chain.mine()

    def twap(seconds):
        return feed.getTwapPrice(ETH, seconds, block_identifier=height)

    assert twap(interval) == _exact_twap(rounds, t, interval) * WAD
    # one second more needs round n - bound (the 1025th): the rounds read cover [stamps[n - bound], t]
    covered = _exact_twap(rounds[n - bound:], t, 10**9)
    assert twap(interval + 1) == covered * WAD
    assert twap(3600) == covered * WAD
    assert covered != _exact_twap(rounds, t, 3600)
    # the round beyond the bound is not read (a bad answer there changes nothing), the last one read is
    agg.updateRoundData(n - bound, -1, stamps[n - bound - 1], n - bound, {"from": owner})
    value, now = twap_at_head(chain, feed, 3600)
    assert value == _exact_twap(rounds[n - bound:], now, 10**9) * WAD
    agg.updateRoundData(n - bound + 1, -1, stamps[n - bound], n - bound + 1, {"from": owner})
    with reverts_with("NonPositivePrice", -1):
        twap_at_head(chain, feed, 3600)


def test_twap_rounds_outside_window_are_not_read(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    owner = accounts[0]
    feed, agg = deploy(ChainlinkPriceFeed, MockAggregator, owner, decimals=0, answer=100)
    t = future(chain)
    set_rounds(agg, owner, [(1, 100, t - 900), (2, 200, t - 600), (3, 300, t - 300)])
    agg.updateRoundData(1, -1, t - 900, 1, {"from": owner})  # invalid, but older than the window
    mine_at(chain, t)
    assert feed.getTwapPrice(ETH, 600) == (300 * 300 + 200 * 300) // 600 * WAD  # round 2 at base exactly
    assert feed.getTwapPrice(ETH, 500) == (300 * 300 + 200 * 200) // 500 * WAD
    with reverts_with("NonPositivePrice", -1):
        feed.getTwapPrice(ETH, 601)


def test_twap_unknown_feed_and_zero_interval(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    feed, _ = deploy(ChainlinkPriceFeed, MockAggregator, accounts[0])
    with reverts_with("UnknownFeed"):
        feed.getTwapPrice(BTC, 900)
    with reverts_with("ZeroInterval"):
        feed.getTwapPrice(ETH, 0)


def test_twap_non_positive_rounds(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    owner = accounts[0]
    feed, agg = deploy(ChainlinkPriceFeed, MockAggregator, owner)
    t = future(chain)
    set_rounds(agg, owner, [(1, 400 * 10**8, t - 900), (2, 0, t - 600), (3, 410 * 10**8, t - 300)])
    mine_at(chain, t)
    # an older round inside the window is not skipped
    with reverts_with("NonPositivePrice", 0):
        feed.getTwapPrice(ETH, 900)
    assert feed.getTwapPrice(ETH, 300) == 410 * WAD
    # the latest round, even when the window is shorter than its age
    agg.updateRoundData(4, -7, t, 4, {"from": owner})
    with reverts_with("NonPositivePrice", -7):
        feed.getTwapPrice(ETH, 1)


def test_twap_incomplete_rounds(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    owner = accounts[0]
    feed, agg = deploy(ChainlinkPriceFeed, MockAggregator, owner)
    t = future(chain)
    set_rounds(agg, owner, [(1, 400 * 10**8, t - 900), (3, 410 * 10**8, t - 300)])
    agg.updateRoundData(2, 405 * 10**8, t - 600, 1, {"from": owner})  # answeredInRound < roundId
    mine_at(chain, t)
    with reverts_with("IncompleteRound", 2):
        feed.getTwapPrice(ETH, 900)
    agg.updateRoundData(2, 405 * 10**8, 0, 2, {"from": owner})  # updatedAt == 0
    with reverts_with("IncompleteRound", 2):
        feed.getTwapPrice(ETH, 900)
    agg.updateRoundData(2, 405 * 10**8, t - 600, 2, {"from": owner})
    mine_at(chain, t + 10)  # the view's block at a known second, however long the updates took to mine
    assert feed.getTwapPrice(ETH, 900) == (410 * 310 + 405 * 300 + 400 * 290) * 10**8 // 900 * 10**10
    # the latest round
    agg.updateRoundData(4, 420 * 10**8, t, 3, {"from": owner})
    with reverts_with("IncompleteRound", 4):
        feed.getTwapPrice(ETH, 900)


def test_twap_staleness_applies_to_latest_round_only(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    owner = accounts[0]
    feed, agg = deploy(ChainlinkPriceFeed, MockAggregator, owner, decimals=0, answer=100, staleness=600)
    t = future(chain)
    set_rounds(agg, owner, [(1, 100, t - 10_000), (2, 200, t - 600)])
    mine_at(chain, t)
    # round 1 is far older than maxStaleness, but only the latest round is checked
    assert feed.getTwapPrice(ETH, 3600) == (200 * 600 + 100 * 3000) // 3600 * WAD
    mine_at(chain, t + 1)
    with reverts_with("StalePrice", t - 600, 600):
        feed.getTwapPrice(ETH, 3600)
    with reverts_with("StalePrice", t - 600, 600):
        feed.getTwapPrice(ETH, 1)


# ---------------------------------------------------------------------------------------------------------------
# mock
# ---------------------------------------------------------------------------------------------------------------


def test_mock_aggregator_rounds(MockAggregator, accounts, chain):
    owner = accounts[0]
    agg = MockAggregator.deploy(8, 400 * 10**8, {"from": owner})
    t = chain[-1].timestamp
    assert agg.decimals() == 8
    assert tuple(agg.latestRoundData()) == (1, 400 * 10**8, t, t, 1)
    assert tuple(agg.getRoundData(1)) == (1, 400 * 10**8, t, t, 1)
    with brownie.reverts("No data present"):
        agg.getRoundData(2)
    with brownie.reverts("No data present"):
        agg.getRoundData(0)
    tx = agg.updateAnswer(401 * 10**8, {"from": owner})
    assert tuple(agg.latestRoundData()) == (2, 401 * 10**8, tx.timestamp, tx.timestamp, 2)
    # crafting an older round does not move the latest round
    agg.updateRoundData(1, -1, 5, 0, {"from": owner})
    assert tuple(agg.getRoundData(1)) == (1, -1, 5, 5, 0)
    assert agg.latestRound() == 2


# ---------------------------------------------------------------------------------------------------------------
# gas
# ---------------------------------------------------------------------------------------------------------------


def test_gas(ChainlinkPriceFeed, MockAggregator, accounts, chain):
    owner = accounts[0]
    feed, agg = deploy(ChainlinkPriceFeed, MockAggregator, owner, staleness=3600)
    t = future(chain)
    # 11 rounds, one a minute; the latest 1 minute old
    set_rounds(agg, owner, [(r, (400 + r) * 10**8, t - 60 * (12 - r)) for r in range(1, 12)])
    mine_at(chain, t)
    gas = {
        "getPrice": feed.getPrice.estimate_gas(ETH),
        "getTwapPrice, latest round older than base (1 round read)": feed.getTwapPrice.estimate_gas(ETH, 30),
        "getTwapPrice, 1 round in window (+1 straddling base, 2 read)": feed.getTwapPrice.estimate_gas(ETH, 90),
        "getTwapPrice, 10 rounds in window (+1 straddling base, 11 read)": feed.getTwapPrice.estimate_gas(ETH, 630),
    }
    for name, g in gas.items():
        print(f"gas {name}: {g}")
    assert gas["getPrice"] < 40_000
    assert gas["getTwapPrice, 10 rounds in window (+1 straddling base, 11 read)"] < 110_000
