"""Arbitrum's block numbers (issue #12 item 2): on Arbitrum `block.number` is an estimate of Ethereum's block number,
shared by every L2 block made during one L1 block (about 12 s, some 48 L2 blocks). Whatever means "this block" (the
fluctuation limit's reference, the mark observation that starts a block, restriction mode) reads the L2 block number
instead (ArbSys(100).arbBlockNumber(), contracts/libraries/ChainBlock.sol).

On anvil, one anvil block stands for one L1 block: its transactions share `block.number`, as the L2 blocks of one L1
block do on Arbitrum. A stand-in ArbSys (contracts/test/MockArbSys.sol) placed at address 100 with `anvil_setCode`
holds the L2 block number; a transaction to it between two trades of the anvil block starts a new L2 block, as the
sequencer would. The chain id is Arbitrum One's (`anvil_setChainId` 42161) for the length of a test, then restored,
as is address 100's code. The markets are deployed on the original chain id. While the chain id is 42161 anvil's
unlocked accounts cannot sign (their signer keeps 31337): the test accounts' keys (anvil's default mnemonic) sign
locally instead (`_signer`).

On the old code (`block.number`), every test here but the last fails: a trade in the next L2 block of the same L1 block
was held to the first L2 block's reference price (`FluctuationLimitExceeded`), and restriction mode refused a trader
for the rest of the L1 block (`RestrictionMode`). The last test shows that on any other chain id the stand-in is
ignored: `block.number`, as before.

What anvil cannot show: an L1 block spanning several seconds (an anvil block has one number and one timestamp), where
the old code also weighted each L1 block's last price back to its first trade in the mark TWAP. The observation write
is keyed by the same block number (`Amm._blockNumber`), which the fluctuation tests exercise: every L2 block's first
trade writes the observation that starts it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from brownie import Contract, MockArbSys, accounts, chain, web3
from brownie.network.account import LocalAccount
from eth_account import Account as EthAccount

from perp_ops.deploy import deploy_protocol
from tests.helpers import BUY, SELL, wad
from tests.integration.risk_helpers import at, event, latest_ts, set_index
from tests.security.blocks import call, send_in_one_block

ARB_SYS = "0x0000000000000000000000000000000000000064"  # address(100)
ARBITRUM_ONE = 42161
FLUCTUATION = 12 * 10**15  # 1.2 %
L2_START = 5_000_000  # the stand-in's first L2 block number, far from anvil's own numbers
GAS = 1_000_000  # per transaction: a dozen share an anvil block
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"  # anvil's default accounts

EthAccount.enable_unaudited_hdwallet_features()


def _rpc(method: str, *params: Any) -> Any:
    reply = web3.provider.make_request(method, list(params))
    assert "error" not in reply, reply
    return reply.get("result")


def _deploy_funded(deployer: Any, traders: tuple[Any, ...], config: dict[str, Any] | None = None) -> Any:
    """The protocol deployed by `deployer` (1,000 quote / 100 base, price 10), every trader with 1,000 deposited."""
    d = deploy_protocol(config or {}, deployer)
    for t in traders:
        d.quote_token.mint(t, wad(1_000), {"from": t})
        d.quote_token.approve(d.vault, wad(1_000), {"from": t})
        d.vault.deposit(wad(1_000), {"from": t})
    return d


@pytest.fixture(scope="module")
def limited(stand_in_code, owner, alice, bob) -> Any:
    """A market with a 1.2 % fluctuation limit, deployed on Arbitrum One's chain id (the contracts decide at
    construction which block number they read), alice and bob funded."""
    with arbitrum_one(stand_in_code, owner):
        return _deploy_funded(_signer(owner), (_signer(alice), _signer(bob)),
                              {"fluctuation_limit_ratio": FLUCTUATION})


@pytest.fixture(scope="module")
def limited_elsewhere(owner, alice, bob) -> Any:
    """The same market deployed on anvil's own chain id."""
    return _deploy_funded(owner, (alice, bob), {"fluctuation_limit_ratio": FLUCTUATION})


@pytest.fixture(scope="module")
def stand_in_code(owner) -> str:
    return web3.eth.get_code(MockArbSys.deploy({"from": owner}).address).hex()


def _install(code: str, chain_id: int) -> Any:
    _rpc("anvil_setCode", ARB_SYS, code if code.startswith("0x") else "0x" + code)
    _rpc("anvil_setChainId", chain_id)
    arb_sys = Contract.from_abi("ArbSys", ARB_SYS, MockArbSys.abi)
    return arb_sys


def _signer(account: Any) -> LocalAccount:
    """`account` signing locally with its anvil key (not added to brownie's accounts, which would return the
    unlocked account of the same address)."""
    index = [a.address for a in accounts].index(account.address)
    local = EthAccount.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    assert local.address == account.address
    return LocalAccount(local.address, local, local.key)


