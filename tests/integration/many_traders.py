"""Many traders with open positions, fast: anvil impersonates made-up addresses, the deposits (depositFor,
from one funder) and then the trades are sent without automine and mined a block at a time."""

from __future__ import annotations

from typing import Any

from web3 import Web3

WAD = 10**18
TRADE_GAS = 400_000


def rpc(w3: Any, method: str, params: list[Any] | None = None) -> Any:
    answer = w3.provider.make_request(method, params or [])
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


def _mine_all(w3: Any) -> None:
    while True:
        status = rpc(w3, "txpool_status")
        if int(status["pending"], 16) == 0 and int(status["queued"], 16) == 0:
            return
        rpc(w3, "evm_mine")


def open_positions(d: Any, funder: Any, count: int, first: int = 0, margin: int = WAD, leverage: int = 2 * WAD) -> list[str]:
    """`count` new traders (addresses 0x…beef<first + i>), each with a position of `margin` at `leverage`,
    alternately long and short (the mark stays where it was). Returns their addresses."""
    from brownie import web3

    traders = [Web3.to_checksum_address(f"0x{0xBEEF00000000 + first + i:040x}") for i in range(count)]
    amount = (margin * 2) * count * 10 ** d.quote_token.decimals() // WAD
    d.quote_token.mint(funder, amount, {"from": funder})
    d.quote_token.approve(d.vault, amount, {"from": funder})
    each = amount // count
    vault = web3.eth.contract(address=d.vault.address, abi=d.vault.abi)
    ch = web3.eth.contract(address=d.clearing_house.address, abi=d.clearing_house.abi)
    rpc(web3, "anvil_autoImpersonateAccount", [True])
    rpc(web3, "evm_setAutomine", [False])
    try:
        nonce = web3.eth.get_transaction_count(funder.address)
        for i, t in enumerate(traders):
            data = vault.encode_abi("depositFor", [t, each])
            rpc(web3, "eth_sendTransaction", [{"from": funder.address, "to": d.vault.address, "data": data,
                                               "gas": hex(TRADE_GAS), "gasPrice": "0x0", "nonce": hex(nonce + i)}])
        _mine_all(web3)
        for i, t in enumerate(traders):
            data = ch.encode_abi("openPosition", [d.amm.address, i % 2, margin, leverage, 0])
            rpc(web3, "eth_sendTransaction", [{"from": t, "to": d.clearing_house.address, "data": data,
                                               "gas": hex(TRADE_GAS), "gasPrice": "0x0"}])
        _mine_all(web3)
    finally:
        rpc(web3, "evm_setAutomine", [True])
        rpc(web3, "anvil_autoImpersonateAccount", [False])
    return traders
