// SEQR emulator dashboard. Reads the control API under /_emulator and stays live through its
// server-sent events. Every string that came from a merchant is put on the page with
// textContent or as an attribute value, never parsed as HTML.
"use strict";

const API = "/_emulator";
const LIST_LIMIT = 500;
const FINAL = new Set(["PAID", "CANCELED", "FAILED", "RESERVED"]);

const state = {
  invoices: new Map(), // reference -> summary, in arrival order
  listed: false, // a whole list has been read: until then the page says it is loading
  listSeq: 0, // the latest list read; older answers are dropped
  pending: null, // reference -> summary of the events that arrived while a list was read
  open: null, // reference of the invoice shown
  detail: null,
  back: null, // {ref, backURL} of the customer's last action
  loading: null,
  session: null, // token of the service session shown
  sessionSeq: 0, // the latest session read; older answers are dropped
  journal: false, // the whole journal is shown
  journalSeq: 0, // the latest journal read; older answers are dropped
  journalBefore: null, // the cursor of the next (older) page
};
// A service's code: `HTTP://SEQR.SE/000/<id>?…` in any SEQR scheme (seqr, seqr-debug).
const SERVICE_CODE = /^[a-z][a-z-]*:(?:[a-z]+:)?\/\/seqr\.se(?::\d+)?\/000\/[^/?#]/i;
const ACTION_CODE = /^seqr-action:/i;
const EMPTY_TEXT = "Pick an invoice, or paste a scanned code above, to play the customer's phone.";

const $ = (id) => document.getElementById(id);

// --- DOM helpers: text only ---------------------------------------------------------------

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined) continue;
    if (key === "className") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function setText(id, value) {
  $(id).textContent = value === null || value === undefined || value === "" ? "—" : String(value);
}

function money(amount) {
  return amount ? `${amount.value} ${amount.currency}` : "—";
}

function when(iso, full) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return full ? date.toLocaleString() : date.toLocaleTimeString();
}

function chip(status) {
  return el("span", { className: `chip ${status}`, text: status.replaceAll("_", " ") });
}

function isWebUrl(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:";
  } catch {
    return false;
  }
}

// --- the control API ----------------------------------------------------------------------