@contextmanager
def arbitrum_one(code: str, owner: Any) -> Iterator[Any]:
    """Arbitrum One's chain id and the stand-in ArbSys at address 100 (L2 block `L2_START`) while in the block."""
    original = web3.eth.chain_id
    arb_sys = _install(code, ARBITRUM_ONE)
    web3._chain_id = None  # brownie caches the chain id it signs with
    try:
        assert web3.eth.chain_id == ARBITRUM_ONE
        arb_sys.setBlockNumber(L2_START, {"from": _signer(owner)})
        yield arb_sys
    finally:
        _rpc("anvil_setChainId", original)
        _rpc("anvil_setCode", ARB_SYS, "0x")
        web3._chain_id = None


@pytest.fixture
def arbitrum(stand_in_code, owner) -> Iterator[Any]:
    """`arbitrum_one` for the whole test."""
    with arbitrum_one(stand_in_code, owner) as arb_sys:
        yield arb_sys


@pytest.fixture
def signers(owner, alice, bob, carol, keeper) -> tuple[Any, ...]:
    """owner, alice, bob, carol and keeper signing locally (for sends while the chain id is Arbitrum's)."""
    return tuple(_signer(a) for a in (owner, alice, bob, carol, keeper))


def _step(amm: Any) -> int:
    """A notional that moves the price by about 0.8 %: two fit one block's 1.2 % only if they are in two blocks."""
    quote, _ = amm.getReserve()
    return quote * 4 // 1_000


def _two_steps(d: Any, arb_sys: Any, owner: Any, alice: Any, bob: Any, side: int, l2: int, new_l2_block: bool) -> list:
    """One anvil block (one L1 block number): alice's step in L2 block `l2`, bob's in `l2 + 1` (or `l2` again)."""
    ch, amm = d.clearing_house, d.amm
    margin = _step(amm) // 4
    sends = [
        call(arb_sys.setBlockNumber, l2, sender=owner),
        call(ch.openPosition, amm, side, margin, wad(4), 0, sender=alice),
        call(arb_sys.setBlockNumber, l2 + 1 if new_l2_block else l2, sender=owner),
        call(ch.openPosition, amm, side, margin, wad(4), 0, sender=bob),
    ]
    return send_in_one_block(sends, GAS)


def test_the_fluctuation_limit_applies_per_l2_block(limited, arbitrum, signers):
    """Two 0.8 % steps in two L2 blocks of one L1 block both pass (each within 1.2 % of its own L2 block's start
    price); the same two steps in one L2 block: the second is refused. The old code refused both second steps."""
    owner, alice, bob, *_ = signers
    d = limited
    chain.sleep(1)
    start = d.amm.getSpotPrice()
    txs = _two_steps(d, arbitrum, owner, alice, bob, BUY, L2_START + 1, new_l2_block=True)
    assert [tx.status for tx in txs] == [1, 1, 1, 1], [tx.revert_msg for tx in txs]
    moved = d.amm.getSpotPrice()
    assert moved > start * (10**18 + FLUCTUATION) // 10**18  # the L1 block moved more than one L2 block may
    # within one L2 block the limit holds
    chain.sleep(1)
    txs = _two_steps(d, arbitrum, owner, alice, bob, SELL, L2_START + 3, new_l2_block=False)
    assert [tx.status for tx in txs] == [1, 1, 1, 0]
    assert txs[3].revert_msg.split(":")[0] == "FluctuationLimitExceeded"


