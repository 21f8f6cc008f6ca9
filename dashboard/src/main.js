// The dashboard page: polls the server's JSON API, draws the market, and signs through an EIP-1193 wallet.
// The server validates, quotes (perp_client's quote code) and simulates every action; the page only asks
// the wallet to send the transactions it prepared. Bundled by esbuild (dashboard/build.mjs); no CDN.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { createPublicClient, createWalletClient, custom, defineChain } from "viem";
import "./style.css";

const POLL_MS = 2000;
const ZERO = "0x0000000000000000000000000000000000000000";
const $ = (sel) => document.querySelector(sel);
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

const state = {
  config: null, markets: [], symbol: null, side: "long", view: "trade",
  provider: null, walletKind: null, address: null, walletChain: null, busy: false,
  chart: null, rpcDown: null,
};

class ApiError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

async function api(path, body) {
  let res;
  try {
    res = await fetch(path, body ? { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) } : {});
  } catch (e) {
    throw new ApiError(`the dashboard server does not answer (${e.message})`, 0);
  }
  const data = await res.json().catch(() => ({ error: `server error ${res.status}` }));
  if (!res.ok) throw new ApiError(data.error || `server error ${res.status}`, res.status);
  return data;
}

// ---------------------------------------------------------------------------------------------- messages

function message(kind, text) {
  const el = $("#message");
  el.hidden = !text;
  el.className = `message ${kind}`;
  el.textContent = text || "";
}

function banner() {
  // the one state that stops everything, most basic first
  const el = $("#banner");
  let text = null;
  if (state.rpcDown) text = `${state.rpcDown} — retrying every ${POLL_MS / 1000} s.`;
  else if (state.address && state.config && state.walletChain !== state.config.chain_id)
    text = `Wrong network: your wallet is on chain ${state.walletChain}, this deployment is on chain ${state.config.chain_id}. Switch networks in your wallet.`;
  el.hidden = !text;
  el.textContent = text || "";
  el.dataset.kind = state.rpcDown ? "rpc-down" : text ? "wrong-chain" : "";
  if (el.dataset.kind === "wrong-chain" && state.walletKind === "browser") {
    const b = document.createElement("button");
    b.id = "switch-chain";
    b.textContent = `Switch to chain ${state.config.chain_id}`;
    b.addEventListener("click", switchChain);
    el.append(" ", b);
  }
  updateButtons();
}

function canSend() {
  return !!(state.address && state.config && state.walletChain === state.config.chain_id && !state.rpcDown && !state.busy);
}

// ---------------------------------------------------------------------------------------------- wallet

function devProvider() {
  // forwards to the server's /dev-rpc relay: anvil's unlocked accounts (the server refuses on any other node)
  let id = 0;
  return {
    isDevelopmentWallet: true,
    async request({ method, params }) {
      const res = await fetch("/dev-rpc", {
        method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params: params || [] }),
      });
      const data = await res.json();
      if (data.error) { const e = new Error(data.error.message); e.code = data.error.code; throw e; }
      return data.result;
    },
    on() {}, removeListener() {},
  };
}

async function connect(kind) {
  const provider = kind === "dev" ? devProvider() : window.ethereum;
  if (!provider) {
    message("error", "No browser wallet found: install an Ethereum wallet extension (any EIP-1193 wallet), or run the local demo with its development wallet.");
    return;
  }
  try {
    const accounts = await provider.request({ method: "eth_requestAccounts" });
    if (!accounts || !accounts.length) throw new Error("the wallet gave no account");
    state.provider = provider;
    state.walletKind = kind;
    state.walletChain = parseInt(await provider.request({ method: "eth_chainId" }), 16);
    const select = $("#account-select");
    if (kind === "dev") {
      select.innerHTML = accounts.map((a, i) => `<option value="${esc(a)}">#${i} ${esc(a)}</option>`).join("");
      select.value = accounts[Math.min(1, accounts.length - 1)];
      select.hidden = false;
      state.address = select.value;
    } else {
      select.hidden = true;
      state.address = accounts[0];
      provider.on?.("accountsChanged", (a) => { state.address = a[0] || null; refresh(); });
      provider.on?.("chainChanged", (c) => { state.walletChain = parseInt(c, 16); banner(); refresh(); });
    }
    $("#wallet-address").textContent = `${kind === "dev" ? "development wallet" : "wallet"} ${short(state.address)}`;
    $("#mint-row").hidden = !(kind === "dev" && state.config?.dev_wallet);
    message("ok", `Connected ${state.address}.`);
    banner();
    await refresh();
  } catch (e) {
    message("error", `The wallet refused to connect: ${e.message}`);
  }
}