async function api(path, options) {
  const response = await fetch(API + path, { headers: { Accept: "application/json" }, ...options });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const error = new Error((body && body.error) || `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

// --- the invoice list ---------------------------------------------------------------------

async function loadList() {
  const seq = ++state.listSeq;
  state.pending = new Map();
  let body;
  try {
    body = await api(`/invoices?limit=${LIST_LIMIT}`);
  } catch (error) {
    if (seq === state.listSeq) {
      state.pending = null;
      if (!state.listed) {
        $("list-loading").textContent = `Loading… (${error.message}; trying again)`;
        setTimeout(() => loadList().catch(() => {}), 2000);
      }
    }
    throw error;
  }
  if (seq !== state.listSeq) return; // a later read (after a reset) is on its way
  const invoices = new Map(body.invoices.map((summary) => [summary.reference, summary]));
  // An event that came while the list was read may be newer than the list's copy.
  for (const [reference, summary] of state.pending) {
    const listed = invoices.get(reference);
    if (!listed || listed.version < summary.version) invoices.set(reference, summary);
  }
  state.pending = null;
  state.invoices = invoices;
  state.listed = true;
  renderList();
  if (state.open) await loadDetail(state.open);
}

function renderList() {
  const rows = state.listed ? [...state.invoices.values()].reverse().slice(0, LIST_LIMIT) : [];
  $("invoices").replaceChildren(...rows.map(listRow));
  $("list-loading").hidden = state.listed;
  $("list-empty").hidden = !state.listed || rows.length > 0;
  $("list-count").textContent = rows.length ? `${state.invoices.size} in all` : "";
}

function listRow(summary) {
  const row = el(
    "tr",
    { dataset: { ref: summary.reference }, className: summary.reference === state.open ? "selected" : "" },
    el("td", {}, chip(summary.status)),
    el(
      "td",
      {},
      el("span", { className: "title", text: summary.title || "(no title)" }),
      el("span", { className: "ref", text: `${summary.reference} · ${when(summary.createdAt)}` }),
    ),
    el("td", { className: "num", text: money(summary.totalAmount) }),
  );
  row.addEventListener("click", () => openInvoice(summary.reference));
  return row;
}

function upsertSummary(summary) {
  if (state.pending) state.pending.set(summary.reference, summary);
  state.invoices.delete(summary.reference);
  state.invoices.set(summary.reference, summary);
  if (!state.listed) return; // the list being read shows it
  const existing = $("invoices").querySelector(`tr[data-ref="${CSS.escape(summary.reference)}"]`);
  if (existing) {
    existing.replaceWith(listRow(summary));
  } else {
    renderList();
  }
}

// --- the invoice page ---------------------------------------------------------------------

function openInvoice(reference) {
  const target = `#/invoices/${encodeURIComponent(reference)}`;
  if (location.hash !== target) location.hash = target;
  else route();
}

function route() {
  state.journal = location.hash === "#/journal";
  $("journal").hidden = !state.journal;
  if (state.journal) {
    state.open = null;
    state.session = null;
    showSession(null);
    $("invoice").hidden = true;
    $("detail-empty").hidden = true;
    loadJournal(false);
    return;
  }
  const match = /^#\/(invoices|sessions)\/(.+)$/.exec(location.hash);
  const id = match ? decodeURIComponent(match[2]) : null;
  const reference = match && match[1] === "invoices" ? id : null;
  const token = match && match[1] === "sessions" ? id : null;
  if (reference !== state.open) state.back = null;
  state.open = reference;
  if (token !== state.session) showSession(null);
  state.session = token;
  for (const row of $("invoices").children) {
    row.classList.toggle("selected", row.dataset.ref === reference);
  }
  if (reference) loadDetail(reference);
  else showDetail(null);
  if (token) loadSession(token);
}

async function loadDetail(reference) {
  try {
    const detail = await api(`/invoices/${encodeURIComponent(reference)}`);
    if (state.open === reference) showDetail(detail);
    const page = await api(`/journal?invoice=${encodeURIComponent(reference)}&limit=200`);
    if (state.open === reference) renderInvoiceJournal(page.entries);
  } catch (error) {
    if (state.open !== reference) return;
    showDetail(null);
    setText("detail-empty", error.status === 404 ? `No invoice ${reference} (it is gone after a reset).` : error.message);
  }
}

function showDetail(detail) {
  state.detail = detail;
  $("invoice").hidden = !detail;
  $("detail-empty").hidden = Boolean(detail || state.session);
  if (!detail) {
    $("detail-empty").textContent = EMPTY_TEXT;
    return;
  }
  const ref = detail.reference;
  setText("detail-ref", ref);
  setText("detail-title", detail.title || "(no title)");
  const status = $("detail-status");
  status.className = `chip ${detail.status}`;
  status.textContent = detail.status.replaceAll("_", " ");
  setText("detail-amount", money(detail.totalAmount));
  setText("detail-version", detail.version);

  const qr = `${API}/invoices/${encodeURIComponent(ref)}/qr`;
  if ($("qr-image").getAttribute("src") !== `${qr}.png`) $("qr-image").setAttribute("src", `${qr}.png`);
  $("qr-png").setAttribute("href", `${qr}.png`);
  $("qr-svg").setAttribute("href", `${qr}.svg`);
  setText("qr-text", detail.invoiceQRCode);
  setText("deep-link", detail.deepLink);

  renderPhone(detail);
  renderFacts(detail);
  renderRows(detail);
  renderHistory(detail);
  renderPayment(detail);
  renderNotifications(detail.notifications || []);
}

function renderPhone(detail) {
  setText("phone-merchant", detail.title || "(no title)");
  setText("phone-amount", money(detail.totalAmount));
  setText("phone-state", phoneState(detail));
  const open = !FINAL.has(detail.status);
  $("btn-scan").disabled = !open || detail.status !== "ISSUED" || detail.inProgress;
  $("btn-pay").disabled = !open || detail.status !== "ISSUED";
  $("btn-cancel").disabled = !open;
  $("btn-fail").disabled = !open;
  const back = state.back && state.back.ref === detail.reference ? state.back.backURL : null;
  $("phone-back").hidden = !back;
  const link = $("back-url");
  link.textContent = back || "";
  if (back && isWebUrl(back)) link.setAttribute("href", back);
  else link.removeAttribute("href");
}

function phoneState(detail) {
  switch (detail.status) {
    case "ISSUED":
      return detail.inProgress ? "Scanned: confirm with your PIN." : "Scan the code to pay.";
    case "PENDING_ISSUER_ACKNOWLEDGE":
      return "Waiting for the merchant to confirm the amount…";
    case "RESERVED":
      return "Reserved: the merchant commits the payment.";
    case "PAID":
      return "Payment complete.";
    case "CANCELED":
      return "Canceled.";
    case "FAILED":
      return "The payment failed.";
    default:
      return detail.status;
  }
}

function renderFacts(detail) {
  const facts = [
    ["Reference", detail.reference],
    ["Client invoice id", detail.clientInvoiceId],
    ["Terminal", detail.terminalId],
    ["Payment mode", detail.paymentMode],
    ["Acknowledgment", detail.acknowledgmentMode],
    ["Customer in app", detail.inProgress ? "yes, confirming" : "no"],
    ["Cashier", detail.cashierId],
    ["Created", when(detail.createdAt, true)],
    ["backURL", detail.backURL],
    ["notificationUrl", detail.notificationUrl],
  ];
  $("facts").replaceChildren(
    ...facts.flatMap(([name, value]) => [
      el("dt", { text: name }),
      el("dd", { text: value === null || value === undefined || value === "" ? "—" : value }),
    ]),
  );
}

function renderRows(detail) {
  const rows = detail.rows || [];
  $("rows").replaceChildren(
    ...(rows.length
      ? rows.map((row) =>
          el(
            "tr",
            {},
            el("td", { text: row.description || "—" }),
            el("td", { className: "num", text: row.quantity ? `${row.quantity}${row.unit ? " " + row.unit : ""}` : "—" }),
            el("td", { className: "num", text: money(row.unitPrice) }),
            el("td", { className: "num", text: money(row.totalAmount) }),
          ),
        )
      : [el("tr", {}, el("td", { colspan: 4, className: "muted", text: "No rows." }))]),
  );
  setText("rows-total", money(detail.totalAmount));
}

function renderHistory(detail) {
  $("history").replaceChildren(
    ...[...(detail.history || [])].reverse().map((entry) =>
      el(
        "li",
        {},
        el("time", { datetime: entry.at, text: when(entry.at) }),
        el("span", {}, chip(entry.status), " ", entry.event),
        el("span", { className: "version", text: `v${entry.version}` }),
      ),
    ),
  );
}

function renderPayment(detail) {
  const payment = detail.payment;
  const facts = payment
    ? [
        ["ersReference", payment.ersReference],
        ["Paid", money(payment.amount)],
        ["Date", when(payment.date, true)],
        ["Acknowledged", payment.acknowledged ? "yes (merchant polled)" : "not yet"],
        ["Customer", payment.msisdn],
        ["Refunded", `${detail.refundedTotal} ${payment.amount.currency}`],
      ]
    : [["Payment", "none yet"]];
  $("payment").replaceChildren(
    ...facts.flatMap(([name, value]) => [el("dt", { text: name }), el("dd", { text: value || "—" })]),
  );
  const refunds = detail.refunds || [];
  $("refunds").replaceChildren(
    ...(refunds.length
      ? refunds.map((refund) =>
          el(
            "tr",
            {},
            el("td", { className: "mono", text: refund.ersReference }),
            el("td", { className: "small", text: when(refund.date) }),
            el("td", { className: "num", text: money(refund.amount) }),
          ),
        )
      : [el("tr", {}, el("td", { colspan: 3, className: "muted", text: "No refunds." }))]),
  );
}

function renderNotifications(attempts) {
  const body = $("notifications").querySelector("tbody");
  body.replaceChildren(
    ...(attempts.length
      ? [...attempts].reverse().map((attempt) =>
          el(
            "tr",
            { dataset: { outcome: attempt.outcome } },
            el("td", { className: "small", text: when(attempt.at) }),
            el("td", { text: attempt.event }),
            el("td", { className: "mono small wrap", text: attempt.url }),
            el(
              "td",
              {},
              el("span", { className: `chip ${attempt.outcome}`, text: attempt.outcome }),
              attempt.action !== "deliver" ? el("span", { className: "muted small", text: ` (${attempt.action})` }) : null,
              attempt.error ? el("div", { className: "error small", text: attempt.error }) : null,
            ),
            el("td", { className: "num", text: attempt.statusCode ?? "—" }),
            el("td", { className: "num", text: attempt.latencyMs === null ? "—" : `${attempt.latencyMs} ms` }),
          ),
        )
      : [el("tr", {}, el("td", { colspan: 6, className: "muted", text: "No notification sent." }))]),
  );
}

// --- the journal ---------------------------------------------------------------------------

function entryCall(entry) {
  if (entry.kind === "notification") return `notification (${entry.event}) to ${entry.url}`;
  return entry.operation || "(unreadable request)";
}

function entryBytes(entry) {
  if (entry.kind === "notification") {
    return entry.error ? el("div", { className: "error small", text: entry.error }) : null;
  }
  const cut = (size, shown) => (size !== null && size > new TextEncoder().encode(shown).length ? " (cut)" : "");
  return el(
    "details",
    {},
    el("summary", { className: "small muted", text: "request and answer" }),
    el("div", { className: "small muted", text: `request, ${entry.requestSize ?? "?"} bytes${cut(entry.requestSize, entry.request || "")}` }),
    el("pre", { text: entry.request || "" }),
    el("div", { className: "small muted", text: `answer, ${entry.answerSize} bytes, HTTP ${entry.httpStatus}` }),
    el("pre", { text: entry.answer || "" }),
  );
}

function journalRow(entry, whole) {
  const bad = entry.kind === "call" ? entry.resultCode === null || entry.resultCode !== 0 : entry.notificationOutcome !== "delivered";
  const took = entry.kind === "call" ? entry.durationMs : entry.latencyMs;
  return el(
    "tr",
    { className: bad ? "fault" : "", dataset: { seq: entry.seq, kind: entry.kind } },
    el("td", { className: "num", text: entry.seq }),
    el("td", { className: "small", text: when(entry.at, true) }),
    el("td", {}, el("div", { className: "mono small wrap", text: entryCall(entry) }), entryBytes(entry)),
    whole ? el("td", { className: "mono small", text: entry.terminal || "—" }) : null,
    whole ? el("td", { className: "mono small", text: entry.invoice || "—" }) : null,
    el("td", { text: entry.outcome }),
    el("td", { className: "num", text: took === null || took === undefined ? "—" : `${took} ms` }),
  );
}

function renderInvoiceJournal(entries) {
  const body = $("invoice-journal").querySelector("tbody");
  body.replaceChildren(
    ...(entries.length
      ? entries.map((entry) => journalRow(entry, false))
      : [el("tr", {}, el("td", { colspan: 5, className: "muted", text: "No call journaled for this invoice." }))]),
  );
}

async function loadJournal(older) {
  const seq = ++state.journalSeq;
  const query = new URLSearchParams({ limit: "100" });
  for (const [name, value] of new FormData($("journal-filter"))) {
    if (String(value).trim()) query.set(name, String(value).trim());
  }
  if (older && state.journalBefore !== null) query.set("before", state.journalBefore);
  let page;
  try {
    page = await api(`/journal?${query}`);
  } catch (error) {
    if (seq === state.journalSeq) setText("journal-counts", error.message);
    return;
  }
  if (seq !== state.journalSeq || !state.journal) return;
  const body = $("journal-entries").querySelector("tbody");
  const rows = page.entries.map((entry) => journalRow(entry, true));
  if (older) body.append(...rows);
  else {
    body.replaceChildren(
      ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 7, className: "muted", text: "Nothing journaled yet." }))]),
    );
  }
  state.journalBefore = page.next;
  $("journal-older").hidden = page.next === null;
  setText(
    "journal-counts",
    `${page.matched} matching · ${page.held} held of ${page.size} · ${page.total} recorded · ${page.dropped} dropped`,
  );
}

