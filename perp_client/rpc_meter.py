"""Count the round trips a Web3 connection makes (and make each one slower, to see what latency costs).

    meter = RpcMeter(delay=0.05)            # 50 ms added to every HTTP round trip
    w3 = meter.web3("http://127.0.0.1:8545")
    ...
    print(meter.round_trips, meter.methods)  # HTTP requests sent, JSON-RPC methods by name

It counts at the HTTP level (a `requests` session hook), so a request web3.py answers from its own cache
(e.g. `eth_chainId`) is not counted, and a JSON-RPC batch is one round trip.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

import requests
from web3 import Web3


class RpcMeter:
    """HTTP round trips and JSON-RPC methods seen by the sessions it made; `delay` seconds added to each."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.round_trips = 0
        self.methods: Counter[str] = Counter()
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.round_trips = 0
            self.methods.clear()

    def session(self) -> requests.Session:
        s = requests.Session()
        s.hooks["response"].append(self._seen)
        return s

    def web3(self, url: str, timeout: float = 30.0) -> Web3:
        return Web3(Web3.HTTPProvider(url, session=self.session(), request_kwargs={"timeout": timeout}))

    def _seen(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        body = response.request.body
        try:
            payload = json.loads(body) if body else {}
        except (TypeError, ValueError):
            payload = {}
        calls = payload if isinstance(payload, list) else [payload]
        with self._lock:
            self.round_trips += 1
            self.methods.update(str(c.get("method", "?")) for c in calls if isinstance(c, dict))
        if self.delay:
            time.sleep(self.delay)
