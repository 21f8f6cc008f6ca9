"""The dashboard's web server (Starlette): the page, its JSON API, and the development wallet's RPC relay.

    GET  /                      the page (built by `make setup` from dashboard/ into perp_dashboard/static/)
    GET  /api/config            chain, deployment, token, margin ratios, whether the development wallet is offered
    GET  /api/markets           every market (+ mark/index samples for the charts)
    GET  /api/chart/{symbol}    mark and index over time
    GET  /api/account/{address} balances, positions, history
    GET  /api/operator          fund, collateral booked vs owed, oracles, sequencer, governance
    POST /api/quote             the trade form's live preview and the protocol's refusal, if any
    POST /api/prepare           the transactions for an action (deposit, withdraw, open, close, margin, settle, mint)
    POST /dev-rpc               JSON-RPC relay to the node's unlocked accounts (anvil only, when enabled)

Every API answer is JSON; an error is `{"error": "<one line>"}` with status 400 (bad input or a refusal:
nothing was sent) or 503 (the node cannot be reached).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from web3 import Web3
from web3.exceptions import Web3Exception

from perp_client import PerpClient, PerpError
from perp_client.deployment import deployment_path, load_addresses
from perp_dashboard import views
from perp_dashboard.actions import Preparer
from perp_dashboard.events import EventLog

STATIC = Path(__file__).resolve().parent / "static"
SAMPLES = 600
CACHE_ENTRIES = 256
# what the development wallet may ask the node: reads, and sending from its unlocked accounts
DEV_METHODS = {
    "eth_accounts", "eth_requestAccounts", "eth_chainId", "net_version", "eth_blockNumber", "eth_call", "eth_estimateGas",
    "eth_gasPrice", "eth_maxPriorityFeePerGas", "eth_feeHistory", "eth_getBalance", "eth_getBlockByNumber",
    "eth_getTransactionCount", "eth_getTransactionReceipt", "eth_getTransactionByHash", "eth_sendTransaction",
    "eth_getCode",
}


class RpcDown(Exception):
    """The node does not answer."""


@dataclass
class State:
    """The connection, made lazily (the page can say "RPC down" and retry), and what the server remembers."""

    rpc_url: str
    deployment: Path | None = None
    dev_wallet: bool = False
    _client: PerpClient | None = None
    _events: EventLog | None = None
    _dev_ok: bool | None = None
    samples: dict[str, list[tuple[int, float, float | None]]] = field(default_factory=dict)
    cache: dict[tuple[str, bytes], dict[str, Any]] = field(default_factory=dict)
    cache_hits: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self) -> PerpClient:
        with self._lock:
            if self._client is None:
                w3 = Web3(Web3.HTTPProvider(self.rpc_url, request_kwargs={"timeout": 10}))
                if not w3.is_connected():
                    raise RpcDown(f"RPC down: no Ethereum node answers at {self.rpc_url}")
                path = self.deployment or deployment_path(w3.eth.chain_id)
                self._client = PerpClient(w3, load_addresses(path))
                self._events = EventLog(self._client)
            return self._client

    def events(self) -> list[views.Event]:
        self.client()
        assert self._events is not None
        return self._events.refresh()

    def dev_wallet_offered(self) -> bool:
        """Only when asked for, and only when the node is anvil (its accounts are unlocked test keys)."""
        if not self.dev_wallet:
            return False
        if self._dev_ok is None:
            version = str(self.client().w3.client_version)
            self._dev_ok = version.lower().startswith("anvil")
        return self._dev_ok

    def paused(self) -> bool:
        return bool(self.client().clearing_house.functions.paused().call())

    def sample(self, market: dict[str, Any]) -> None:
        """Remember (time, mark, index) once per block for the chart."""
        series = self.samples.setdefault(market["symbol"], [])
        if series and series[-1][0] >= market["timestamp"]:
            return
        index = market["index_wad"]
        series.append((market["timestamp"], int(market["mark_wad"]) / 1e18, None if index is None else int(index) / 1e18))
        del series[:-SAMPLES]


def api(handler: Any, per_block: bool = False) -> Any:
    """Runs `handler(state, request)` in a worker thread; PerpError → 400, an unreachable node → 503.

    `per_block`: the answer depends only on the chain's state, so it is computed once per block (keyed by
    the latest block's hash) however many pages poll: one `eth_getBlockByNumber` while nothing happens."""

    def endpoint(request: Request) -> Response:
        state: State = request.app.state.dashboard
        try:
            if not per_block:
                return JSONResponse(handler(state, request))
            head = bytes(state.client().w3.eth.get_block("latest")["hash"])
            key = (request.url.path, head)
            with state._lock:
                cached = state.cache.get(key)
            if cached is None:
                cached = handler(state, request)
                with state._lock:
                    state.cache[key] = cached
                    while len(state.cache) > CACHE_ENTRIES:
                        del state.cache[next(iter(state.cache))]
            else:
                state.cache_hits += 1
            return JSONResponse(cached)
        except RpcDown as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)
        except PerpError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError):
            state._client = None
            return JSONResponse({"error": f"RPC down: the node at {state.rpc_url} stopped answering"}, status_code=503)
        except Web3Exception as exc:
            return JSONResponse({"error": f"node error: {exc}"}, status_code=502)

    return endpoint


