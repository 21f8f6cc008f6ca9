"""The deploy configuration's sequencer and staleness rules (scripts/deploy_config.py; no chain needed)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from perp_ops.deploy_config import (
    CONFIG_DIR,
    KNOWN_UPTIME_FEEDS,
    DeployConfigError,
    parse,
)

LOCAL = yaml.safe_load((CONFIG_DIR / "local-live.yaml").read_text())
FEED = "0x" + "11" * 20
ARBITRUM_ONE = 42161


def config(chain_id: int, sequencer: Any = None, staleness: int = 90_000) -> dict[str, Any]:
    raw = copy.deepcopy(LOCAL)
    raw["network"]["chain_id"] = chain_id
    raw["quote_token"] = FEED
    raw["timelock"]["delay"] = 86_400
    for m in raw["markets"].values():
        m["feed"] = FEED
        m.pop("index_price", None)
        m["heartbeat"] = 86_400
        m["max_staleness"] = staleness
    if sequencer is None:
        raw.pop("sequencer", None)
    else:
        raw["sequencer"] = sequencer
    return raw


def test_a_local_configuration_may_ask_for_a_mock_uptime_feed():
    assert parse(LOCAL).sequencer_grace_period == 0  # the shipped one: no sequencer
    raw = copy.deepcopy(LOCAL)
    raw["sequencer"] = {"uptime_feed": None, "grace_period": 3_600}
    conf = parse(raw)
    assert conf.sequencer_feed is None and conf.sequencer_grace_period == 3_600


@pytest.mark.parametrize("sequencer, cause", [
    (None, "chain 42161 is a rollup: sequencer.uptime_feed"),
    ({"uptime_feed": None, "grace_period": 3_600}, "chain 42161 is a rollup"),
    ({"uptime_feed": KNOWN_UPTIME_FEEDS[ARBITRUM_ONE], "grace_period": 0}, "grace_period is 0 with an uptime feed"),
    ({"uptime_feed": FEED, "grace_period": 3_600}, f"Chainlink's uptime feed on chain 42161 is {KNOWN_UPTIME_FEEDS[ARBITRUM_ONE]}"),
    ({"uptime_feed": KNOWN_UPTIME_FEEDS[ARBITRUM_ONE], "grace_period": 86_401}, "at most 86400 s"),
])
def test_a_rollup_needs_chainlinks_uptime_feed_and_a_grace_period(sequencer, cause):
    with pytest.raises(DeployConfigError, match=cause):
        parse(config(ARBITRUM_ONE, sequencer))


def test_a_rollup_with_its_uptime_feed_parses():
    conf = parse(config(ARBITRUM_ONE, {"uptime_feed": KNOWN_UPTIME_FEEDS[ARBITRUM_ONE], "grace_period": 3_600}))
    assert conf.sequencer_feed == KNOWN_UPTIME_FEEDS[ARBITRUM_ONE] and conf.sequencer_grace_period == 3_600
    # a testnet rollup: Chainlink lists no address to compare with, any feed is taken
    assert parse(config(421614, {"uptime_feed": FEED, "grace_period": 600})).sequencer_feed == FEED


def test_the_shipped_testnet_rollup_configurations_wait_for_their_uptime_feed():
    for name in ("arbitrum-sepolia", "optimism-sepolia", "base-sepolia"):
        raw = yaml.safe_load((CONFIG_DIR / f"{name}.yaml").read_text())
        with pytest.raises(DeployConfigError, match="is a rollup: sequencer.uptime_feed"):
            parse(raw)
    assert parse(yaml.safe_load((CONFIG_DIR / "sepolia.yaml").read_text())).sequencer_feed is None  # an L1


def test_a_live_market_needs_a_staleness_limit():
    with pytest.raises(DeployConfigError, match=r"markets.ETH.max_staleness is 0 \(unchecked\) on chain 1"):
        parse(config(1, staleness=0))
    with pytest.raises(DeployConfigError, match="no uptime_feed is named"):
        parse(config(1, {"uptime_feed": None, "grace_period": 60}))
