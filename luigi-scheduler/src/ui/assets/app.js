// The luigi-rs visualiser: plain JavaScript, no build step, no libraries.
//
// Views are chosen by the URL hash (`#/tasks?status=FAILED&family=F&search=s&sort=time&dir=desc&page=2`,
// `#/task?id=...`, `#/graph?id=...&dir=deps|dependents&limit=300`, `#/workers`, `#/resources`),
// so every view and filter is a deep link and the back button works. The task list is paged on
// the server (`../../visualiser-api/tasks`); everything else uses the scheduler's `/api` RPCs.
//
// Safety rule: every string that comes from the scheduler (families, parameters, messages,
// errors, worker names) reaches the DOM through text nodes (`h()` children, `textContent`) or
// through attributes we build ourselves; nothing is ever assigned to `innerHTML`. Links to
// tracking URLs are only made for http(s) URLs. The server also forbids inline scripts (CSP).
"use strict";

const API = "../../api/";
const VIS_API = "../../visualiser-api/";
const HISTORY = "../../history";
const POLL_MS = 5000;
const CATEGORIES = [
  ["PENDING", "Pending"], ["RUNNING", "Running"], ["BATCH_RUNNING", "Batch running"], ["DONE", "Done"],
  ["FAILED", "Failed"], ["UPSTREAM_FAILED", "Upstream failure"], ["DISABLED", "Disabled"],
  ["UPSTREAM_DISABLED", "Upstream disabled"], ["UNKNOWN", "Unknown"],
];
const CATEGORY_LABEL = Object.fromEntries(CATEGORIES);
const PAGE_SIZES = [25, 50, 100, 250];

// Instrumentation read by the browser tests: how many list renders finished, and when.
const vis = { renders: 0, lastRenderAt: 0, lastRenderMs: 0, view: null };
window.__vis = vis;

// ----- DOM helpers --------------------------------------------------------------------------

/** An element; `attrs` keys starting with "on" are listeners, others attributes; children are
 *  nodes or strings (always text). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
}

function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }

// ----- network ------------------------------------------------------------------------------

/** Calls an RPC with a POST form, as Luigi's clients do; resolves to `response`. */
async function rpc(method, data) {
  const body = new URLSearchParams({ data: JSON.stringify(data || {}) });
  const reply = await fetch(API + method, { method: "POST", body });
  const text = await reply.text();
  if (!reply.ok) throw new Error(method + ": HTTP " + reply.status + " " + text.slice(0, 300));
  return JSON.parse(text).response;
}

async function visApi(path, params) {
  const reply = await fetch(VIS_API + path + "?" + new URLSearchParams(params));
  const text = await reply.text();
  if (!reply.ok) throw new Error(path + ": HTTP " + reply.status + " " + text.slice(0, 300));
  return JSON.parse(text);
}

function showError(err) {
  const bar = document.getElementById("error-bar");
  if (err) {
    bar.textContent = String(err.message || err);
    bar.hidden = false;
  } else {
    bar.hidden = true;
  }
}

// ----- formatting ---------------------------------------------------------------------------

function fmtTime(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds) || seconds <= 0) return "";
  const d = new Date(seconds * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
    pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
}

function fmtDuration(seconds) {
  if (!isFinite(seconds) || seconds < 0) return "";
  if (seconds < 60) return Math.round(seconds) + " s";
  if (seconds < 3600) return Math.floor(seconds / 60) + " min " + Math.round(seconds % 60) + " s";
  return Math.floor(seconds / 3600) + " h " + Math.round((seconds % 3600) / 60) + " min";
}

function statusBadge(category) {
  return h("span", { class: "badge status c-" + category, "data-status": category }, CATEGORY_LABEL[category] || category);
}

/** A link only for http(s) URLs; anything else (javascript:, data:...) is shown as text. */
function safeLink(url) {
  try {
    const parsed = new URL(url, location.href);
    if (parsed.protocol === "http:" || parsed.protocol === "https:") {
      return h("a", { href: parsed.href, target: "_blank", rel: "noopener noreferrer" }, url);
    }
  } catch (_) { /* not a URL */ }
  return h("span", {}, url);
}

function taskHash(id) { return "#/task?" + new URLSearchParams({ id }); }
function graphHash(id, dir) { return "#/graph?" + new URLSearchParams({ id, dir: dir || "deps" }); }

// ----- routing ------------------------------------------------------------------------------

