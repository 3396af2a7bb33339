"use strict";
// The dashboard's main loop: poll /api/cluster (at most 4 times a second),
// listen to /api/events, and apply everything to the DOM in one
// requestAnimationFrame, so a burst of data costs one layout, not hundreds.

/** Shortest time between two polls of /api/cluster. */
const POLL_INTERVAL_MS = 250;
/** Poll interval while the control plane does not answer. */
const POLL_RETRY_MS = 1000;
/** Time between two reads of every node's /metrics. */
const METRICS_INTERVAL_MS = 1000;
/** Time between two cache listings. */
const CACHE_INTERVAL_MS = 2000;
/** Timeline lines kept; older ones are removed. */
const TIMELINE_MAX_LINES = 200;
/** Log entries shown per node (the node publishes its last 24). */
const LOG_TAIL_SLOTS = 24;
/** Message kinds shown in the traffic table, in this order. */
const MESSAGE_KINDS = ["append", "heartbeat", "vote", "pre_vote", "forward", "timeout_now"];

const $ = (id) => document.getElementById(id);
const nodeName = (number) => (number === null || number === undefined ? "—" : `node${number}`);

const state = {
  cluster: null,          // last /api/cluster answer
  previous: null,         // {t, traffic, leader, commit} of the poll before
  rates: {},              // messages/s by kind, plus dropped and duplicated
  polls: 0,
  dirty: false,           // cluster changed since the last frame
  pendingEvents: [],      // SSE events not yet in the DOM
  cards: new Map(),       // node id -> {card, fields...}
  metricsPrevious: new Map(), // node id -> {t, errors, writes_ok, latency_sum, latency_count}
  cacheRows: [],          // [{key, value, expires_at (performance.now ms) | null}]
  cacheDirty: false,
  pollWaiter: null,       // wakes the poll loop early after an event or action
};

const topology = new Topology($("topology"));
const charts = {
  commits: new LineChart($("chart-commits"), [
    { name: "commits/s", color: PALETTE[0] },
    { name: "writes ok/s", color: PALETTE[1], dash: [6, 4] },
  ]),
  messages: new LineChart($("chart-messages"), [
    { name: "append", color: PALETTE[0] },
    { name: "heartbeat", color: PALETTE[2] },
    { name: "vote+pre", color: PALETTE[1] },
    { name: "dropped", color: PALETTE[5], dash: [6, 4] },
  ]),
  errors: new LineChart($("chart-errors"), [{ name: "5xx/s", color: PALETTE[5] }]),
  latency: new LineChart($("chart-latency"), [{ name: "mean ms", color: PALETTE[3] }]),
};

// ---------------------------------------------------------------- polling

