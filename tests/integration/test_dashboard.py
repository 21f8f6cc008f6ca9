"""The dashboard in a real browser (headless Chromium): a trader's round trip through the page, checked
against perp_client (the command line's numbers), and every state that can go wrong.

Screenshots of the trader and operator views go to $DASHBOARD_SCREENSHOTS (the README's come from
`make dashboard-screenshots`, which sets it to reports/), else to the test's temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from brownie import web3

from perp_client.units import fmt_pct, fmt_wad
from perp_dashboard import BackgroundServer
from perp_ops.console import client_for
from perp_ops.deploy import DEMO_CONFIG, deploy_protocol
from tests.helpers import BUY
from tests.integration.browser import Page, chromium, free_port, write_deployment

WAD = 10**18


@pytest.fixture(scope="module")
def demo(owner):
    return deploy_protocol(DEMO_CONFIG, deployer=owner)


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("DASHBOARD_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def tokens(d, x: int) -> int:
    return x * 10 ** d.quote_token.decimals()


def test_trader_round_trip_and_operator_view(demo, owner, alice, tmp_path, shots):
    deployment = write_deployment(tmp_path / "deployment.json", web3.eth.chain_id, demo)
    client = client_for(demo)
    # a BTC position opened outside the page, for the halted-market part below
    btc = demo.amms["BTC"]
    demo.quote_token.mint(alice, tokens(demo, 500), {"from": alice})
    demo.quote_token.approve(demo.vault, tokens(demo, 500), {"from": alice})
    demo.vault.deposit(tokens(demo, 500), {"from": alice})
    demo.clearing_house.openPosition(btc, BUY, 200 * WAD, 2 * WAD, 0, {"from": alice})

    with BackgroundServer(web3.provider.endpoint_uri, free_port(), deployment, dev_wallet=True) as url, chromium() as driver:
        page = Page(driver)
        driver.get(url)
        page.wait_text("#market-tabs", "ETH")
        page.wait("the market stats", lambda: "3,000.0000" in page.text("#market-stats"))

        # no wallet: the browser has none, the page says so and offers the development wallet
        page.click("#connect-browser")
        page.wait_text("#message", "No browser wallet found")
        assert not page.enabled("#open-btn")
        page.click("#connect-dev")
        page.wait_text("#wallet-address", alice.address[:6])
        assert page.find("#account-select").get_attribute("value").lower() == alice.address.lower()

        # test tokens, then a deposit (approve + deposit through the wallet)
        wallet_before = demo.quote_token.balanceOf(alice)
        page.act("#mint-btn", "Minted")
        page.type("#deposit-amount", "1000")
        page.act("#deposit-btn", "Deposited 1000")
        page.wait_text("#vault-balance", fmt_wad(client.vault_balance(alice.address), 2))
        assert demo.quote_token.balanceOf(alice) == wallet_before + tokens(demo, 10_000) - tokens(demo, 1000)

        # bad input: a clear line, the button stays disabled, nothing is sent
        nonce = web3.eth.get_transaction_count(alice.address)
        page.type("#margin", "abc")
        page.wait_text("#refusal", "Margin: enter a positive number")
        assert not page.enabled("#open-btn")
        page.type("#margin", "100")
        page.set_range("#leverage", "12")
        page.wait_text("#refusal", "leverage 12 is too high: the maximum is 10.00x")
        assert not page.enabled("#open-btn")
        page.type("#margin", "5000")
        page.set_range("#leverage", "5")
        page.wait_text("#refusal", "insufficient vault balance")
        assert web3.eth.get_transaction_count(alice.address) == nonce

        # a long through the form: the preview is perp_client's quote, the position matches perp_client's account view
        page.type("#margin", "100")
        page.wait("the preview", lambda: page.find("#refusal").get_attribute("hidden") is not None and "Liquidation price" in page.text("#preview"))
        quote = client.quote_open("ETH", "long", 100, 5, alice.address)
        assert fmt_wad(quote.liquidation_price) in page.text("#preview")
        page.act("#open-btn", "Opened long ETH")
        page.wait("the ETH position", lambda: page.all("#pos-ETH"))
        position = client.position("ETH", alice.address)
        assert position.size == quote.size_after
        page.wait_text("#pos-ETH .liq", fmt_wad(position.liquidation_price))
        assert page.text("#pos-ETH .size") == fmt_wad(position.size, 6)
        assert page.text("#pos-ETH .ratio-text") == fmt_pct(position.margin_ratio)

        # the index moves 20 % up: spot is now more than 10 % from the oracle and the ratio follows the oracle
        aggregator = demo.aggregators["ETH"]
        aggregator.updateAnswer(3_600 * 10 ** aggregator.decimals(), {"from": owner})
        moved = client.position("ETH", alice.address)
        assert moved.margin_ratio > position.margin_ratio
        page.wait_text("#pos-ETH .ratio-text", fmt_pct(moved.margin_ratio))
        page.wait_text("#market-stats", "3,600.0000")
        driver.save_screenshot(str(shots / "dashboard-trader.png"))
        page.click("#tab-operator")
        page.wait("the operator view", lambda: "OPEN" in page.text("#op-ETH") and "Vault covered yes" in page.text("#op-fund"))
        driver.save_screenshot(str(shots / "dashboard-operator.png"))
        page.click("#tab-trade")
        page.wait("the ETH position again", lambda: page.all("#pos-ETH button.close"))

        # close it all: the row goes, the history has the close
        page.act("#pos-ETH button.close", "Closed 100 % of ETH")
        page.wait("the ETH position to go", lambda: not page.all("#pos-ETH"))
        assert client.holding("ETH", alice.address).size == 0
        page.wait_text("#history tbody tr.close", "ETH")
        assert page.text("#history tbody tr.open")

        # a halted market: only settling is offered
        btc.shutdown({"from": owner})
        page.wait("BTC halted", lambda: "halted" in page.text("#market-tabs").lower())
        page.click(".market-tab[data-symbol='BTC']")
        page.wait_text("#trade-closed", "halted")
        assert not page.enabled("#open-btn")
        page.wait("the settle button", lambda: page.all("#pos-BTC button.settle"))
        assert not page.all("#pos-BTC button.close")
        page.act("#pos-BTC button.settle", "Settled BTC")
        page.wait_text("#history tbody tr.settle", "BTC")

        # the operator view
        page.click("#tab-operator")
        page.wait("the operator markets", lambda: "halted" in page.text("#op-markets").lower())
        assert "Vault covered yes" in page.text("#op-fund")
        assert "BTC" in page.text("#op-safety")

        # a wallet on the wrong chain: the page says so and sends nothing
        driver.get(url)
        page.wait_text("#market-tabs", "ETH")
        driver.execute_script(  # a browser wallet on chain 1 that can switch
            "const addr = arguments[0]; let chain = '0x1';"
            "window.ethereum = {on() {}, request: async ({method, params}) => method === 'eth_chainId' ? chain"
            " : method === 'wallet_switchEthereumChain' ? (chain = params[0].chainId, null) : [addr]};", alice.address)
        page.click("#connect-browser")
        page.wait_text("#banner", "Wrong network: your wallet is on chain 1")
        assert not page.enabled("#open-btn")
        assert not page.enabled("#deposit-btn")
        page.click("#switch-chain")
        page.wait("the banner to go", lambda: not page.text("#banner"))
        page.wait("deposit to be possible", lambda: page.enabled("#deposit-btn"))


def test_rpc_down_is_said_in_the_page(tmp_path):
    deployment = tmp_path / "deployment.json"
    dead = f"http://127.0.0.1:{free_port()}"
    with BackgroundServer(dead, free_port(), deployment) as url, chromium() as driver:
        page = Page(driver)
        driver.get(url)
        page.wait_text("#banner", f"RPC down: no Ethereum node answers at {dead}")
        assert not page.enabled("#open-btn")