function parseHash() {
  const hash = location.hash.replace(/^#\/?/, "");
  const q = hash.indexOf("?");
  const view = (q < 0 ? hash : hash.slice(0, q)) || "tasks";
  const params = new URLSearchParams(q < 0 ? "" : hash.slice(q + 1));
  return { view, params };
}

function setHash(view, params) {
  const clean = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") clean.set(k, v);
  const text = clean.toString();
  location.hash = "#/" + view + (text ? "?" + text : "");
}

const views = {};
let current = null;   // { name, state }

function route() {
  const { view, params } = parseHash();
  const make = views[view] || views.tasks;
  const name = views[view] ? view : "tasks";
  for (const a of document.querySelectorAll("#top nav a[data-view]")) {
    a.classList.toggle("active", a.dataset.view === name || (name !== "workers" && name !== "resources" && a.dataset.view === "tasks"));
  }
  if (current && current.name === name && current.update) {
    current.update(params);
    return;
  }
  if (current && current.dispose) current.dispose();
  const main = clear(document.getElementById("main"));
  current = make(main, params);
  current.name = name;
  vis.view = name;
}

// ----- header: pause, history -----------------------------------------------------------------

const scheduler = { paused: false, pauseEnabled: false, history: false, sendMessages: false, maxGraphNodes: 0 };

function updateHeader(page) {
  scheduler.paused = page.paused;
  scheduler.pauseEnabled = page.pause_enabled;
  scheduler.history = page.history;
  scheduler.sendMessages = page.send_messages;
  scheduler.maxGraphNodes = page.max_graph_nodes;
  document.getElementById("history-link").hidden = !page.history;
  document.getElementById("paused-badge").hidden = !page.paused;
  const button = document.getElementById("pause-btn");
  button.hidden = !page.pause_enabled;
  button.textContent = page.paused ? "Unpause scheduler" : "Pause scheduler";
  document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
}

/** The header's state from three small RPCs, for views that do not load a task page. */
async function refreshHeader() {
  try {
    const [enabled, paused, history] = await Promise.all([rpc("is_pause_enabled", {}), rpc("is_paused", {}), rpc("has_task_history", {})]);
    updateHeader(Object.assign({}, pageSettings(), { pause_enabled: enabled.enabled, paused: paused.paused, history: history }));
  } catch (err) { showError(err); }
}

async function togglePause() {
  const pausing = !scheduler.paused;
  if (!(await confirmAction(pausing ? "Pause the scheduler? Workers get no new tasks while it is paused." : "Unpause the scheduler?"))) return;
  try {
    await rpc(pausing ? "pause" : "unpause", {});
    const paused = await rpc("is_paused", {});
    updateHeader(Object.assign({}, pageSettings(), { paused: paused.paused }));
  } catch (err) { showError(err); }
}

function pageSettings() {
  return { paused: scheduler.paused, pause_enabled: scheduler.pauseEnabled, history: scheduler.history, send_messages: scheduler.sendMessages, max_graph_nodes: scheduler.maxGraphNodes };
}

// ----- confirmation dialog ------------------------------------------------------------------

function confirmAction(text) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  return new Promise((resolve) => {
    const ok = document.getElementById("confirm-ok");
    const cancel = document.getElementById("confirm-cancel");
    const done = (answer) => {
      ok.removeEventListener("click", onOk);
      cancel.removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onCancel);
      dialog.close();
      resolve(answer);
    };
    const onOk = () => done(true);
    const onCancel = (e) => { if (e) e.preventDefault(); done(false); };
    ok.addEventListener("click", onOk);
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onCancel);
    dialog.showModal();
  });
}

function dialogOpen() { return document.getElementById("confirm").open; }

/** Whether the user is typing in a field inside `el` (polling then leaves the view alone). */
function editing(el) {
  const active = document.activeElement;
  return !!active && el.contains(active) && active.matches("input, textarea, select");
}

// ----- task list ----------------------------------------------------------------------------

const COLUMNS = [
  ["name", "Name", "name"], ["params", "Parameters", null], ["priority", "Priority", "priority"],
  ["time", "Time", "time"], ["status", "Status", "status"], ["worker", "Worker", "worker"],
];