async function pollForever() {
  for (;;) {
    const started = performance.now();
    let wait = POLL_INTERVAL_MS;
    try {
      const response = await fetch("/api/cluster", { cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      absorbCluster(await response.json(), performance.now() / 1000);
      setPill("conn-poll", "ok", "cluster: live");
    } catch (problem) {
      setPill("conn-poll", "error", `cluster: ${problem.message || problem}`);
      wait = POLL_RETRY_MS;
    }
    const remaining = Math.max(POLL_INTERVAL_MS, wait) - (performance.now() - started);
    await new Promise((wake) => {
      const timer = setTimeout(wake, Math.max(0, remaining));
      // An event or an action may cut the wait short, never below the interval.
      state.pollWaiter = () => { clearTimeout(timer); setTimeout(wake, Math.max(0, POLL_INTERVAL_MS - (performance.now() - started))); };
    });
    state.pollWaiter = null;
  }
}

function pollSoon() {
  if (state.pollWaiter) state.pollWaiter();
}

/** Stores one /api/cluster answer and derives rates from the one before. */
function absorbCluster(cluster, t) {
  const leader = currentLeader(cluster);
  const previous = state.previous;
  if (previous) {
    const dt = t - previous.t;
    if (dt > 0) {
      const delta = (now, before) => Math.max(0, (now || 0) - (before || 0)) / dt;
      const rates = {};
      for (const kind of MESSAGE_KINDS) rates[kind] = delta(cluster.traffic.delivered[kind], previous.traffic.delivered[kind]);
      rates.dropped = delta(cluster.traffic.dropped, previous.traffic.dropped);
      rates.duplicated = delta(cluster.traffic.duplicated, previous.traffic.duplicated);
      state.rates = rates;
      // Commits/s only across two polls of the same leader: a new leader's
      // commit index may start behind the old one's.
      const commits = leader && previous.leader === leader.id ? delta(leader.status.commit_index, previous.commit) : null;
      charts.commits.push(t, [commits, state.lastWritesOk === undefined ? null : state.lastWritesOk]);
      charts.messages.push(t, [rates.append, rates.heartbeat, rates.vote + rates.pre_vote, rates.dropped]);
    }
  }
  state.previous = { t, traffic: cluster.traffic, leader: leader ? leader.id : null, commit: leader ? leader.status.commit_index : 0 };
  state.cluster = cluster;
  state.polls += 1;
  state.dirty = true;
}

/** The running leader with the highest term, or null. */
function currentLeader(cluster) {
  let best = null;
  for (const node of cluster.nodes) {
    if (node.process === "running" && node.status && node.status.role === "leader") {
      if (!best || node.status.term > best.status.term) best = node;
    }
  }
  return best;
}

// --------------------------------------------------------- nodes and cards

function buildCards(nodes) {
  const container = $("nodes");
  container.textContent = "";
  state.cards.clear();
  for (const node of nodes) {
    const card = document.createElement("article");
    card.className = "node";
    card.dataset.node = node.id;
    card.innerHTML = `
      <h3><span>${node.id}</span><span class="role"></span></h3>
      <dl>
        <dt>term</dt><dd data-field="term"></dd><dt>vote</dt><dd data-field="vote"></dd>
        <dt>commit</dt><dd data-field="commit"></dd><dt>applied</dt><dd data-field="applied"></dd>
        <dt>leader</dt><dd data-field="leader"></dd><dt>log</dt><dd data-field="last" title="last log index and its term"></dd>
      </dl>
      <div class="log-tail" title="last ${LOG_TAIL_SLOTS} log indexes, aligned across nodes; number = term"></div>
      <div class="actions">
        <button id="kill-${node.id}" class="danger">kill</button>
        <button id="restart-${node.id}">restart</button>
        <button id="pause-${node.id}">pause</button>
        <button id="resume-${node.id}">resume</button>
        <button id="transfer-${node.id}" title="transfer leadership to ${node.id}">make leader</button>
      </div>`;
    const tail = card.querySelector(".log-tail");
    const slots = [];
    for (let i = 0; i < LOG_TAIL_SLOTS; i++) slots.push(tail.appendChild(document.createElement("span")));
    for (const action of ["kill", "restart", "pause", "resume"]) {
      card.querySelector(`#${action}-${node.id}`).addEventListener("click", () => control(`/api/nodes/${node.id}/${action}`));
    }
    card.querySelector(`#transfer-${node.id}`).addEventListener("click", () => control("/api/transfer", { to: node.id }));
    const field = (name) => card.querySelector(`[data-field="${name}"]`);
    state.cards.set(node.id, {
      card, slots, role: card.querySelector(".role"),
      term: field("term"), vote: field("vote"), commit: field("commit"), applied: field("applied"),
      leader: field("leader"), last: field("last"),
      buttons: Object.fromEntries(["kill", "restart", "pause", "resume", "transfer"].map((a) => [a, card.querySelector(`#${a}-${node.id}`)])),
    });
    container.appendChild(card);
  }
  buildNodeChoices(nodes);
}

function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

function renderNodes(cluster) {
  if (cluster.nodes.length !== state.cards.size || cluster.nodes.some((node) => !state.cards.has(node.id))) buildCards(cluster.nodes);
  const newest = Math.max(0, ...cluster.nodes.filter((n) => n.status).map((n) => n.status.last_log_index));
  const firstIndex = Math.max(1, newest - LOG_TAIL_SLOTS + 1);
  for (const node of cluster.nodes) {
    const view = state.cards.get(node.id);
    const status = node.status;
    const data = view.card.dataset;
    data.process = node.process;
    data.role = status ? status.role : "none";
    data.term = status ? String(status.term) : "";
    data.leader = status && status.leader !== null ? nodeName(status.leader) : "";
    data.votedFor = status && status.voted_for !== null ? nodeName(status.voted_for) : "";
    data.commit = status ? String(status.commit_index) : "";
    data.applied = status ? String(status.last_applied) : "";
    const icon = { leader: "★ ", candidate: "? ", pre_candidate: "? " }[data.role] || "";
    const roleText = node.process === "killed" ? "✕ killed" : `${icon}${data.role.replace("_", "-")}${node.process === "paused" ? " ⏸ paused" : ""}`;
    setText(view.role, roleText);
    setText(view.term, status ? String(status.term) : "—");
    setText(view.vote, status ? nodeName(status.voted_for) : "—");
    setText(view.commit, status ? String(status.commit_index) : "—");
    setText(view.applied, status ? String(status.last_applied) : "—");
    setText(view.leader, status ? nodeName(status.leader) : "—");
    setText(view.last, status ? `${status.last_log_index} t${status.last_log_term}` : "—");
    const terms = new Map(status ? status.log_tail_terms : []);
    view.slots.forEach((slot, i) => {
      const index = firstIndex + i;
      const term = terms.get(index);
      const key = term === undefined ? "" : `${index}:${term}:${index <= status.commit_index}`;
      if (slot.dataset.key === key) return;
      slot.dataset.key = key;
      if (term === undefined) {
        slot.textContent = ""; slot.style.background = ""; slot.className = ""; slot.title = "";
        return;
      }
      const colour = PALETTE[term % PALETTE.length];
      slot.textContent = String(term);
      slot.style.background = colour;
      slot.style.color = ["#e69f00", "#56b4e9", "#f0e442"].includes(colour) ? "#111" : "#fff";
      slot.className = index <= status.commit_index ? "" : "uncommitted";
      slot.title = `index ${index}, term ${term}${index <= status.commit_index ? "" : ", not committed"}`;
    });
    const b = view.buttons;
    b.kill.disabled = node.process === "killed";
    b.restart.disabled = node.process !== "killed";
    b.pause.disabled = node.process !== "running";
    b.resume.disabled = node.process !== "paused";
    b.transfer.disabled = node.process !== "running" || data.role === "leader";
  }
  const leader = currentLeader(cluster);
  const summary = $("summary");
  const maxTerm = Math.max(0, ...cluster.nodes.filter((n) => n.status).map((n) => n.status.term));
  summary.dataset.leader = leader ? leader.id : "";
  summary.dataset.term = String(leader ? leader.status.term : maxTerm);
  setText($("summary-leader"), leader ? leader.id : "none");
  setText($("summary-term"), summary.dataset.term);
  document.body.dataset.polls = String(state.polls);
}

function renderTraffic() {
  const table = $("traffic");
  const kinds = [...MESSAGE_KINDS, "dropped", "duplicated"];
  if (table.children.length !== kinds.length * 2) {
    table.innerHTML = kinds.map((kind) => `<span>${kind.replace("_", "-")}</span><b data-kind="${kind}">0</b>`).join("");
  }
  kinds.forEach((kind, i) => setText(table.children[2 * i + 1], formatNumber(state.rates[kind] || 0)));
}

// ----------------------------------------------------------------- controls

async function control(path, body) {
  const result = $("control-result");
  try {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    result.dataset.ok = String(response.ok);
    result.textContent = response.ok ? `✓ ${path.replace("/api/", "")}${body ? " " + JSON.stringify(body) : ""}` : `✗ ${answer.error || response.status}`;
  } catch (problem) {
    result.dataset.ok = "false";
    result.textContent = `✗ ${problem.message || problem}`;
  }
  pollSoon();
}

function buildNodeChoices(nodes) {
  const groups = $("partition-groups");
  groups.innerHTML = nodes.map((node, i) => `<span>${node.id}</span>` + ["A", "B", "C"].map((group) =>
    `<label><input type="radio" name="group-${node.id}" id="group-${node.id}-${group.toLowerCase()}" value="${group}"${(i === 0 ? "A" : "B") === group ? " checked" : ""}> ${group}</label>`).join("")).join("");
  const options = nodes.map((node) => `<option value="${node.id}">${node.id}</option>`).join("");
  $("link-from").innerHTML = `<option value="*">any</option>${options}`;
  $("link-to").innerHTML = `<option value="*">any</option>${options}`;
  $("kv-node").innerHTML = options;
  $("cache-node").innerHTML = `<option value="">leader</option>${options}`;
}

$("partition-apply").addEventListener("click", () => {
  const groups = { A: [], B: [], C: [] };
  for (const input of document.querySelectorAll("#partition-groups input:checked")) groups[input.value].push(input.name.replace("group-", ""));
  control("/api/partition", { groups: Object.values(groups).filter((group) => group.length) });
});
$("partition-isolate-leader").addEventListener("click", () => {
  const leader = state.cluster && currentLeader(state.cluster);
  if (!leader) { $("control-result").dataset.ok = "false"; $("control-result").textContent = "✗ there is no leader to isolate"; return; }
  const others = state.cluster.nodes.map((node) => node.id).filter((id) => id !== leader.id);
  control("/api/partition", { groups: [[leader.id], others] });
});
$("heal").addEventListener("click", () => control("/api/heal"));
const sliders = {
  "link-drop": (v) => `${v}%`, "link-delay": (v) => `${v} ms`, "link-jitter": (v) => `${v} ms`, "link-duplicate": (v) => `${v}%`,
};
for (const [id, format] of Object.entries(sliders)) {
  $(id).addEventListener("input", () => { document.querySelector(`output[for="${id}"]`).textContent = format($(id).value); });
}
$("link-apply").addEventListener("click", () => control("/api/links", {
  from: $("link-from").value, to: $("link-to").value,
  drop: Number($("link-drop").value) / 100, delay_ms: Number($("link-delay").value),
  jitter_ms: Number($("link-jitter").value), duplicate: Number($("link-duplicate").value) / 100,
}));

// -------------------------------------------------------------------- cache

async function cacheRequest(method) {
  const node = $("kv-node").value, key = $("kv-key").value;
  const output = $("kv-result");
  if (!key) { output.dataset.ok = "false"; output.textContent = "a key is needed"; return; }
  let body;
  if (method === "POST") {
    const text = $("kv-value").value;
    let value;
    try { value = JSON.parse(text); } catch { value = text; }
    body = { value };
    const ttl = $("kv-ttl").value.trim();
    if (ttl) body.ttl = Number(ttl);
    body = JSON.stringify(body);
  }
  output.textContent = `${method} ${key} through ${node}…`;
  try {
    const started = performance.now();
    const response = await fetch(`/api/nodes/${node}/cache/${encodeURIComponent(key)}`, {
      method, body, headers: body ? { "Content-Type": "application/json" } : {},
    });
    const ms = (performance.now() - started).toFixed(0);
    const text = await response.text();
    const leader = response.headers.get("x-raft-leader");
    output.dataset.ok = String(response.ok);
    output.textContent = `HTTP ${response.status} from ${node} in ${ms} ms${leader ? ` · leader ${leader}` : ""}\n${text}`;
  } catch (problem) {
    output.dataset.ok = "false";
    output.textContent = `${problem.message || problem}`;
  }
  pollSoon();
  refreshCache();
}
$("kv-set").addEventListener("click", () => cacheRequest("POST"));
$("kv-get").addEventListener("click", () => cacheRequest("GET"));
$("kv-delete").addEventListener("click", () => cacheRequest("DELETE"));
$("cache-node").addEventListener("change", () => refreshCache());

async function refreshCache() {
  const cluster = state.cluster;
  if (!cluster) return;
  let node = $("cache-node").value;
  if (!node) {
    const leader = currentLeader(cluster);
    const running = cluster.nodes.find((n) => n.process !== "killed");
    node = leader ? leader.id : running ? running.id : null;
  }
  if (!node) return;
  try {
    const response = await fetch(`/api/nodes/${node}/keys?limit=100`, { cache: "no-store" });
    const listing = await response.json();
    if (!response.ok) throw new Error(listing.error || response.status);
    const now = performance.now();
    state.cacheRows = listing.keys.map((entry) => ({
      key: entry.key, value: entry.value,
      expires_at: entry.ttl_remaining === null ? null : now + entry.ttl_remaining * 1000,
    }));
    state.cacheCount = `${node}: ${listing.count} live key${listing.count === 1 ? "" : "s"}${listing.count > listing.keys.length ? `, first ${listing.keys.length} shown` : ""} · applied index ${listing.applied_index}`;
  } catch (problem) {
    state.cacheRows = [];
    state.cacheCount = `${node}: ${problem.message || problem}`;
  }
  state.cacheDirty = true;
}

function renderCache() {
  setText($("cache-count"), state.cacheCount || "");
  const body = document.querySelector("#cache-table tbody");
  const now = performance.now();
  const ttl = (row) => (row.expires_at === null ? "∞" : `${Math.max(0, (row.expires_at - now) / 1000).toFixed(1)} s`);
  if (state.cacheDirty) {
    state.cacheDirty = false;
    const fragment = document.createDocumentFragment();
    for (const row of state.cacheRows) {
      const tr = document.createElement("tr");
      tr.dataset.key = row.key;
      for (const text of [row.key, row.value, ttl(row)]) tr.appendChild(document.createElement("td")).textContent = text;
      fragment.appendChild(tr);
    }
    body.replaceChildren(fragment);
  } else {
    state.cacheRows.forEach((row, i) => { if (row.expires_at !== null && body.children[i]) setText(body.children[i].lastChild, ttl(row)); });
  }
}

// ------------------------------------------------------------------ metrics

/** Sums one node's Prometheus text into the numbers the charts need. */
function parseMetrics(text) {
  const totals = { errors: 0, writes_ok: 0, latency_sum: 0, latency_count: 0 };
  const writeRoutes = new Set(["set", "delete", "clear"]);
  for (const line of text.split("\n")) {
    const match = /^raftcache_(http_requests_total|http_request_duration_seconds_sum|http_request_duration_seconds_count)\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels = Object.fromEntries([...match[2].matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const value = Number(match[3]);
    if (match[1] === "http_requests_total") {
      const status = Number(labels.status);
      if (status >= 500) totals.errors += value;
      if (writeRoutes.has(labels.route) && status < 300) totals.writes_ok += value;
    } else if (writeRoutes.has(labels.route)) {
      if (match[1].endsWith("_sum")) totals.latency_sum += value; else totals.latency_count += value;
    }
  }
  return totals;
}

async function refreshMetrics() {
  const cluster = state.cluster;
  if (!cluster) return;
  const t = performance.now() / 1000;
  let errors = 0, writesOk = 0, latencySum = 0, latencyCount = 0, measured = false;
  await Promise.all(cluster.nodes.filter((node) => node.process === "running").map(async (node) => {
    try {
      const response = await fetch(`/api/nodes/${node.id}/metrics`, { cache: "no-store" });
      if (!response.ok) return;
      const now = parseMetrics(await response.text());
      const before = state.metricsPrevious.get(node.id);
      state.metricsPrevious.set(node.id, { t, ...now });
      if (!before) return;
      const dt = t - before.t;
      // A restarted node counts from zero again: never a negative rate.
      const delta = (field) => (now[field] >= before[field] ? now[field] - before[field] : now[field]);
      errors += delta("errors") / dt;
      writesOk += delta("writes_ok") / dt;
      latencySum += delta("latency_sum");
      latencyCount += delta("latency_count");
      measured = true;
    } catch { /* the node went away meanwhile; the next round sees it */ }
  }));
  if (!measured) return;
  state.lastWritesOk = writesOk;
  charts.errors.push(t, [errors]);
  charts.latency.push(t, [latencyCount > 0 ? (latencySum / latencyCount) * 1000 : null]);
}

function every(interval_ms, task) {
  const run = async () => { try { await task(); } finally { setTimeout(run, interval_ms); } };
  run();
}

// ----------------------------------------------------------------- timeline

function describeEvent(event) {
  const groups = (list) => list.map((group) => `[${group.join(", ")}]`).join(" | ");
  switch (event.type) {
    case "state_changed":
      return [event.role === "follower" ? "state" : "election",
        `${event.node} is ${event.role.replace("_", "-")} in term ${event.term}${event.leader ? `, leader ${event.leader}` : ""}`];
    case "node_started": return ["process", `${event.node} started (${event.recovered_entries} entries recovered)`];
    case "node_killed": return ["process", `${event.node} killed`];
    case "node_failed": return ["fault", `${event.node} failed: ${event.reason}`];
    case "node_paused": return ["process", `${event.node} paused`];
    case "node_resumed": return ["process", `${event.node} resumed`];
    case "partitioned": return ["fault", `partition ${groups(event.groups)}`];
    case "healed": return ["heal", "network healed"];
    case "link_changed":
      return ["fault", `link ${event.from} → ${event.to}: ${describeFault(event) || "no fault"}`];
    case "transfer_requested": return ["election", `leadership transfer to ${event.to} requested`];
    case "lab_step": return ["lab", `lab step ${event.index}: ${event.action}${event.description ? " — " + event.description : ""}`];
    default: return ["state", JSON.stringify(event)];
  }
}

function addTimeline(kind, text, at_ms) {
  state.pendingEvents.push({ kind, text, at: at_ms === undefined ? "" : `${(at_ms / 1000).toFixed(1)} s` });
  // A flood of events only keeps what the timeline can show.
  if (state.pendingEvents.length > TIMELINE_MAX_LINES) state.pendingEvents.splice(0, state.pendingEvents.length - TIMELINE_MAX_LINES);
}

function renderTimeline() {
  if (!state.pendingEvents.length) return;
  const list = $("timeline");
  const fragment = document.createDocumentFragment();
  for (let i = state.pendingEvents.length - 1; i >= 0; i--) {
    const entry = state.pendingEvents[i];
    const line = document.createElement("li");
    line.dataset.kind = entry.kind;
    line.appendChild(document.createElement("time")).textContent = entry.at;
    line.appendChild(document.createTextNode(entry.text));
    fragment.appendChild(line);
  }
  state.pendingEvents = [];
  list.prepend(fragment);
  while (list.children.length > TIMELINE_MAX_LINES) list.lastChild.remove();
  setText($("timeline-count"), `${list.children.length} newest first`);
}

function listen() {
  const source = new EventSource("/api/events");
  let lost = false;
  source.onopen = () => {
    setPill("conn-events", "open", "events: live");
    if (lost) addTimeline("connection", "event stream reconnected (events meanwhile are missing)");
    lost = false;
  };
  source.onerror = () => {
    // EventSource retries by itself; show it, and note the gap once.
    setPill("conn-events", source.readyState === EventSource.CLOSED ? "error" : "connecting", "events: reconnecting…");
    if (!lost) addTimeline("connection", "event stream lost; reconnecting");
    lost = true;
  };
  source.onmessage = (message) => {
    let event;
    try { event = JSON.parse(message.data); } catch { return; }
    const [kind, text] = describeEvent(event);
    addTimeline(kind, text, event.at_ms);
    pollSoon();
  };
}

function setPill(id, pillState, text) {
  const pill = $(id);
  pill.dataset.state = pillState;
  setText(pill, text);
}

// -------------------------------------------------------------------- frame

/** Milliseconds each recent frame spent in this script, for the browser test. */
window.dashboardFrameCosts = [];
/** Frame costs kept. */
const FRAME_COSTS_KEPT = 240;

function frame(now_ms) {
  const started = performance.now();
  if (state.dirty && state.cluster) {
    state.dirty = false;
    renderNodes(state.cluster);
    renderTraffic();
    topology.update(state.cluster, state.rates);
  }
  renderTimeline();
  renderCache();
  const now_s = performance.now() / 1000;
  for (const chart of Object.values(charts)) {
    // Charts scroll with time: redraw at the poll rate, not every frame.
    if (now_s - (chart.drawnAt || 0) > POLL_INTERVAL_MS / 1000) chart.dirty = true;
    if (chart.dirty) { chart.draw(now_s); chart.drawnAt = now_s; }
  }
  topology.animate(now_ms);
  window.dashboardFrameCosts.push(performance.now() - started);
  if (window.dashboardFrameCosts.length > FRAME_COSTS_KEPT) window.dashboardFrameCosts.shift();
  requestAnimationFrame(frame);
}

listen();
pollForever();
every(METRICS_INTERVAL_MS, refreshMetrics);
every(CACHE_INTERVAL_MS, refreshCache);
requestAnimationFrame(frame);
