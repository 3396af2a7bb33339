"use strict";
// The network drawing: nodes on a circle, every pair joined by a link that
// shows the faults in force (partition cut, drop/delay), and dots running
// along the links that carry traffic. The dots are illustrative: the
// network counts messages per kind for the whole cluster, not per link, so
// dots run from the leader to every follower it can reach (or from
// candidates during an election), faster when appends flow.

const SVG_NS = "http://www.w3.org/2000/svg";
const ROLE_COLOURS = {
  leader: "#0072b2", follower: "#009e73", candidate: "#e69f00", pre_candidate: "#f0e442",
  paused: "#cc79a7", killed: "#767676",
};
/** Dots on one busy link. */
const DOTS_PER_LINK = 3;

function svg(tag, attributes, parent) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  if (parent) parent.appendChild(element);
  return element;
}

/** The group index of node `id` in a partition; nodes in no group share one more. */
function partitionGroup(partition, id) {
  const index = partition.findIndex((group) => group.includes(id));
  return index === -1 ? partition.length : index;
}

function connected(faults, a, b) {
  return faults.partition.length === 0 || partitionGroup(faults.partition, a) === partitionGroup(faults.partition, b);
}

/** The fault on messages from `a` to `b`: the last matching rule wins, as in the network. */
function linkFault(faults, a, b) {
  for (let i = faults.links.length - 1; i >= 0; i--) {
    const rule = faults.links[i];
    if ((rule.from === null || rule.from === a) && (rule.to === null || rule.to === b)) return rule.fault;
  }
  return null;
}

function describeFault(fault) {
  if (!fault) return "";
  const parts = [];
  if (fault.drop > 0) parts.push(`drop ${Math.round(fault.drop * 100)}%`);
  if (fault.delay_ms > 0 || fault.jitter_ms > 0) parts.push(`+${fault.delay_ms}${fault.jitter_ms ? "±" + fault.jitter_ms : ""} ms`);
  if (fault.duplicate > 0) parts.push(`dup ${Math.round(fault.duplicate * 100)}%`);
  return parts.join(" ");
}

class Topology {
  constructor(element) {
    this.svg = element;
    this.count = 0;
    this.links = [];   // {a, b, line, label, dots: [circle], flow: null | {from, to, colour, period_s}}
    this.nodes = [];   // {id, circle, name, term}
  }

  build(ids) {
    this.svg.textContent = "";
    this.count = ids.length;
    const cx = 260, cy = 190, radius = 140;
    const position = (i) => {
      const angle = -Math.PI / 2 + (2 * Math.PI * i) / ids.length;
      return [cx + radius * Math.cos(angle), cy + radius * Math.sin(angle)];
    };
    const linkLayer = svg("g", {}, this.svg);
    const dotLayer = svg("g", {}, this.svg);
    const nodeLayer = svg("g", {}, this.svg);
    this.links = [];
    for (let i = 0; i < ids.length; i++) {
      for (let j = i + 1; j < ids.length; j++) {
        const [x1, y1] = position(i), [x2, y2] = position(j);
        const line = svg("line", { x1, y1, x2, y2, "stroke-width": 5, stroke: "#999", "data-link": `${ids[i]}-${ids[j]}` }, linkLayer);
        // Labels sit outside the circle of nodes, so two never overlap.
        const [mx, my] = [(x1 + x2) / 2, (y1 + y2) / 2];
        const label = svg("text", { x: mx + (mx - cx) * 0.35, y: my + (my - cy) * 0.35 + 6, "text-anchor": "middle", class: "label" }, linkLayer);
        const dots = [];
        for (let k = 0; k < DOTS_PER_LINK; k++) dots.push(svg("circle", { r: 7, visibility: "hidden" }, dotLayer));
        this.links.push({ a: i, b: j, ends: [[x1, y1], [x2, y2]], line, label, dots, flow: null });
      }
    }
    this.nodes = ids.map((id, i) => {
      const [x, y] = position(i);
      const group = svg("g", { "data-node": id }, nodeLayer);
      const circle = svg("circle", { cx: x, cy: y, r: 44, stroke: "#111", "stroke-width": 3 }, group);
      const name = svg("text", { x, y: y - 2, "text-anchor": "middle", fill: "#fff" }, group);
      name.textContent = id;
      const term = svg("text", { x, y: y + 20, "text-anchor": "middle", fill: "#fff", class: "label" }, group);
      return { id, circle, name, term, position: [x, y] };
    });
  }