views.tasks = function (main, params) {
  let state = readListParams(params);
  let inFlight = false;
  let again = false;
  const cards = h("div", { class: "cards", id: "cards" });
  const cardEls = {};
  for (const [cat, label] of CATEGORIES) {
    const count = h("span", { class: "count" }, "–");
    const card = h("button", { type: "button", class: "card c-" + cat, "data-status": cat, onclick: () => {
      go(Object.assign({}, state, { status: state.status === cat ? "" : cat, page: 1 }));
    } }, count, h("span", { class: "label" }, label));
    cardEls[cat] = { card, count };
    cards.appendChild(card);
  }
  const families = h("div", { id: "families" });
  const search = h("input", { type: "search", id: "search", placeholder: "Search task names and parameters", value: state.search });
  let searchTimer = null;
  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => go(Object.assign({}, state, { search: search.value.trim(), page: 1 })), 250);
  });
  const sizeSelect = h("select", { id: "page-size", onchange: () => go(Object.assign({}, state, { size: Number(sizeSelect.value), page: 1 })) },
    PAGE_SIZES.map((n) => h("option", { value: n }, n + " per page")));
  sizeSelect.value = String(state.size);
  const pageInfo = h("span", { id: "page-info", class: "muted" });
  const prev = h("button", { type: "button", id: "prev-page", onclick: () => go(Object.assign({}, state, { page: state.page - 1 })) }, "‹ Prev");
  const next = h("button", { type: "button", id: "next-page", onclick: () => go(Object.assign({}, state, { page: state.page + 1 })) }, "Next ›");
  const clearBtn = h("button", { type: "button", id: "clear-filters", onclick: () => { search.value = ""; go({ status: "", family: "", search: "", sort: state.sort, dir: state.dir, page: 1, size: state.size }); } }, "Clear filters");
  const headRow = h("tr", {}, COLUMNS.map(([key, label, sort]) => {
    const th = h("th", { "data-col": key }, label);
    if (sort) {
      th.classList.add("sortable");
      th.addEventListener("click", () => {
        const dir = state.sort === sort ? (state.dir === "asc" ? "desc" : "asc") : (sort === "time" || sort === "priority" ? "desc" : "asc");
        go(Object.assign({}, state, { sort, dir, page: 1 }));
      });
    }
    return th;
  }));
  const tbody = h("tbody", { id: "task-rows" });
  const table = h("table", { id: "task-table" }, h("thead", {}, headRow), tbody);
  const emptyNote = h("div", { class: "empty", id: "no-tasks", hidden: true }, "No tasks match.");
  main.appendChild(cards);
  main.appendChild(h("div", { class: "layout" }, families,
    h("div", { class: "listing" }, h("div", { class: "toolbar" }, search, clearBtn, prev, pageInfo, next, sizeSelect), table, emptyNote)));

  function go(next) { setHash("tasks", writeListParams(next)); }

  async function refresh() {
    if (inFlight) { again = true; return; }
    inFlight = true;
    const started = performance.now();
    const issued = JSON.stringify(state);
    try {
      const query = { sort: state.sort, dir: state.dir, offset: (state.page - 1) * state.size, limit: state.size };
      if (state.status) query.status = state.status;
      if (state.family) query.family = state.family;
      if (state.search) query.search = state.search;
      const page = await visApi("tasks", query);
      // The filters changed while this was on its way: never show rows for old filters.
      if (JSON.stringify(state) !== issued) { again = true; return; }
      render(page);
      showError(null);
      vis.renders += 1;
      vis.lastRenderAt = performance.now();
      vis.lastRenderMs = vis.lastRenderAt - started;
      document.body.dataset.renders = String(vis.renders);
    } catch (err) {
      showError(err);
    } finally {
      inFlight = false;
      if (again) { again = false; refresh(); }
    }
  }

  function render(page) {
    updateHeader(page);
    for (const [cat] of CATEGORIES) {
      const n = page.counts[cat] || 0;
      cardEls[cat].count.textContent = String(n);
      cardEls[cat].card.classList.toggle("active", state.status === cat);
      cardEls[cat].card.hidden = cat === "UNKNOWN" && n === 0 && state.status !== cat;
    }
    clear(families);
    families.appendChild(h("h3", {}, "Families (" + page.families_total + ")"));
    families.appendChild(h("button", { type: "button", class: state.family ? "" : "active", "data-family": "", onclick: () => go(Object.assign({}, state, { family: "", page: 1 })) },
      h("span", {}, "All families"), h("span", { class: "n" }, page.family_tasks)));
    for (const f of page.families) {
      families.appendChild(h("button", { type: "button", class: f.name === state.family ? "family active" : "family", "data-family": f.name,
        onclick: () => go(Object.assign({}, state, { family: state.family === f.name ? "" : f.name, page: 1 })) },
      h("span", {}, f.name), h("span", { class: "n" }, f.count)));
    }
    const unlisted = page.families_total - page.families.length;
    if (unlisted > 0) families.appendChild(h("div", { class: "more muted" }, unlisted + " more families: narrow them with the search box"));

    for (const th of headRow.children) {
      const col = COLUMNS.find((c) => c[0] === th.dataset.col);
      th.classList.toggle("sorted", col[2] === state.sort);
      th.classList.toggle("desc", col[2] === state.sort && state.dir === "desc");
    }
    const rows = document.createDocumentFragment();
    for (const t of page.tasks) {
      const link = h("a", { href: taskHash(t.id), class: "task-link" }, t.name);
      const paramCell = h("td", { class: "params" }, Object.entries(t.params).map(([k, v]) => h("span", {}, k + "=" + v)));
      const when = t.category === "RUNNING" && t.time_running ? t.time_running : t.last_updated;
      rows.appendChild(h("tr", { "data-id": t.id, "data-status": t.category },
        h("td", { class: "name" }, link),
        paramCell,
        h("td", {}, String(t.priority)),
        h("td", { title: "first scheduled " + fmtTime(t.start_time) }, fmtTime(when)),
        h("td", {}, statusBadge(t.category)),
        h("td", {}, t.worker_running || "")));
    }
    clear(tbody).appendChild(rows);
    emptyNote.hidden = page.tasks.length > 0;
    table.hidden = page.tasks.length === 0;
    const first = page.matched === 0 ? 0 : page.offset + 1;
    const last = page.offset + page.tasks.length;
    const inAll = page.matched !== page.total ? " (" + page.total + " tasks in all)" : "";
    pageInfo.textContent = page.tasks.length === 0 && page.matched > 0
      ? "page " + state.page + " is past the last of " + page.matched + inAll
      : first + "–" + last + " of " + page.matched + inAll;
    prev.disabled = state.page <= 1;
    next.disabled = last >= page.matched;
  }

  refresh();
  const timer = setInterval(() => { if (document.visibilityState === "visible" && !dialogOpen()) refresh(); }, POLL_MS);
  return {
    update(params) {
      state = readListParams(params);
      if (document.activeElement !== search) search.value = state.search;
      sizeSelect.value = String(state.size);
      refresh();
    },
    dispose() { clearInterval(timer); clearTimeout(searchTimer); },
  };
};