// --- the phone's buttons and the scan box ----------------------------------------------------

async function act(action) {
  const ref = state.open;
  if (!ref) return;
  setText("phone-message", "");
  try {
    const answer = await api(`/invoices/${encodeURIComponent(ref)}/${action}`, { method: "POST" });
    // `open` is where the app goes next (an external service's page), else the backURL.
    state.back = action === "scan" ? null : { ref, backURL: answer.open ?? answer.backURL };
    upsertSummary(answer);
    await loadDetail(ref);
  } catch (error) {
    $("phone-message").textContent = error.message;
  }
}

async function scanned(event) {
  event.preventDefault();
  const code = $("scan-input").value.trim();
  $("scan-error").hidden = true;
  if (!code) return;
  try {
    if (SERVICE_CODE.test(code)) {
      openSession(await appScan({ url: code }));
    } else if (ACTION_CODE.test(code)) {
      if (!state.session) throw new Error("open a service session first: the action needs its token");
      openSession(await appScan({ url: code, token: state.session }));
    } else {
      const found = await api(`/lookup?code=${encodeURIComponent(code)}`);
      openInvoice(found.reference);
    }
  } catch (error) {
    $("scan-error").textContent = `${code}: ${error.message}`;
    $("scan-error").hidden = false;
  }
}