def test_a_frozen_l2_block_does_not_freeze_the_l1_block(limited, arbitrum, signers):
    """A close may cross the limit (v1: `canOverFluctuationLimit`); the rest of its block is then frozen. On
    Arbitrum that is the rest of the L2 block, not of the L1 block: in the next L2 block trading resumes (the old
    code froze the whole L1 block, 11 s measured on Arbitrum One)."""
    owner, alice, bob, *_ = signers
    d = limited
    ch, amm = d.clearing_house, d.amm
    for i in range(3):  # alice's long of about 2.4 %, built one step per (L2) block
        chain.sleep(1)
        arbitrum.setBlockNumber(L2_START + 1 + i, {"from": owner})
        ch.openPosition(amm, BUY, _step(amm) // 4, wad(4), 0, {"from": alice})
    chain.sleep(1)
    margin = _step(amm) // 8
    txs = send_in_one_block(
        [
            call(arbitrum.setBlockNumber, L2_START + 10, sender=owner),
            call(ch.closePosition, amm, 0, sender=alice),  # crosses the limit: allowed for a whole close
            call(ch.openPosition, amm, SELL, margin, wad(4), 0, sender=bob),  # 0.4 %, same L2 block: frozen
            call(arbitrum.setBlockNumber, L2_START + 11, sender=owner),
            call(ch.openPosition, amm, SELL, margin, wad(4), 0, sender=bob),  # the next L2 block: trades again
        ],
        GAS,
    )
    assert [tx.status for tx in txs] == [1, 1, 0, 1, 1], [tx.revert_msg for tx in txs]
    assert txs[2].revert_msg.split(":")[0] == "FluctuationLimitExceeded"
    assert ch.getPosition(amm, alice)[0] == 0 and ch.getPosition(amm, bob)[0] < 0


def test_restriction_mode_lasts_one_l2_block(stand_in_code, owner, alice, bob, carol, keeper):
    """A liquidation restricts, for the rest of its L2 block, whoever acted in it; in the next L2 block of the same
    L1 block they trade again. The old code restricted them for the whole L1 block."""
    with arbitrum_one(stand_in_code, owner) as arbitrum:
        owner, alice, carol, dave = (_signer(a) for a in (owner, alice, carol, keeper))
        d = _deploy_funded(owner, (alice, carol, dave))
        ch, amm = d.clearing_house, d.amm
        d.quote_token.mint(owner, wad(100), {"from": owner})
        d.quote_token.approve(d.insurance_fund, wad(100), {"from": owner})
        d.insurance_fund.deposit(wad(100), {"from": owner})
        for who, side, margin, leverage in ((alice, BUY, 10, 2), (dave, BUY, 25, 10), (carol, SELL, 5, 10)):
            arbitrum.setBlockNumber(L2_START + 1 + web3.eth.block_number, {"from": owner})
            ch.openPosition(amm, side, wad(margin), wad(leverage), 0, {"from": who})
        chain.sleep(900)
        set_index(d.aggregators["ETH"], amm.getSpotPrice(), owner)
        assert ch.getMarginRatio(amm, dave) < ch.maintenanceMarginRatio()

        l2 = L2_START + 20
        txs = send_in_one_block(
            [
                call(arbitrum.setBlockNumber, l2, sender=owner),  # 0
                call(ch.openPosition, amm, BUY, wad(1), wad(2), 0, sender=alice),  # 1 before the liquidation
                call(ch.liquidate, amm, dave, sender=carol),  # 2 restriction mode in L2 block l2
                call(ch.openPosition, amm, BUY, wad(1), wad(2), 0, sender=alice),  # 3 refused: acted in l2
                call(arbitrum.setBlockNumber, l2 + 1, sender=owner),  # 4 the next L2 block, same L1 block
                call(ch.openPosition, amm, BUY, wad(1), wad(2), 0, sender=alice),  # 5 allowed again
                call(ch.openPosition, amm, BUY, wad(1), wad(2), 0, sender=dave),  # 6 the liquidated trader too
            ],
            GAS,
        )
        assert [tx.status for tx in txs] == [1, 1, 1, 0, 1, 1, 1], [tx.revert_msg for tx in txs]
        assert txs[3].revert_msg.split(":")[0] == "RestrictionMode"
        assert event(txs[2], "RestrictionModeEntered") == {"amm": amm.address, "blockNumber": l2}
        assert ch.getMarket(amm)[2] == l2


def test_mark_twap_and_limit_over_an_arbitrum_like_run(limited, arbitrum, signers):
    """Eight L1 blocks one second apart, each of two L2 blocks with a 0.8 % step in each (up, then down, in
    turn): every step passes (each L2 block's own reference), and the mark TWAP over the run is the exact
    time-weighted average of each second's closing price (L2 blocks that share a second share its observation)."""
    owner, alice, bob, *_ = signers
    d = limited
    amm = d.amm
    path: list[tuple[int, int]] = []  # (timestamp, the price in force from then on)
    t0 = latest_ts() + 1
    for i in range(8):
        at(t0 + i)
        side = BUY if i % 2 == 0 else SELL
        txs = _two_steps(d, arbitrum, owner, alice, bob, side, L2_START + 100 + 2 * i, new_l2_block=True)
        assert [tx.status for tx in txs] == [1, 1, 1, 1], (i, [tx.revert_msg for tx in txs])
        assert txs[0].timestamp == t0 + i
        path.append((t0 + i, amm.getSpotPrice()))
    at(t0 + 8)
    chain.mine()
    now = latest_ts()
    assert now == t0 + 8
    interval = 8
    expected = sum(price * (next_ts - ts) for (ts, price), (next_ts, _) in zip(path, [*path[1:], (now, 0)])) // interval
    assert amm.getTwapPrice(interval) == expected


def test_other_chains_ignore_address_100(limited_elsewhere, stand_in_code, owner, alice, bob):
    """On any other chain id the contracts read `block.number`: a stand-in at address 100 changes nothing (two
    steps in one anvil block: the second is refused, whatever the stand-in says)."""
    original = web3.eth.chain_id
    assert original != ARBITRUM_ONE
    arb_sys = _install(stand_in_code, original)
    try:
        chain.sleep(1)
        txs = _two_steps(limited_elsewhere, arb_sys, owner, alice, bob, BUY, L2_START + 1, new_l2_block=True)
        assert [tx.status for tx in txs] == [1, 1, 1, 0]
        assert txs[3].revert_msg.split(":")[0] == "FluctuationLimitExceeded"
    finally:
        _rpc("anvil_setCode", ARB_SYS, "0x")