def _body(request: Request) -> dict[str, Any]:
    import anyio.from_thread

    data = anyio.from_thread.run(request.json)
    if not isinstance(data, dict):
        raise PerpError("the request body must be a JSON object")
    return data


def config(state: State, _: Request) -> dict[str, Any]:
    client = state.client()
    imr, mmr = client.margin_ratios()
    return {
        "chain_id": client.addresses.chain_id,
        "markets": client.symbols,
        "contracts": {"clearing_house": client.addresses.clearing_house, "vault": client.addresses.vault,
                      "quote_token": client.addresses.quote_token, "insurance_fund": client.addresses.insurance_fund},
        "token_decimals": client.token_decimals,
        "max_leverage": int(10**36 // imr) / 1e18,
        "init_margin_ratio": imr / 1e18,
        "maintenance_margin_ratio": mmr / 1e18,
        "dev_wallet": state.dev_wallet_offered(),
    }


def markets(state: State, _: Request) -> dict[str, Any]:
    client = state.client()
    events = state.events()
    paused = state.paused()
    out = [views.market_view(client, events, s, paused) for s in client.symbols]
    for m in out:
        state.sample(m)
    return {"paused": paused, "markets": out}


def chart(state: State, request: Request) -> dict[str, Any]:
    client = state.client()
    symbol = request.path_params["symbol"].upper()
    client.amm(symbol)
    return {"symbol": symbol, "points": views.chart_points(client, state.events(), symbol, state.samples.get(symbol, []))}


def account(state: State, request: Request) -> dict[str, Any]:
    client = state.client()
    address = request.path_params["address"]
    if not Web3.is_address(address):
        raise PerpError(f"not an address: {address!r}")
    return views.account_view(client, state.events(), Web3.to_checksum_address(address), state.paused())


def operator(state: State, _: Request) -> dict[str, Any]:
    return views.operator_view(state.client(), state.events(), state.paused())


def quote(state: State, request: Request) -> dict[str, Any]:
    """The preview, and the refusal the protocol would give (None when the trade would go through)."""
    body = _body(request)
    p = Preparer(state.client(), str(body.get("trader", "")))
    args = (str(body.get("symbol", "")), str(body.get("side", "")), body.get("margin"), body.get("leverage"))
    preview = p.quote(*args)
    try:
        p.open(*args, body.get("slippage", "0.01"))
    except PerpError as exc:
        return {"preview": _text(preview), "refusal": str(exc)}
    return {"preview": _text(preview), "refusal": None}


def _text(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k.endswith("_text") or k in ("side", "symbol")}


def prepare(state: State, request: Request) -> dict[str, Any]:
    body = _body(request)
    p = Preparer(state.client(), str(body.get("trader", "")))
    action = body.get("action")
    symbol = str(body.get("symbol", ""))
    if action == "deposit":
        return p.deposit(body.get("amount")).json()
    if action == "withdraw":
        return p.withdraw(body.get("amount")).json()
    if action == "mint":
        if not state.dev_wallet_offered():
            raise PerpError("minting test tokens is only offered on a local development chain")
        return p.mint(body.get("amount")).json()
    if action == "open":
        return p.open(symbol, str(body.get("side", "")), body.get("margin"), body.get("leverage"), body.get("slippage", "0.01")).json()
    if action == "close":
        return p.close(symbol, body.get("part", "1"), body.get("slippage", "0.01")).json()
    if action == "add_margin":
        return p.add_margin(symbol, body.get("amount")).json()
    if action == "remove_margin":
        return p.remove_margin(symbol, body.get("amount")).json()
    if action == "settle":
        return p.settle(symbol).json()
    raise PerpError(f"unknown action {action!r}")


async def dev_rpc(request: Request) -> Response:
    """Forward one JSON-RPC request to anvil for the development wallet; refused unless it is offered."""
    state: State = request.app.state.dashboard
    import anyio.to_thread

    # only this page may use the relay: a JSON content type forces a CORS preflight on any other site's
    # request (which this server never answers), and a browser always names the page's origin
    origin = request.headers.get("origin")
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json" or (
        origin is not None and origin.split("://")[-1] != request.headers.get("host")
    ):
        return JSONResponse({"jsonrpc": "2.0", "id": None, "error": {"code": 4100, "message": "the development wallet answers only its own page"}}, status_code=403)
    try:
        offered = await anyio.to_thread.run_sync(state.dev_wallet_offered)
    except (RpcDown, requests.RequestException, PerpError) as exc:
        return JSONResponse({"jsonrpc": "2.0", "id": None, "error": {"code": -32603, "message": str(exc)}}, status_code=503)
    body = await request.json()
    if not offered:
        return JSONResponse({"jsonrpc": "2.0", "id": body.get("id"), "error": {"code": 4100, "message": "the development wallet is only offered on a local anvil chain"}}, status_code=403)
    method = body.get("method")
    if method not in DEV_METHODS:
        return JSONResponse({"jsonrpc": "2.0", "id": body.get("id"), "error": {"code": 4200, "message": f"the development wallet does not support {method}"}})
    if method == "eth_requestAccounts":
        body = {**body, "method": "eth_accounts"}

    def forward() -> Any:
        return requests.post(state.rpc_url, json=body, timeout=30).json()

    try:
        answer = await anyio.to_thread.run_sync(forward)
    except requests.RequestException as exc:
        return JSONResponse({"jsonrpc": "2.0", "id": body.get("id"), "error": {"code": -32603, "message": f"RPC down: {exc}"}}, status_code=503)
    return JSONResponse(answer)


async def index(_: Request) -> Response:
    page = STATIC / "index.html"
    if not page.is_file():
        return Response("the page is not built: run `make setup` (it bundles dashboard/ with esbuild)", status_code=500)
    return FileResponse(page)


def create_app(rpc_url: str, deployment: Path | None = None, dev_wallet: bool = False) -> Starlette:
    routes = [
        Route("/", index),
        Route("/api/config", api(config)),
        Route("/api/markets", api(markets, per_block=True)),
        Route("/api/chart/{symbol}", api(chart, per_block=True)),
        Route("/api/account/{address}", api(account, per_block=True)),
        Route("/api/operator", api(operator, per_block=True)),
        Route("/api/quote", api(quote), methods=["POST"]),
        Route("/api/prepare", api(prepare), methods=["POST"]),
        Route("/dev-rpc", dev_rpc, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.dashboard = State(rpc_url, deployment, dev_wallet)
    app.state.started = time.time()
    return app