// --- the phone inside an external service ---------------------------------------------------

function appScan(body) {
  return api("/app/scan", {
    method: "POST",
    headers: { Accept: "application/json", "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

function openSession(view) {
  const target = `#/sessions/${encodeURIComponent(view.token)}`;
  state.open = null;
  state.back = null;
  state.session = view.token;
  showDetail(null);
  showSession(view, null);
  if (location.hash !== target) location.hash = target; // route() reads it afresh
  else loadSession(view.token);
}

async function loadSession(token) {
  const seq = ++state.sessionSeq;
  try {
    const view = await api(`/app/sessions/${encodeURIComponent(token)}`);
    const ref = view.invoiceReference;
    const invoice = ref ? await api(`/invoices/${encodeURIComponent(ref)}`) : null;
    if (state.session === token && state.sessionSeq === seq) showSession(view, invoice);
  } catch (error) {
    if (state.session !== token || state.sessionSeq !== seq) return;
    showSession(null);
    $("detail-empty").hidden = false;
    $("detail-empty").textContent =
      error.status === 404 ? `No service session ${token} (it is gone after a reset).` : error.message;
  }
}

function showSession(view, invoice) {
  $("service").hidden = !view;
  if (!view) return;
  $("detail-empty").hidden = true;
  setText("svc-token", view.token);
  setText("svc-id", view.serviceId);
  const status = $("svc-state");
  status.className = `chip ${view.state}`;
  status.textContent = view.state;
  setText("svc-msisdn", view.msisdn);
  const link = $("svc-open");
  link.textContent = view.open || "";
  if (view.open && isWebUrl(view.open)) link.setAttribute("href", view.open);
  else link.removeAttribute("href");
  // The wizard can be left while the customer is still in it (or may retry after a failure).
  $("svc-wizard-cancel").disabled = view.state !== "OPEN" && view.state !== "FAILED";

  const facts = [
    ["Service", view.serviceId],
    ["Token", view.token],
    ["State", view.state],
    ["msisdn", view.msisdn],
    ["subscriberKey", view.subscriberKey],
    ["Opened", when(view.createdAt, true)],
    ["Invoice", view.invoiceReference],
  ];
  $("svc-facts").replaceChildren(
    ...facts.flatMap(([name, value]) => [el("dt", { text: name }), el("dd", { text: value || "—" })]),
  );
  const params = view.parameters || [];
  $("svc-params").replaceChildren(
    ...(params.length
      ? params.flatMap((pair) => [
          el("dt", { className: "mono", text: pair.key }),
          el("dd", { className: "mono", text: pair.value === "" ? "(empty)" : pair.value }),
        ])
      : [el("dt", { text: "None" }), el("dd", { text: "—" })]),
  );

  $("svc-waiting").hidden = Boolean(invoice);
  $("svc-invoice").hidden = !invoice;
  if (!invoice) return;
  const ref = $("svc-invoice-ref");
  ref.textContent = invoice.reference;
  ref.setAttribute("href", `#/invoices/${encodeURIComponent(invoice.reference)}`);
  const chipNode = $("svc-invoice-status");
  chipNode.className = `chip ${invoice.status}`;
  chipNode.textContent = invoice.status.replaceAll("_", " ");
  setText("svc-merchant", invoice.title || "(no title)");
  setText("svc-amount", money(invoice.totalAmount));
  setText("svc-invoice-state", phoneState(invoice));
  const open = !FINAL.has(invoice.status);
  $("svc-pay").disabled = !open || invoice.status !== "ISSUED";
  $("svc-cancel").disabled = !open;
  $("svc-fail").disabled = !open;
}

async function sessionAct(action) {
  const token = state.session;
  const ref = $("svc-invoice-ref").textContent;
  if (!token || !ref) return;
  $("svc-message").textContent = "";
  try {
    const answer = await api(`/invoices/${encodeURIComponent(ref)}/${action}`, { method: "POST" });
    upsertSummary(answer);
    showNext(answer.open);
    await loadSession(token);
  } catch (error) {
    $("svc-message").textContent = error.message;
  }
}

async function wizardCancel() {
  const token = state.session;
  if (!token) return;
  $("svc-message").textContent = "";
  try {
    const answer = await appScan({ url: $("svc-wizard-cancel").dataset.url, token });
    showNext(answer.open);
    await loadSession(token);
  } catch (error) {
    $("svc-message").textContent = error.message;
  }
}

function showNext(url) {
  const link = $("svc-open");
  link.textContent = url || "";
  if (url && isWebUrl(url)) link.setAttribute("href", url);
  else link.removeAttribute("href");
}

// --- live updates --------------------------------------------------------------------------

function listen() {
  const source = new EventSource(`${API}/events`);
  const live = $("live");
  source.addEventListener("hello", () => {
    live.textContent = "live";
    live.classList.add("on");
    loadList().catch(() => {}); // also catches up on anything missed while disconnected
  });
  source.addEventListener("invoice", (event) => {
    const { invoice } = JSON.parse(event.data);
    upsertSummary(invoice);
    if (invoice.reference === state.open) loadDetail(invoice.reference);
    if (state.session) loadSession(state.session); // a tied invoice arrives or changes
    if (state.journal) loadJournal(false);
  });
  source.addEventListener("notification", (event) => {
    const attempt = JSON.parse(event.data);
    if (attempt.invoiceReference === state.open) loadDetail(state.open);
    if (state.journal) loadJournal(false);
  });
  for (const kind of ["reset", "resync"]) {
    source.addEventListener(kind, () => {
      loadList().catch(() => {});
      if (state.session) loadSession(state.session);
      if (state.journal) loadJournal(false);
    });
  }
  source.onerror = () => {
    live.textContent = "reconnecting…";
    live.classList.remove("on");
  };
}

function start() {
  for (const button of document.querySelectorAll("#invoice .phone-buttons .btn")) {
    button.addEventListener("click", () => act(button.dataset.action));
  }
  for (const button of document.querySelectorAll("#svc-invoice .phone-buttons .btn")) {
    button.addEventListener("click", () => sessionAct(button.dataset.action));
  }
  $("svc-wizard-cancel").addEventListener("click", wizardCancel);
  $("scan-form").addEventListener("submit", scanned);
  $("journal-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    loadJournal(false);
  });
  $("journal-older").addEventListener("click", () => loadJournal(true));
  window.addEventListener("hashchange", route);
  route();
  listen();
  // Acknowledgment and receipts change an invoice without a status change: re-read the open one.
  setInterval(() => {
    if (state.open && document.visibilityState === "visible") loadDetail(state.open);
  }, 5000);
  // A session changes without an invoice event too (a wizard cancel made elsewhere).
  setInterval(() => {
    if (state.session && document.visibilityState === "visible") loadSession(state.session);
  }, 2000);
}

document.addEventListener("DOMContentLoaded", start);