function readListParams(params) {
  const size = Number(params.get("size"));
  return {
    status: params.get("status") || "",
    family: params.get("family") || "",
    search: params.get("search") || "",
    sort: params.get("sort") || "time",
    dir: params.get("dir") || (["name", "status", "worker"].includes(params.get("sort")) ? "asc" : "desc"),
    page: Math.max(1, Number(params.get("page")) || 1),
    size: PAGE_SIZES.includes(size) ? size : 50,
  };
}

function writeListParams(state) {
  return { status: state.status, family: state.family, search: state.search, sort: state.sort === "time" ? "" : state.sort,
    dir: state.dir, page: state.page > 1 ? state.page : "", size: state.size === 50 ? "" : state.size };
}

/** Python workers send the error as a JSON-encoded string (`json.dumps`); show its text. */
function decodeError(error) {
  if (typeof error === "string" && error.startsWith("\"")) {
    try {
      const text = JSON.parse(error);
      if (typeof text === "string") return text;
    } catch (_) { /* not JSON: show as sent */ }
  }
  return String(error);
}

// ----- task detail --------------------------------------------------------------------------

views.task = function (main, params) {
  let id = params.get("id") || "";
  let typing = false;
  let messageNote = "";   // the last message exchange, kept across refreshes
  const body = h("div", { id: "task-detail" });
  main.appendChild(body);

  async function refresh() {
    if (dialogOpen() || typing) return;
    try {
      const page = await visApi("tasks", { id, limit: 1 });
      updateHeader(page);
      const task = page.tasks[0];
      let error = null;
      if (task && (task.status === "FAILED" || task.status === "DISABLED")) {
        const reply = await rpc("fetch_error", { task_id: id });
        error = reply && reply.error && decodeError(reply.error);
      }
      render(task, error);
      showError(null);
    } catch (err) { showError(err); }
  }

  function render(task, error) {
    clear(body);
    if (!task) {
      body.appendChild(h("div", { class: "empty" }, "The scheduler does not know the task " + id + " (it may have been pruned)."));
      return;
    }
    body.appendChild(h("h1", { id: "task-title" }, task.display_name, " ", statusBadge(task.category)));
    body.appendChild(actionsPanel(task));
    if (task.blocked_by && task.blocked_by.length) {
      body.appendChild(h("div", { class: "panel", id: "blocked-by" },
        h("h2", {}, task.category === "UPSTREAM_DISABLED" ? "Waiting for these disabled tasks" : "Waiting for these failed tasks"),
        h("ul", {}, task.blocked_by.map((b) => h("li", {}, h("a", { href: taskHash(b.id) }, b.display_name), " ", statusBadge(b.status))))));
    }
    const fields = [
      ["Task id", task.id], ["Family", task.name], ["Module", task.module || ""],
      ["Status", task.status + (task.category !== task.status ? " (" + CATEGORY_LABEL[task.category] + ")" : "")],
      ["Priority", String(task.priority)], ["Worker running it", task.worker_running || ""],
      ["Workers", task.workers.join(", ")], ["First scheduled", fmtTime(task.start_time)],
      ["Last status change", fmtTime(task.last_updated)], ["Started running", fmtTime(task.time_running)],
    ];
    if (task.time_running && task.status === "RUNNING") fields.push(["Running for", fmtDuration(Date.now() / 1000 - task.time_running)]);
    const dl = h("dl", { class: "fields", id: "task-fields" });
    for (const [k, v] of fields) { dl.appendChild(h("dt", {}, k)); dl.appendChild(h("dd", {}, v)); }
    dl.appendChild(h("dt", {}, "Graph"));
    dl.appendChild(h("dd", {}, h("a", { href: graphHash(task.id, "deps"), id: "deps-link" }, "dependencies (" + task.num_deps + ")"), " · ",
      h("a", { href: graphHash(task.id, "dependents"), id: "dependents-link" }, "dependents (" + task.num_dependents + ")")));
    if (scheduler.history) {
      dl.appendChild(h("dt", {}, "History"));
      dl.appendChild(h("dd", {}, h("a", { href: HISTORY + "/by_task_id/" + encodeURIComponent(task.id) }, "this task's runs"), " · ",
        h("a", { href: HISTORY + "/by_name/" + encodeURIComponent(task.name) }, "runs of " + task.name)));
    }
    body.appendChild(h("div", { class: "panel" }, h("h2", {}, "Task"), dl));

    const status = h("div", { class: "panel", id: "task-progress" }, h("h2", {}, "Progress"));
    if (task.progress_percentage !== null && task.progress_percentage !== undefined) {
      status.appendChild(h("div", {}, h("progress", { max: 100, value: Number(task.progress_percentage) }), " " + task.progress_percentage + " %"));
    }
    if (task.status_message) status.appendChild(h("pre", { class: "response", id: "status-message" }, task.status_message));
    if (task.tracking_url) status.appendChild(h("div", {}, "Tracking URL: ", safeLink(task.tracking_url)));
    if (status.children.length > 1) body.appendChild(status);

    const paramTable = h("table", { id: "task-params" }, h("thead", {}, h("tr", {}, h("th", {}, "Parameter"), h("th", {}, "Value"))),
      h("tbody", {}, Object.entries(task.params).map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", { class: "params" }, v)))));
    body.appendChild(h("div", { class: "panel" }, h("h2", {}, "Parameters"), Object.keys(task.params).length ? paramTable : h("span", { class: "muted" }, "none")));
    if (error) body.appendChild(h("div", { class: "panel" }, h("h2", {}, "Error"), h("pre", { class: "error", id: "task-error" }, error)));
  }

  function actionsPanel(task) {
    const panel = h("div", { class: "actions panel", id: "task-actions" });
    const act = (label, cls, question, method, data) => h("button", { type: "button", class: cls, "data-action": method, onclick: async () => {
      if (!(await confirmAction(question))) return;
      try { await rpc(method, data); await refresh(); } catch (err) { showError(err); }
    } }, label);
    if (task.re_enable_able) panel.appendChild(act("Re-enable", "primary", "Re-enable " + task.display_name + "?", "re_enable_task", { task_id: task.id }));
    if (task.status === "FAILED") panel.appendChild(act("Forgive failures", "primary", "Forgive the failures of " + task.display_name + "? It becomes pending and can run again.", "forgive_failures", { task_id: task.id }));
    if (["RUNNING", "FAILED", "DISABLED"].includes(task.status)) panel.appendChild(act("Mark as done", "danger", "Mark " + task.display_name + " as done? Its dependents may then run without its output.", "mark_as_done", { task_id: task.id }));
    if (task.accepts_messages && task.worker_running) {
      const text = h("input", { type: "text", id: "message-text", placeholder: "Message to the running task" });
      const out = h("div", { id: "message-response" }, messageNote ? h("div", { class: "response" }, messageNote) : null);
      const note = (text) => { messageNote = text; clear(out).appendChild(h("div", { class: "response" }, text)); };
      text.addEventListener("focus", () => { typing = true; });
      text.addEventListener("blur", () => { typing = text.value !== ""; });
      const send = h("button", { type: "button", id: "send-message", onclick: async () => {
        if (!(await confirmAction("Send the message \"" + text.value + "\" to " + task.display_name + "?"))) return;
        try {
          const reply = await rpc("send_scheduler_message", { worker: task.worker_running, task: task.id, content: text.value });
          note("Sent; waiting for the task's answer…");
          const deadline = Date.now() + 30000;
          while (Date.now() < deadline) {
            const answer = await rpc("get_scheduler_message_response", { task_id: task.id, message_id: reply.message_id });
            if (answer && answer.response !== null && answer.response !== undefined) {
              note("Response: " + (typeof answer.response === "string" ? answer.response : JSON.stringify(answer.response)));
              return;
            }
            await new Promise((r) => setTimeout(r, 500));
          }
          note("No answer within 30 s.");
        } catch (err) { showError(err); } finally { typing = false; }
      } }, "Send message");
      panel.appendChild(h("span", {}, text, " ", send, out));
    }
    if (!panel.children.length) panel.appendChild(h("span", { class: "muted" }, "No actions for a task in this state."));
    return panel;
  }

  refresh();
  const timer = setInterval(() => { if (document.visibilityState === "visible") refresh(); }, POLL_MS);
  return {
    update(p) { id = p.get("id") || ""; typing = false; messageNote = ""; refresh(); },
    dispose() { clearInterval(timer); },
  };
};

// ----- dependency graph ---------------------------------------------------------------------

const NODE_W = 210, NODE_H = 30, GAP_X = 16, GAP_Y = 64, ROW_MAX = 30;

views.graph = function (main, params) {
  const id = params.get("id") || "";
  const dir = params.get("dir") === "dependents" ? "dependents" : "deps";
  const limit = Number(params.get("limit")) || 300;
  const includeDone = params.get("done") !== "0";
  const title = h("h1", {}, (dir === "deps" ? "Dependencies of " : "Dependents of ") + id);
  const switcher = h("div", { class: "toolbar" },
    h("a", { href: graphHash(id, dir === "deps" ? "dependents" : "deps") }, dir === "deps" ? "Show dependents instead" : "Show dependencies instead"),
    h("a", { href: taskHash(id) }, "Task details"),
    h("a", { href: "#/graph?" + new URLSearchParams({ id, dir, limit, done: includeDone ? "0" : "1" }) }, includeDone ? "Hide done tasks" : "Show done tasks"));
  const notice = h("div", { id: "graph-notice" });
  const legend = h("div", { class: "legend" }, CATEGORIES.map(([c, l]) => h("span", { class: "c-" + c }, l)));
  const svg = s("svg", { id: "graph-svg", xmlns: SVG_NS });
  const viewport = s("g", { id: "viewport" });
  svg.appendChild(viewport);
  const zoom = { x: 20, y: 20, k: 1 };
  const apply = () => viewport.setAttribute("transform", "translate(" + zoom.x + "," + zoom.y + ") scale(" + zoom.k + ")");
  const zoomBy = (factor, cx, cy) => {
    const k = Math.min(4, Math.max(0.02, zoom.k * factor));
    zoom.x = cx - (cx - zoom.x) * (k / zoom.k);
    zoom.y = cy - (cy - zoom.y) * (k / zoom.k);
    zoom.k = k;
    apply();
  };
  const controls = h("div", { class: "graph-controls" },
    h("button", { type: "button", id: "zoom-in", onclick: () => zoomBy(1.25, svg.clientWidth / 2, svg.clientHeight / 2) }, "+"),
    h("button", { type: "button", id: "zoom-out", onclick: () => zoomBy(0.8, svg.clientWidth / 2, svg.clientHeight / 2) }, "−"),
    h("button", { type: "button", id: "zoom-fit", onclick: () => fit() }, "Fit"));
  const wrap = h("div", { id: "graph-wrap" }, svg, controls);
  main.append(title, switcher, notice, legend, wrap);
  let extent = { w: 1, h: 1 };

  svg.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = svg.getBoundingClientRect();
    zoomBy(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  let drag = null;
  svg.addEventListener("pointerdown", (e) => {
    if (e.target.closest && e.target.closest(".node")) return;
    drag = { x: e.clientX, y: e.clientY, zx: zoom.x, zy: zoom.y };
    svg.classList.add("dragging");
  });
  window.addEventListener("pointermove", onMove);
  window.addEventListener("pointerup", onUp);
  function onMove(e) { if (drag) { zoom.x = drag.zx + e.clientX - drag.x; zoom.y = drag.zy + e.clientY - drag.y; apply(); } }
  function onUp() { drag = null; svg.classList.remove("dragging"); }

  function fit() {
    const w = svg.clientWidth || 800, hgt = svg.clientHeight || 600;
    zoom.k = Math.min(1, Math.max(0.02, Math.min((w - 40) / extent.w, (hgt - 40) / extent.h)));
    zoom.x = Math.max(20, (w - extent.w * zoom.k) / 2);
    zoom.y = 20;
    apply();
  }

  (async () => {
    const started = performance.now();
    try {
      const graph = await visApi("graph", { id, dir, limit, include_done: includeDone });
      draw(graph);
      if (graph.truncated) {
        const larger = Math.min(3000, graph.max_graph_nodes, graph.limit * 4);
        notice.appendChild(h("div", { class: "notice", id: "graph-truncated" },
          "Graph truncated: showing the first " + graph.nodes.length + " tasks of a larger graph (display limit " + graph.limit +
          ", scheduler max_graph_nodes " + graph.max_graph_nodes + "). Tasks with a dashed border have " +
          (dir === "deps" ? "dependencies" : "dependents") + " that are not drawn; the number beside them says how many. ",
          larger > graph.limit ? h("a", { href: "#/graph?" + new URLSearchParams({ id, dir, limit: larger, done: includeDone ? "1" : "0" }) }, "Draw up to " + larger + " tasks") : ""));
      }
      vis.graphMs = performance.now() - started;
      document.body.dataset.graph = "ready";
      showError(null);
    } catch (err) {
      notice.appendChild(h("div", { class: "empty" }, String(err.message || err)));
      document.body.dataset.graph = "error";
    }
  })();

  function draw(graph) {
    const nodes = graph.nodes;
    // Layers by breadth-first depth; long layers wrap into rows of ROW_MAX.
    const layers = [];
    for (let i = 0; i < nodes.length; i++) (layers[nodes[i].layer] = layers[nodes[i].layer] || []).push(i);
    const parents = nodes.map(() => []);
    nodes.forEach((n, i) => n.next.forEach((j) => parents[j].push(i)));
    const pos = new Array(nodes.length);
    let y = 0, width = NODE_W;
    for (const layer of layers) {
      if (!layer) continue;
      // Order by the mean position of already placed parents (one barycentre sweep).
      const key = (i) => {
        const placed = parents[i].filter((p) => pos[p]);
        return placed.length ? placed.reduce((sum, p) => sum + pos[p].x, 0) / placed.length : 0;
      };
      const ordered = layer.map((i) => [key(i), i]).sort((a, b) => a[0] - b[0]).map((x) => x[1]);
      for (let r = 0; r < ordered.length; r += ROW_MAX) {
        const row = ordered.slice(r, r + ROW_MAX);
        row.forEach((i, col) => { pos[i] = { x: col * (NODE_W + GAP_X), y }; });
        width = Math.max(width, row.length * (NODE_W + GAP_X));
        y += NODE_H + (r + ROW_MAX < ordered.length ? GAP_Y / 2 : GAP_Y);
      }
    }
    // Centre each row.
    const rows = new Map();
    pos.forEach((p, i) => { if (!rows.has(p.y)) rows.set(p.y, []); rows.get(p.y).push(i); });
    for (const ids of rows.values()) {
      const rowWidth = ids.length * (NODE_W + GAP_X);
      const shift = (width - rowWidth) / 2;
      ids.forEach((i) => { pos[i].x += shift; });
    }
    extent = { w: width, h: y };
    const edges = s("g", { class: "edges" });
    const boxes = s("g", { class: "nodes" });
    nodes.forEach((n, i) => {
      for (const j of n.next) {
        const a = pos[i], b = pos[j];
        const x1 = a.x + NODE_W / 2, y1 = a.y + NODE_H, x2 = b.x + NODE_W / 2, y2 = b.y;
        const my = (y1 + y2) / 2;
        edges.appendChild(s("path", { class: "edge", "data-from": n.id, "data-to": nodes[j].id,
          d: "M" + x1 + "," + y1 + " C" + x1 + "," + my + " " + x2 + "," + my + " " + x2 + "," + y2 }));
      }
      const label = n.display_name.length > 30 ? n.display_name.slice(0, 29) + "…" : n.display_name;
      const g = s("g", { class: "node c-" + n.category + (i === 0 ? " root" : "") + (n.hidden ? " cut" : ""), "data-id": n.id, "data-status": n.category,
        transform: "translate(" + pos[i].x + "," + pos[i].y + ")" },
      s("title", {}, n.display_name + " — " + (CATEGORY_LABEL[n.category] || n.category) + (n.hidden ? " — " + n.hidden + " not drawn" : "")),
      s("rect", { width: NODE_W, height: NODE_H, rx: 5 }),
      s("text", { x: 8, y: 19 }, label),
      n.hidden ? s("text", { x: NODE_W + 3, y: 19, class: "more" }, "+" + n.hidden) : null);
      g.addEventListener("click", () => { location.hash = taskHash(n.id); });
      boxes.appendChild(g);
    });
    viewport.append(edges, boxes);
    fit();
  }

  return { dispose() { window.removeEventListener("pointermove", onMove); window.removeEventListener("pointerup", onUp); delete document.body.dataset.graph; } };
};

// ----- workers ------------------------------------------------------------------------------

views.workers = function (main) {
  const body = h("div", { id: "workers" });
  main.append(h("h1", {}, "Workers"), body);
  async function refresh() {
    if (dialogOpen() || editing(body)) return;
    try {
      refreshHeader();
      const workers = await rpc("worker_list", { include_running: true });
      clear(body);
      if (!workers.length) { body.appendChild(h("div", { class: "empty" }, "No workers are connected.")); return; }
      const head = ["Worker", "State", "Host", "User", "Pid", "Processes", "Started", "Last active", "Running", "Pending", "Unique pending", "Running tasks", "Actions"];
      body.appendChild(h("table", { id: "worker-table" }, h("thead", {}, h("tr", {}, head.map((c) => h("th", {}, c)))),
        h("tbody", {}, workers.map(workerRow))));
      showError(null);
    } catch (err) { showError(err); }
  }
  function workerRow(w) {
    const running = Object.entries(w.running || {}).map(([tid, t]) => h("div", {}, h("a", { href: taskHash(tid) }, t.display_name || tid)));
    const actions = h("td", { class: "worker-actions" });
    if (w.state !== "disabled") {
      const n = h("input", { type: "number", min: 0, value: w.workers === undefined ? 1 : w.workers, class: "processes", "aria-label": "processes" });
      actions.append(n,
        h("button", { type: "button", class: "set-processes", onclick: async () => {
          const count = Number(n.value);
          if (!Number.isInteger(count) || count < 0) { showError("Processes must be a whole number"); return; }
          if (!(await confirmAction("Ask worker " + w.name + " to use " + count + " processes?"))) return;
          try { await rpc("set_worker_processes", { worker: w.name, n: count }); n.blur(); await refresh(); } catch (err) { showError(err); }
        } }, "Set processes"),
        h("button", { type: "button", class: "danger disable-worker", onclick: async () => {
          if (!(await confirmAction("Disable worker " + w.name + "? It gets no new tasks."))) return;
          try { await rpc("disable_worker", { worker: w.name }); await refresh(); } catch (err) { showError(err); }
        } }, "Disable"));
    }
    return h("tr", { class: "worker", "data-worker": w.name },
      h("td", { class: "params", title: w.first_task_display_name ? "first task: " + w.first_task_display_name : null }, w.name),
      h("td", {}, w.state), h("td", {}, w.host || ""), h("td", {}, w.username || ""), h("td", {}, String(w.pid || "")),
      h("td", {}, w.workers === undefined ? "" : String(w.workers)), h("td", {}, fmtTime(w.started)), h("td", {}, fmtTime(w.last_active)),
      h("td", {}, String(w.num_running)), h("td", {}, String(w.num_pending)), h("td", {}, String(w.num_uniques)),
      h("td", {}, running), actions);
  }
  refresh();
  const timer = setInterval(refresh, POLL_MS);
  return { dispose() { clearInterval(timer); } };
};

// ----- resources ----------------------------------------------------------------------------

views.resources = function (main) {
  const body = h("div", { id: "resources" });
  main.append(h("h1", {}, "Resources"), body);
  async function refresh() {
    if (dialogOpen() || editing(body)) return;
    try {
      refreshHeader();
      const resources = await rpc("resource_list", {});
      clear(body);
      if (!resources.length) { body.appendChild(h("div", { class: "empty" }, "No resources are configured ([resources] in the configuration).")); return; }
      const rows = resources.map((r) => {
        const amount = h("input", { type: "number", min: 0, value: r.num_total, class: "capacity" });
        const tasks = Object.entries(r.running || {}).map(([tid, t]) => h("div", {}, h("a", { href: taskHash(tid) }, t.display_name || tid)));
        return h("tr", { "data-resource": r.name }, h("td", {}, r.name), h("td", {}, String(r.num_used)), h("td", {}, String(r.num_total)),
          h("td", {}, tasks),
          h("td", {}, amount, " ", h("button", { type: "button", class: "set-capacity", onclick: async () => {
            const value = Number(amount.value);
            if (!Number.isInteger(value) || value < 0) { showError("Capacity must be a whole number"); return; }
            if (!(await confirmAction("Set the capacity of " + r.name + " to " + value + "?"))) return;
            try {
              const ok = await rpc("update_resource", { resource: r.name, amount: value });
              if (ok === false) showError("The scheduler refused the capacity " + value);
              amount.blur();
              await refresh();
            } catch (err) { showError(err); }
          } }, "Set capacity")));
      });
      body.appendChild(h("table", { id: "resource-table" }, h("thead", {}, h("tr", {}, ["Resource", "In use", "Capacity", "Running tasks", "Change capacity"].map((c) => h("th", {}, c)))), h("tbody", {}, rows)));
      showError(null);
    } catch (err) { showError(err); }
  }
  refresh();
  const timer = setInterval(refresh, POLL_MS);
  return { dispose() { clearInterval(timer); } };
};

// ----- start --------------------------------------------------------------------------------

document.getElementById("pause-btn").addEventListener("click", togglePause);
window.addEventListener("hashchange", route);
route();
if (vis.view !== "tasks" && vis.view !== "task") refreshHeader();