  /** Redraws links and nodes from one /api/cluster answer and the current rates. */
  update(cluster, rates) {
    const nodes = cluster.nodes;
    if (nodes.length !== this.count) this.build(nodes.map((node) => node.id));
    const numeric = nodes.map((node) => nodeNumber(node.id));
    const state = nodes.map((node) => (node.process === "running" ? node.status.role : node.process));
    nodes.forEach((node, i) => {
      const view = this.nodes[i];
      const colour = ROLE_COLOURS[state[i]] || "#767676";
      view.circle.setAttribute("fill", colour);
      view.circle.setAttribute("stroke-dasharray", node.process === "running" ? "" : "6 5");
      const dark = state[i] === "pre_candidate" || state[i] === "candidate";
      view.name.setAttribute("fill", dark ? "#111" : "#fff");
      view.term.setAttribute("fill", dark ? "#111" : "#fff");
      view.term.textContent = node.status ? `${state[i] === "leader" ? "★ " : ""}term ${node.status.term}` : "✕ killed";
    });
    const busy = rates.append > 0;
    for (const link of this.links) {
      const [a, b] = [numeric[link.a], numeric[link.b]];
      const bothAlive = nodes[link.a].process !== "killed" && nodes[link.b].process !== "killed";
      const cut = !connected(cluster.faults, a, b);
      const forward = describeFault(linkFault(cluster.faults, a, b));
      const backward = describeFault(linkFault(cluster.faults, b, a));
      let stroke = "#999", dash = "", text = "";
      if (cut) {
        stroke = "#d55e00"; dash = "4 14"; text = "✂ partitioned";
      } else if (forward || backward) {
        stroke = "#e69f00"; dash = "14 6";
        text = forward === backward ? forward : [forward && `→ ${forward}`, backward && `← ${backward}`].filter(Boolean).join(" ");
      }
      if (!bothAlive) { stroke = "#ccc"; dash = "2 8"; }
      link.line.setAttribute("stroke", stroke);
      link.line.setAttribute("stroke-dasharray", dash);
      link.line.setAttribute("data-state", cut ? "partitioned" : text ? "faulty" : bothAlive ? "ok" : "down");
      link.label.textContent = text;
      link.label.setAttribute("fill", cut ? "#d55e00" : "#7a5200");
      // Which way traffic flows on this link, if any.
      link.flow = null;
      const running = (i) => nodes[i].process === "running";
      if (!cut && running(link.a) && running(link.b)) {
        for (const [from, to] of [[link.a, link.b], [link.b, link.a]]) {
          if (state[from] === "leader") {
            link.flow = { from, to, colour: busy ? "#0072b2" : "#009e73", period_s: busy ? 0.6 : 1.5 };
          } else if ((state[from] === "candidate" || state[from] === "pre_candidate") && state[to] !== "leader" && !link.flow) {
            link.flow = { from, to, colour: "#e69f00", period_s: 0.8 };
          }
        }
      }
    }
  }

  /** Moves the dots; called every animation frame. */
  animate(now_ms) {
    for (const link of this.links) {
      link.dots.forEach((dot, k) => {
        if (!link.flow) { dot.setAttribute("visibility", "hidden"); return; }
        const from = this.nodes[link.flow.from].position, to = this.nodes[link.flow.to].position;
        const t = (now_ms / 1000 / link.flow.period_s + k / link.dots.length) % 1;
        dot.setAttribute("visibility", "visible");
        dot.setAttribute("fill", link.flow.colour);
        dot.setAttribute("cx", from[0] + (to[0] - from[0]) * t);
        dot.setAttribute("cy", from[1] + (to[1] - from[1]) * t);
      });
    }
  }
}

/** "node3" -> 3: statuses and faults name nodes by number. */
function nodeNumber(name) {
  return Number(String(name).replace(/^node/, ""));
}