async function switchChain() {
  try {
    await state.provider.request({ method: "wallet_switchEthereumChain", params: [{ chainId: `0x${state.config.chain_id.toString(16)}` }] });
    state.walletChain = parseInt(await state.provider.request({ method: "eth_chainId" }), 16);
    banner();
  } catch (e) {
    message("error", `The wallet did not switch networks: ${e.message}`);
  }
}

const short = (a) => (a ? `${a.slice(0, 6)}…${a.slice(-4)}` : "");

function viemChain() {
  return defineChain({
    id: state.config.chain_id, name: `chain ${state.config.chain_id}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [] } },
  });
}

async function sendSteps(steps) {
  const chain = viemChain();
  const transport = custom(state.provider);
  const wallet = createWalletClient({ chain, transport });
  const reader = createPublicClient({ chain, transport, pollingInterval: 250 });
  for (const step of steps) {
    const current = parseInt(await state.provider.request({ method: "eth_chainId" }), 16);
    if (current !== state.config.chain_id) {
      state.walletChain = current; banner();
      throw new Error("wrong network: nothing was sent");
    }
    message("info", `${step.label}: confirm in your wallet…`);
    const hash = await wallet.sendTransaction({ account: state.address, to: step.to, data: step.data, gas: BigInt(step.gas), chain });
    message("info", `${step.label}: sent ${hash.slice(0, 10)}…, waiting for it to be mined`);
    const receipt = await reader.waitForTransactionReceipt({ hash, pollingInterval: 250 });
    if (receipt.status !== "success") throw new Error(`${step.label}: reverted on chain (tx ${hash})`);
  }
}

// Ask the server for an action's transactions, send them, report. Bad input or a refusal: one line, nothing sent.
async function act(body, done) {
  if (!canSend()) {
    message("error", state.address ? "Cannot send now (wrong network, RPC down, or a transaction in flight)." : "Connect a wallet first.");
    return;
  }
  state.busy = true; updateButtons();
  try {
    const prepared = await api("/api/prepare", { ...body, trader: state.address });
    await sendSteps(prepared.steps);
    message("ok", done);
  } catch (e) {
    message("error", e.shortMessage || e.message);
  } finally {
    state.busy = false;
    updateButtons();
    refresh();
  }
}

// ---------------------------------------------------------------------------------------------- markets

function market() {
  return state.markets.find((m) => m.symbol === state.symbol);
}

function fmtSeconds(s) {
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return h ? `${h} h ${m} min` : m ? `${m} min ${sec} s` : `${sec} s`;
}

function renderMarkets() {
  $("#market-tabs").innerHTML = state.markets
    .map((m) => `<button class="market-tab ${m.symbol === state.symbol ? "active" : ""}" data-symbol="${esc(m.symbol)}">${esc(m.symbol)} <small>${esc(m.mark_text)}</small> <span class="pill ${esc(m.status)}">${esc(m.status)}</span></button>`)
    .join("");
  const m = market();
  if (!m) return;
  $("#market-title").textContent = `${m.symbol} / USD`;
  const st = $("#market-status");
  st.className = `status ${m.status}`;
  st.textContent = m.status_text;
  const rows = [
    ["Mark", m.mark_text], ["Index", m.index_error ? `unavailable: ${m.index_error}` : m.index_text],
    ["Gap (mark − index)", `${m.gap_text} (${m.premium_text})`], ["Mark TWAP 15 min", m.twap_text],
    ["Funding rate (last)", m.funding_rate_text], ["Funding estimate", m.funding_estimate_text],
    ["Next funding", m.seconds_to_funding ? `in ${fmtSeconds(m.seconds_to_funding)}` : "due now"],
    ["Open interest long", `${m.oi_long_text} (${m.oi_long_notional_text})`],
    ["Open interest short", `${m.oi_short_text} (${m.oi_short_notional_text})`],
    ["Pool depth k", m.k_text], ["Reserves", `${m.quote_reserve_text} / ${m.base_reserve_text}`], ["Peg", m.peg_text],
    ["Volume 24 h", `${m.volume_24h_text} (${m.trades_24h} trades)`], ["Collateral booked", m.collateral_text], ["Fees", m.fees_text],
  ];
  $("#market-stats").innerHTML = rows.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd data-field="${esc(k)}">${esc(v)}</dd></div>`).join("");
  const closed = m.status !== "open";
  $("#trade-closed").hidden = !closed;
  $("#trade-closed").textContent = closed ? `Trading is not possible: ${m.status_text}.` : "";
  updateButtons();
}

async function renderChart() {
  const m = market();
  if (!m) return;
  const { points } = await api(`/api/chart/${m.symbol}`);
  const data = [points.map((p) => p.t), points.map((p) => p.mark), points.map((p) => p.index)];
  const el = $("#chart");
  if (!state.chart || state.chart.symbol !== m.symbol) {
    state.chart?.destroy();
    el.innerHTML = "";
    state.chart = new uPlot({
      width: Math.max(el.clientWidth, 320), height: 220,
      series: [{}, { label: "mark", stroke: "#2563eb", width: 2 }, { label: "index", stroke: "#f59e0b", width: 2, spanGaps: true }],
      bands: [{ series: [1, 2], fill: "rgba(239,68,68,0.22)" }, { series: [2, 1], fill: "rgba(239,68,68,0.22)" }],
      axes: [{}, { size: 70 }],
      legend: { show: false },
    }, data, el);
    state.chart.symbol = m.symbol;
  } else {
    state.chart.setData(data);
  }
}

// ---------------------------------------------------------------------------------------------- trade form

function readForm() {
  return {
    symbol: state.symbol, side: state.side, margin: $("#margin").value.trim(),
    leverage: $("#leverage").value, slippage: String(Number($("#slippage").value.trim()) / 100),
  };
}

const NUMBER = /^\d+(\.\d+)?$/;

function formProblem(f) {
  if (!NUMBER.test(f.margin) || Number(f.margin) <= 0) return "Margin: enter a positive number (quote units, e.g. 100).";
  const slip = $("#slippage").value.trim();
  if (!NUMBER.test(slip) || Number(slip) > 50) return "Slippage: enter a percentage between 0 and 50.";
  return null;
}

let quoteTimer = null;
let quoteSeq = 0;
function scheduleQuote() {
  clearTimeout(quoteTimer);
  quoteTimer = setTimeout(updateQuote, 200);
}

async function updateQuote() {
  const f = readForm();
  $("#leverage-value").textContent = `${Number(f.leverage).toFixed(1)}×`;
  const refusal = $("#refusal");
  const problem = formProblem(f);
  const seq = ++quoteSeq;
  if (problem) {
    $("#preview").innerHTML = "";
    refusal.hidden = false; refusal.textContent = problem; refusal.dataset.kind = "input";
    updateButtons();
    return;
  }
  try {
    const r = await api("/api/quote", { ...f, trader: state.address || ZERO });
    if (seq !== quoteSeq) return;
    const p = r.preview;
    const rows = [["Notional", p.notional_text], ["Size", p.base_text], ["Entry price", p.entry_text], ["Price impact", p.impact_text],
      ["Fee", p.fee_text], ["Mark after", p.mark_after_text], ["Margin ratio after", p.margin_ratio_after_text],
      ["Liquidation price", p.liquidation_text], ["From the vault", p.cash_text]];
    $("#preview").innerHTML = rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td data-field="${esc(k)}">${esc(v)}</td></tr>`).join("");
    refusal.hidden = !r.refusal || !state.address;
    refusal.textContent = r.refusal || "";
    refusal.dataset.kind = r.refusal ? "protocol" : "";
  } catch (e) {
    if (seq !== quoteSeq) return;
    $("#preview").innerHTML = "";
    refusal.hidden = false; refusal.textContent = e.message; refusal.dataset.kind = "quote";
  }
  updateButtons();
}

function updateButtons() {
  const m = market();
  const refused = !$("#refusal").hidden;
  const ok = canSend();
  $("#open-btn").disabled = !ok || refused || !m || m.status !== "open";
  $("#open-btn").textContent = `Open ${state.side} ${state.symbol || ""}`;
  for (const id of ["#deposit-btn", "#withdraw-btn", "#mint-btn"]) $(id).disabled = !ok;
  document.querySelectorAll("#positions button").forEach((b) => { b.disabled = !ok; });
}

// ---------------------------------------------------------------------------------------------- account

function ratioBar(p) {
  if (p.margin_ratio == null) return esc(p.margin_ratio_text);
  const scale = Math.max(p.margin_ratio, p.mmr * 4, 0.25);
  const width = Math.max(0, Math.min(100, (p.margin_ratio / scale) * 100));
  const line = (p.mmr / scale) * 100;
  const danger = p.margin_ratio < p.mmr * 1.5 ? "danger" : "";
  return `<div class="ratio ${danger}" title="maintenance ${esc(p.mmr_text)}"><div class="fill" style="width:${width}%"></div>`
    + `<div class="mmr" style="left:${line}%"></div></div><span class="ratio-text">${esc(p.margin_ratio_text)}</span>`;
}

function renderAccount(a) {
  $("#wallet-balance").textContent = a ? a.wallet_text : "-";
  $("#vault-balance").textContent = a ? a.vault_text : "-";
  const body = $("#positions tbody");
  const positions = a ? a.positions : [];
  $("#no-positions").hidden = positions.length > 0;
  // the table is redrawn on every poll: keep what the trader typed or chose in it
  const kept = {};
  body.querySelectorAll("tr").forEach((r) => {
    const amount = r.querySelector(".margin-amount");
    kept[r.id] = { amount: amount?.value, part: r.querySelector(".close-part")?.value, focused: amount === document.activeElement };
  });
  body.innerHTML = positions.map((p) => {
    const actions = p.settle_only
      ? `<button class="settle" data-symbol="${esc(p.symbol)}">Settle</button>`
      : `<input class="margin-amount" placeholder="amount" inputmode="decimal">`
        + `<button class="add-margin" data-symbol="${esc(p.symbol)}">+ margin</button>`
        + `<button class="remove-margin" data-symbol="${esc(p.symbol)}">− margin</button>`
        + `<select class="close-part"><option value="1">100 %</option><option value="0.5">50 %</option><option value="0.25">25 %</option></select>`
        + `<button class="close" data-symbol="${esc(p.symbol)}">Close</button>`;
    return `<tr id="pos-${esc(p.symbol)}" class="${esc(p.side)}">
      <td>${esc(p.symbol)}</td><td class="side">${esc(p.side)}</td><td class="size">${esc(p.size_text)}</td>
      <td class="entry">${esc(p.entry_text)}</td><td class="mark">${esc(p.mark_text)}</td><td class="margin">${esc(p.margin_text)}</td>
      <td class="ratio-cell">${ratioBar(p)}</td><td class="liq">${esc(p.liquidation_price_text)}</td>
      <td class="pnl">${esc(p.pnl_text)}</td><td class="funding">${esc(p.funding_text)}</td><td class="actions">${actions}</td></tr>`;
  }).join("");
  body.querySelectorAll("tr").forEach((r) => {
    const k = kept[r.id];
    if (!k) return;
    const amount = r.querySelector(".margin-amount");
    if (amount && k.amount) amount.value = k.amount;
    if (r.querySelector(".close-part") && k.part) r.querySelector(".close-part").value = k.part;
    if (amount && k.focused) amount.focus();
  });
  $("#history tbody").innerHTML = (a ? a.history : []).map((h) => `<tr class="${esc(h.kind.replace(/ /g, "-"))}">
    <td>${h.block}</td><td>${new Date(h.time * 1000).toLocaleString()}</td><td>${esc(h.market)}</td><td class="kind">${esc(h.kind)}</td>
    <td>${esc(h.detail)}</td><td>${esc(h.fee_text)}</td><td>${esc(h.pnl_text)}</td><td>${esc(h.funding_text)}</td></tr>`).join("");
  updateButtons();
}

// ---------------------------------------------------------------------------------------------- operator

function kv(rows) {
  return rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join("");
}

function renderOperator(o) {
  $("#op-fund").innerHTML = kv([["Balance", o.fund_text], ["Surplus (withdrawable)", o.surplus_text], ["Reserve floor", o.reserve_floor_text],
    ["Vault holds", o.vault_tokens_text], ["Vault owes", `${o.vault_owed_text} (${o.vault_accounts} accounts + markets)`],
    ["Vault covered", o.vault_covered ? "yes" : "NO"], ["Funding settlements", o.funding_paid]]);
  $("#op-safety").innerHTML = kv([["Trading", o.paused ? "PAUSED" : "running"],
    ["Halted markets", o.halted.length ? o.halted.join(", ") : "none"], ["Sequencer", o.sequencer.text]]);
  $("#op-markets tbody").innerHTML = o.markets.map((m) => `<tr id="op-${esc(m.symbol)}"><td>${esc(m.symbol)}</td>
    <td><span class="pill ${esc(m.status)}">${esc(m.status)}</span></td><td>${esc(m.collateral_text)}</td><td>${esc(m.owed_text)}</td>
    <td>${m.covered == null ? "-" : m.covered ? "yes" : "<b class='bad'>NO</b>"}</td><td>${esc(m.bad_debt_text)}</td><td>${esc(m.halt_shortfall_text)}</td>
    <td>${esc(m.oracle.error || m.oracle.answer_text)}</td>
    <td class="${m.oracle.stale ? "bad" : ""}">${m.oracle.age == null ? "-" : esc(fmtSeconds(m.oracle.age))}${m.oracle.max_staleness ? ` (max ${esc(fmtSeconds(m.oracle.max_staleness))})` : ""}</td></tr>`).join("");
  const g = o.governance;
  $("#op-governance").innerHTML = kv([["Owner", `${g.owner}: ${g.owner_kind}`], ["Pending changes", g.pending.length]]);
  $("#op-pending tbody").innerHTML = g.pending.map((p) => `<tr><td>${esc(p.id.slice(0, 18))}…</td><td>${esc(p.target)}</td><td>${esc(p.selector)}</td>
    <td>${new Date(p.ready_at * 1000).toLocaleString()}</td></tr>`).join("");
}

// ---------------------------------------------------------------------------------------------- refresh loop

let refreshing = false;
async function refresh() {
  if (refreshing) return;
  refreshing = true;
  try {
    if (!state.config) {
      state.config = await api("/api/config");
      $("#connect-dev").hidden = !state.config.dev_wallet;
      const lev = $("#leverage");
      lev.max = String(Math.floor(state.config.max_leverage * 2) / 2 + 5);
      $("#chain").textContent = `chain ${state.config.chain_id} · max leverage ${state.config.max_leverage}×`;
    }
    const { markets } = await api("/api/markets");
    state.markets = markets;
    if (!state.symbol || !market()) state.symbol = markets[0]?.symbol;
    state.rpcDown = null;
    renderMarkets();
    if (state.view === "trade") {
      await renderChart();
      renderAccount(state.address ? await api(`/api/account/${state.address}`) : null);
      if (!$("#preview").innerHTML) scheduleQuote();
    } else {
      renderOperator(await api("/api/operator"));
    }
  } catch (e) {
    if (e.status === 503 || e.status === 0) state.rpcDown = e.status === 0 ? `Dashboard server unreachable: ${e.message}` : e.message;
    else message("error", e.message);
  } finally {
    refreshing = false;
    banner();
  }
}

// ---------------------------------------------------------------------------------------------- events

function wire() {
  $("#connect-browser").addEventListener("click", () => connect("browser"));
  $("#connect-dev").addEventListener("click", () => connect("dev"));
  $("#account-select").addEventListener("change", (e) => {
    state.address = e.target.value;
    $("#wallet-address").textContent = `development wallet ${short(state.address)}`;
    refresh(); scheduleQuote();
  });
  document.querySelectorAll(".tab").forEach((t) => t.addEventListener("click", () => {
    state.view = t.dataset.view;
    document.querySelectorAll(".tab").forEach((x) => x.classList.toggle("active", x === t));
    $("#view-trade").hidden = state.view !== "trade";
    $("#view-operator").hidden = state.view !== "operator";
    if (state.chart) state.chart = (state.chart.destroy(), null);
    refresh();
  }));
  $("#market-tabs").addEventListener("click", (e) => {
    const b = e.target.closest(".market-tab");
    if (!b) return;
    state.symbol = b.dataset.symbol;
    renderMarkets(); renderChart(); scheduleQuote();
  });
  for (const side of ["long", "short"]) {
    $(`#side-${side}`).addEventListener("click", () => {
      state.side = side;
      $("#side-long").classList.toggle("active", side === "long");
      $("#side-short").classList.toggle("active", side === "short");
      scheduleQuote();
    });
  }
  for (const id of ["#margin", "#leverage", "#slippage"]) $(id).addEventListener("input", scheduleQuote);
  $("#trade-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const f = readForm();
    const problem = formProblem(f);
    if (problem) { message("error", problem); return; }
    act({ action: "open", ...f }, `Opened ${f.side} ${f.symbol}: margin ${f.margin} at ${f.leverage}×.`);
  });
  const amountAction = (input, action, done) => () => {
    const amount = $(input).value.trim();
    if (!NUMBER.test(amount) || Number(amount) <= 0) { message("error", `${action}: enter a positive amount.`); return; }
    act({ action, amount }, `${done} ${amount}.`);
  };
  $("#deposit-btn").addEventListener("click", amountAction("#deposit-amount", "deposit", "Deposited"));
  $("#withdraw-btn").addEventListener("click", amountAction("#withdraw-amount", "withdraw", "Withdrew"));
  $("#mint-btn").addEventListener("click", () => act({ action: "mint", amount: "10000" }, "Minted 10,000 test tokens."));
  $("#positions").addEventListener("click", (e) => {
    const b = e.target.closest("button");
    if (!b) return;
    const row = b.closest("tr");
    const symbol = b.dataset.symbol;
    if (b.classList.contains("close")) {
      const part = row.querySelector(".close-part").value;
      act({ action: "close", symbol, part, slippage: readForm().slippage }, `Closed ${Number(part) * 100} % of ${symbol}.`);
    } else if (b.classList.contains("settle")) {
      act({ action: "settle", symbol }, `Settled ${symbol}.`);
    } else {
      const amount = row.querySelector(".margin-amount").value.trim();
      const action = b.classList.contains("add-margin") ? "add_margin" : "remove_margin";
      if (!NUMBER.test(amount) || Number(amount) <= 0) { message("error", `${action.replace("_", " ")}: enter a positive amount.`); return; }
      act({ action, symbol, amount }, `${action === "add_margin" ? "Added" : "Removed"} ${amount} margin on ${symbol}.`);
    }
  });
}

wire();
refresh();
setInterval(refresh, POLL_MS);
