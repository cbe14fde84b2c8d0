// The state machine graph: ASL -> nested graph -> layered (Sugiyama-style) layout -> SVG.
// No library: the console must load offline from the binary, and ASL graphs are small
// layered DAGs plus a few back edges, which a plain longest-path layering, barycenter
// ordering and a priority placement handle well.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const NODE_H = 46;
  const RANK_GAP = 46; // vertical space between two ranks (edge labels live there)
  const NODE_GAP = 28; // horizontal space between two nodes of a rank
  const DUMMY_W = 4;
  const DUMMY_GAP = 6;
  const PAD = 14; // inside a Map/Parallel box
  const HEADER = 40; // a Map/Parallel box's title
  const BRANCH_GAP = 18;

  const STATUS_LABEL = {
    "not-reached": "not reached",
    "in-progress": "in progress",
    succeeded: "succeeded",
    failed: "failed",
    caught: "caught",
    retried: "retried",
  };
  // A symbol per status, so status never rests on colour alone.
  const STATUS_MARK = {
    "not-reached": "",
    "in-progress": "\u25B6 ",
    succeeded: "\u2713 ",
    failed: "\u2717 ",
    caught: "\u2691 ",
    retried: "\u21BB ",
  };

  function textWidth(s, px) {
    return Math.ceil(s.length * px);
  }

  function truncate(s, n) {
    return s.length > n ? s.slice(0, n - 1) + "\u2026" : s;
  }

  // Describes one Choice rule in a few words for its edge label.
  function describeRule(rule) {
    if (!rule || typeof rule !== "object") return "";
    if (typeof rule.Condition === "string") return rule.Condition.replace(/^\{%\s*|\s*%\}$/g, "");
    if (Array.isArray(rule.And)) return rule.And.map(describeRule).join(" and ");
    if (Array.isArray(rule.Or)) return rule.Or.map(describeRule).join(" or ");
    if (rule.Not) return "not (" + describeRule(rule.Not) + ")";
    const ops = {
      StringEquals: "==", NumericEquals: "==", BooleanEquals: "==", TimestampEquals: "==",
      StringLessThan: "<", NumericLessThan: "<", TimestampLessThan: "<",
      StringGreaterThan: ">", NumericGreaterThan: ">", TimestampGreaterThan: ">",
      StringLessThanEquals: "<=", NumericLessThanEquals: "<=", TimestampLessThanEquals: "<=",
      StringGreaterThanEquals: ">=", NumericGreaterThanEquals: ">=", TimestampGreaterThanEquals: ">=",
      StringMatches: "matches",
    };
    for (const key of Object.keys(rule)) {
      if (key === "Variable" || key === "Next" || key === "Comment" || key === "Assign" || key === "Output") continue;
      let op = ops[key.replace(/Path$/, "")] || key;
      const value = rule[key];
      if (key.startsWith("Is")) return rule.Variable + " " + key + (value ? "" : " = false");
      return rule.Variable + " " + op + " " + JSON.stringify(value);
    }
    return "";
  }

  // One scope (the top level, a Parallel branch, a Map's processor) as nodes and edges.
  function buildScope(scopeDef, parentName, path) {
    const scope = { nodes: [], edges: [], byName: new Map(), startAt: scopeDef.StartAt, path };
    const states = scopeDef.States && typeof scopeDef.States === "object" ? scopeDef.States : {};
    for (const [name, def] of Object.entries(states)) {
      const type = def && typeof def.Type === "string" ? def.Type : "?";
      const node = { id: name, name, type, def: def || {}, parent: parentName, children: [] };
      if (type === "Parallel" && Array.isArray(def.Branches)) {
        node.children = def.Branches.map((b, i) => Object.assign(buildScope(b || {}, name, path.concat(name)), { title: "Branch " + (i + 1) }));
      } else if (type === "Map") {
        const inner = def.ItemProcessor || def.Iterator;
        if (inner && typeof inner === "object") {
          const s = buildScope(inner, name, path.concat(name));
          s.title = def.ItemReader ? "Items (distributed)" : "Each item";
          node.children = [s];
        }
      }
      scope.nodes.push(node);
      scope.byName.set(name, node);
    }
    const edge = (from, to, kind, label) => {
      if (typeof to === "string") scope.edges.push({ from, to, kind, label: label || "" });
    };
    for (const node of scope.nodes) {
      const d = node.def;
      if (node.type === "Choice") {
        (Array.isArray(d.Choices) ? d.Choices : []).forEach((rule, i) => {
          edge(node.id, rule && rule.Next, "choice", truncate("#" + (i + 1) + " " + describeRule(rule), 34));
        });
        edge(node.id, d.Default, "default", "Default");
      } else {
        edge(node.id, d.Next, "next", "");
      }
      (Array.isArray(d.Catch) ? d.Catch : []).forEach((c) => {
        const errs = c && Array.isArray(c.ErrorEquals) ? c.ErrorEquals.join(", ") : "";
        edge(node.id, c && c.Next, "catch", truncate("Catch " + errs, 30));
      });
    }
    // An edge to a missing state is kept out of the layout (validation reports it).
    scope.edges = scope.edges.filter((e) => scope.byName.has(e.to));
    return scope;
  }

  function buildGraph(definition) {
    const top = buildScope(definition || {}, null, []);
    // The top level gets Start and End markers, as AWS's console draws them.
    const start = { id: "\u0000start", name: "Start", type: "Start", marker: true, children: [], def: {} };
    const end = { id: "\u0000end", name: "End", type: "End", marker: true, children: [], def: {} };
    if (top.byName.has(top.startAt)) top.edges.push({ from: start.id, to: top.startAt, kind: "next", label: "" });
    let ends = 0;
    for (const n of top.nodes) {
      if (n.def.End === true || n.type === "Succeed" || n.type === "Fail") {
        top.edges.push({ from: n.id, to: end.id, kind: "end", label: "" });
        ends++;
      }
    }
    top.nodes.unshift(start);
    top.byName.set(start.id, start);
    if (ends) {
      top.nodes.push(end);
      top.byName.set(end.id, end);
    }
    top.startAt = start.id;
    return top;
  }

  // ---- layout -------------------------------------------------------------------------

  function sizeNode(node) {
    if (node.marker) {
      node.w = 64;
      node.h = 30;
      return;
    }
    if (node.children.length) {
      node.children.forEach(layoutScope);
      const inner = node.children.reduce((acc, s) => acc + s.width, 0) + BRANCH_GAP * (node.children.length - 1);
      const innerH = Math.max(...node.children.map((s) => s.height));
      node.w = Math.max(inner + 2 * PAD, textWidth(node.name, 7.6) + 60);
      node.h = innerH + HEADER + PAD;
      return;
    }
    const label = Math.max(textWidth(truncate(node.name, 30), 7.6), textWidth(node.type + " \u00B7 not reached", 6.4));
    node.w = Math.max(120, label + 22);
    node.h = NODE_H;
  }

  // Longest-path ranks from StartAt over the graph without its back edges (found by an
  // iterative DFS: workflows can be thousands of states long).
  function rankScope(scope) {
    const out = new Map(scope.nodes.map((n) => [n.id, []]));
    for (const e of scope.edges) out.get(e.from).push(e);
    const state = new Map(); // 1 on stack, 2 done
    const order = [];
    const roots = [scope.startAt].concat(scope.nodes.map((n) => n.id));
    for (const root of roots) {
      if (!scope.byName.has(root) || state.has(root)) continue;
      const stack = [[root, 0]];
      state.set(root, 1);
      while (stack.length) {
        const top = stack[stack.length - 1];
        const edges = out.get(top[0]);
        if (top[1] < edges.length) {
          const e = edges[top[1]++];
          const s = state.get(e.to);
          if (s === 1) e.back = true;
          else if (s === undefined) {
            state.set(e.to, 1);
            stack.push([e.to, 0]);
          }
        } else {
          state.set(top[0], 2);
          order.push(top[0]);
          stack.pop();
        }
      }
    }
    order.reverse(); // a topological order of the forward edges
    const rank = new Map(order.map((id) => [id, 0]));
    for (const id of order) {
      for (const e of out.get(id)) {
        if (e.back || e.from === e.to) continue;
        rank.set(e.to, Math.max(rank.get(e.to), rank.get(id) + 1));
      }
    }
    // The End marker sits below everything.
    const end = scope.byName.get("\u0000end");
    if (end) rank.set(end.id, Math.max(...rank.values()));
    for (const n of scope.nodes) n.rank = rank.get(n.id);
    return order;
  }

  function countCrossings(layers, segs) {
    // segs: per layer pair, list of [upperPos, lowerPos]
    let total = 0;
    for (const list of segs(layers)) {
      list.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      for (let i = 0; i < list.length; i++)
        for (let j = i + 1; j < list.length; j++) if (list[j][0] > list[i][0] && list[j][1] < list[i][1]) total++;
    }
    return total;
  }

  function layoutScope(scope) {
    scope.nodes.forEach(sizeNode);
    const dfsOrder = rankScope(scope);
    const maxRank = Math.max(0, ...scope.nodes.map((n) => n.rank));
    const layers = Array.from({ length: maxRank + 1 }, () => []);
    const firstSeen = new Map(dfsOrder.map((id, i) => [id, i]));
    const items = new Map(); // id -> layout item (states and dummies)
    for (const n of scope.nodes) items.set(n.id, { id: n.id, node: n, rank: n.rank, w: n.w, h: n.h, up: [], down: [] });
    // Each edge becomes a chain of unit-length segments through dummy items, from the upper
    // rank to the lower one (back edges reversed), so ordering sees every crossing.
    let dummyId = 0;
    for (const e of scope.edges) {
      e.chain = [];
      if (e.from === e.to) continue;
      let a = items.get(e.from);
      let b = items.get(e.to);
      if (a.rank > b.rank || (a.rank === b.rank && e.back)) [a, b] = [b, a];
      let prev = a;
      for (let r = a.rank + 1; r < b.rank; r++) {
        const d = { id: "\u0001" + dummyId++, dummy: true, rank: r, w: DUMMY_W, h: NODE_H, up: [prev], down: [] };
        prev.down.push(d);
        items.set(d.id, d);
        e.chain.push(d);
        prev = d;
      }
      if (a.rank !== b.rank) {
        prev.down.push(b);
        b.up.push(prev);
      }
    }
    for (const it of items.values()) layers[it.rank].push(it);
    for (const layer of layers) {
      layer.sort((x, y) => (firstSeen.get(x.id) ?? 1e9) - (firstSeen.get(y.id) ?? 1e9));
      layer.forEach((it, i) => (it.pos = i));
    }
    const segs = (ls) => ls.slice(0, -1).map((layer) => layer.flatMap((it) => it.down.map((d) => [it.pos, d.pos])));
    let best = layers.map((l) => l.slice());
    let bestCount = countCrossings(layers, segs);
    const bary = (it, dir) => {
      const ns = dir === "down" ? it.up : it.down;
      return ns.length ? ns.reduce((s, n) => s + n.pos, 0) / ns.length : it.pos;
    };
    for (let sweep = 0; sweep < 6 && bestCount > 0; sweep++) {
      const down = sweep % 2 === 0;
      const seq = down ? layers.slice(1) : layers.slice(0, -1).reverse();
      for (const layer of seq) {
        const keys = new Map(layer.map((it) => [it, bary(it, down ? "down" : "up")]));
        layer.sort((x, y) => keys.get(x) - keys.get(y) || x.pos - y.pos);
        layer.forEach((it, i) => (it.pos = i));
      }
      const c = countCrossings(layers, segs);
      if (c < bestCount) {
        bestCount = c;
        best = layers.map((l) => l.slice());
      }
    }
    best.forEach((layer) => layer.forEach((it, i) => (it.pos = i)));
    scope.crossings = bestCount;

    // x: start packed, then pull each item toward the mean of its neighbours, a few sweeps
    // each way, never overlapping its left and right neighbours.
    // Edges passing side by side (dummies) pack closer than states do.
    const gap = (a, b) => (a.dummy && b.dummy ? DUMMY_GAP : NODE_GAP);
    for (const layer of best) {
      let x = 0;
      for (let i = 0; i < layer.length; i++) {
        const it = layer[i];
        if (i) x += gap(layer[i - 1], it);
        it.x = x + it.w / 2;
        x += it.w;
      }
    }
    const place = (layer, dir) => {
      for (const it of layer) {
        const ns = dir === "down" ? it.up : it.down;
        if (ns.length) it.want = ns.reduce((s, n) => s + n.x, 0) / ns.length;
        else it.want = it.x;
      }
      // left to right, then right to left, keeping the gaps
      for (let i = 0; i < layer.length; i++) {
        const it = layer[i];
        const min = i ? layer[i - 1].x + layer[i - 1].w / 2 + gap(layer[i - 1], it) + it.w / 2 : -Infinity;
        it.x = Math.max(it.want, min);
      }
      for (let i = layer.length - 2; i >= 0; i--) {
        const it = layer[i];
        const max = layer[i + 1].x - layer[i + 1].w / 2 - gap(it, layer[i + 1]) - it.w / 2;
        if (it.x > max) it.x = max;
      }
    };
    for (let k = 0; k < 4; k++) {
      best.slice(1).forEach((l) => place(l, "down"));
      best.slice(0, -1).reverse().forEach((l) => place(l, "up"));
    }
    let minX = Infinity;
    let maxX = -Infinity;
    for (const it of items.values()) {
      minX = Math.min(minX, it.x - it.w / 2);
      maxX = Math.max(maxX, it.x + it.w / 2);
    }
    // y: each rank as tall as its tallest item.
    let y = 0;
    for (const layer of best) {
      const h = Math.max(...layer.map((it) => (it.dummy ? 0 : it.h)), 10);
      for (const it of layer) {
        it.x -= minX;
        it.y = y + h / 2;
        it.rowTop = y;
        it.rowH = h;
      }
      y += h + RANK_GAP;
    }
    scope.width = Math.max(maxX - minX, 60);
    scope.height = Math.max(y - RANK_GAP, 30);
    for (const n of scope.nodes) {
      const it = items.get(n.id);
      n.x = it.x - n.w / 2;
      n.y = it.y - n.h / 2;
      n.rowTop = it.rowTop;
      n.rowBottom = it.rowTop + it.rowH;
    }
    // Edge points in scope coordinates.
    for (const e of scope.edges) {
      const a = scope.byName.get(e.from);
      const b = scope.byName.get(e.to);
      if (e.from === e.to) {
        const x = a.x + a.w;
        const y0 = a.y + a.h / 2;
        e.points = [[x, y0 - 8], [x + 22, y0 - 14], [x + 22, y0 + 14], [x, y0 + 8]];
        continue;
      }
      // Through a rank, an edge runs straight down its whole height: a diagonal there would
      // cut across a tall Map or Parallel box beside it.
      const mids = e.chain.flatMap((d) => (d.rowH > NODE_H ? [[d.x, d.rowTop], [d.x, d.rowTop + d.rowH]] : [[d.x, d.y]]));
      const forward = a.y < b.y || (a.y === b.y && !e.back);
      if (a.y === b.y) {
        // Same rank (rare: a back edge inside one rank): arc below.
        const y0 = a.y + a.h;
        e.points = [[a.x + a.w / 2, y0], [(a.x + b.x + b.w) / 2, y0 + 20], [b.x + b.w / 2, b.y + b.h]];
      } else if (forward) {
        // A state shorter than its rank drops straight to the rank's bottom first, so the
        // edge does not cut through a tall Map or Parallel box beside it.
        const ax = a.x + a.w / 2;
        const bx = b.x + b.w / 2;
        const head = [[ax, a.y + a.h]];
        if (a.rowBottom > a.y + a.h + 0.5) head.push([ax, a.rowBottom]);
        const tail = b.rowTop < b.y - 0.5 ? [[bx, b.rowTop], [bx, b.y]] : [[bx, b.y]];
        e.points = head.concat(mids, tail);
        e.labelAt = head.length - 1;
      } else {
        // A back edge leaves its state's side and climbs along its dummy chain.
        const chain = mids.slice().reverse().map(([x, y]) => [x, y]);
        e.points = [[a.x + a.w, a.y + a.h / 2]].concat(chain, [[b.x + b.w, b.y + b.h / 2]]);
      }
    }
    // Children boxes: branches side by side under the header.
    for (const n of scope.nodes) {
      if (!n.children.length) continue;
      const inner = n.children.reduce((acc, s) => acc + s.width, 0) + BRANCH_GAP * (n.children.length - 1);
      let cx = (n.w - inner) / 2;
      for (const s of n.children) {
        s.ox = cx;
        s.oy = HEADER;
        cx += s.width + BRANCH_GAP;
      }
    }
  }

  // ---- drawing --------------------------------------------------------------------------

  function el(name, attrs, parent) {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (parent) parent.appendChild(e);
    return e;
  }

  // A polyline through the points with rounded corners: straight runs stay straight, so an
  // edge dropping beside a tall box does not cut into it.
  function pathFor(points) {
    const pts = points.filter((p, i) => i === 0 || Math.hypot(p[0] - points[i - 1][0], p[1] - points[i - 1][1]) > 0.5);
    let d = "M" + pts[0].join(",");
    for (let i = 1; i < pts.length - 1; i++) {
      const [px, py] = pts[i - 1];
      const [x, y] = pts[i];
      const [nx, ny] = pts[i + 1];
      const l1 = Math.hypot(x - px, y - py);
      const l2 = Math.hypot(nx - x, ny - y);
      const r = Math.min(14, l1 / 2, l2 / 2);
      const ax = x - ((x - px) / l1) * r;
      const ay = y - ((y - py) / l1) * r;
      const bx = x + ((nx - x) / l2) * r;
      const by = y + ((ny - y) / l2) * r;
      d += "L" + ax.toFixed(1) + "," + ay.toFixed(1) + "Q" + x + "," + y + " " + bx.toFixed(1) + "," + by.toFixed(1);
    }
    return d + "L" + pts[pts.length - 1].join(",");
  }

  function drawScope(scope, parentG, api) {
    const edgesG = el("g", { class: "edges" }, parentG);
    const nodesG = el("g", { class: "nodes" }, parentG);
    for (const e of scope.edges) {
      const g = el("g", { class: "edge edge-" + e.kind + (e.back ? " edge-back" : ""), "data-from": e.from.replace(/^\u0000/, "@"), "data-to": e.to.replace(/^\u0000/, "@"), "data-kind": e.kind }, edgesG);
      el("path", { d: pathFor(e.points), "marker-end": "url(#arrow)" }, g);
      if (e.label) {
        const at = e.labelAt || 0;
        const [x0, y0] = e.points[at];
        const [x1, y1] = e.points[at + 1];
        // Past the middle of the first run, where a Choice's edges have drawn apart.
        const frac = e.back ? 0.5 : 0.6;
        const lx = x0 + (x1 - x0) * frac;
        const ly = y0 + (y1 - y0) * frac;
        const w = e.label.length * 5.9 + 8;
        el("rect", { x: lx - w / 2, y: ly - 8, width: w, height: 15, rx: 3, class: "edge-label-bg" }, g);
        const t = el("text", { x: lx, y: ly + 3, "text-anchor": "middle", class: "edge-label" }, g);
        t.textContent = e.label;
      }
    }
    for (const n of scope.nodes) {
      const g = el("g", { class: "node" + (n.marker ? " marker" : "") + (n.children.length ? " compound" : ""), transform: "translate(" + n.x + "," + n.y + ")" }, nodesG);
      if (n.marker) {
        g.setAttribute("data-marker", n.name);
        el("rect", { width: n.w, height: n.h, rx: n.h / 2 }, g);
        const t = el("text", { x: n.w / 2, y: n.h / 2 + 4, "text-anchor": "middle" }, g);
        t.textContent = n.name;
        continue;
      }
      g.setAttribute("data-state", n.name);
      g.setAttribute("data-type", n.type);
      g.setAttribute("data-status", "not-reached");
      g.setAttribute("tabindex", "0");
      g.setAttribute("role", "button");
      g.setAttribute("aria-label", n.name + ", " + n.type + " state");
      const title = el("title", {}, g);
      title.textContent = n.name + " (" + n.type + ")";
      el("rect", { class: "box", width: n.w, height: n.h, rx: n.children.length ? 8 : 6 }, g);
      const name = el("text", { x: n.children.length ? 10 : n.w / 2, y: 18, "text-anchor": n.children.length ? "start" : "middle", class: "name" }, g);
      name.textContent = truncate(n.name, 30);
      const sub = el("text", { x: n.children.length ? 10 : n.w / 2, y: 34, "text-anchor": n.children.length ? "start" : "middle", class: "sub" }, g);
      sub.textContent = n.type + " \u00B7 not reached";
      for (const s of n.children) {
        const sg = el("g", { class: "scope", transform: "translate(" + s.ox + "," + s.oy + ")" }, g);
        el("rect", { class: "scope-box", x: -4, y: -4, width: s.width + 8, height: s.height + 8, rx: 6 }, sg);
        drawScope(s, sg, api);
      }
      api.nodes.set(n.name, { g, node: n, sub });
      const open = (ev) => {
        ev.stopPropagation();
        api.select(n.name);
      };
      g.addEventListener("click", open);
      g.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" || ev.key === " ") {
          ev.preventDefault();
          open(ev);
        }
      });
    }
  }

  // Draws `definition` into `container`; returns an object to colour states and to listen
  // for selections.
  function render(container, definition, opts) {
    const t0 = performance.now();
    const graph = buildGraph(definition);
    layoutScope(graph);
    const t1 = performance.now();
    container.textContent = "";
    const margin = 20;
    const width = graph.width + 2 * margin;
    const height = graph.height + 2 * margin;
    const svg = el("svg", { class: "graph", width, height, viewBox: "0 0 " + width + " " + height, role: "group", "aria-label": "State machine graph" });
    const defs = el("defs", {}, svg);
    const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, defs);
    el("path", { d: "M0,0L10,5L0,10z", class: "arrowhead" }, marker);
    const root = el("g", { transform: "translate(" + margin + "," + margin + ")" }, svg);
    const api = {
      nodes: new Map(),
      graph,
      svg,
      onSelect: (opts && opts.onSelect) || (() => {}),
      select(name) {
        for (const { g } of api.nodes.values()) g.classList.remove("selected");
        const n = api.nodes.get(name);
        if (n) n.g.classList.add("selected");
        api.onSelect(name);
      },
      setStatus(name, status, note) {
        const n = api.nodes.get(name);
        if (!n) return;
        const st = STATUS_LABEL[status] ? status : "not-reached";
        if (n.g.getAttribute("data-status") === st && n.note === note) return;
        n.g.setAttribute("data-status", st);
        n.note = note;
        n.sub.textContent = STATUS_MARK[st] + n.node.type + " \u00B7 " + STATUS_LABEL[st] + (note ? " " + note : "");
        n.g.setAttribute("aria-label", n.node.name + ", " + n.node.type + " state, " + STATUS_LABEL[st] + (note ? " " + note : ""));
      },
      scale: 1,
      zoom(factor) {
        api.scale = factor === 0 ? 1 : Math.min(3, Math.max(0.1, api.scale * factor));
        svg.setAttribute("width", width * api.scale);
        svg.setAttribute("height", height * api.scale);
      },
      fit(min) {
        const box = container.getBoundingClientRect();
        api.scale = Math.min(1, Math.max(min || 0.1, (box.width - 4) / width));
        api.zoom(1);
      },
    };
    drawScope(graph, root, api);
    container.appendChild(svg);
    const t2 = performance.now();
    api.timing = { layoutMs: t1 - t0, drawMs: t2 - t1, states: api.nodes.size, crossings: graph.crossings };
    container.dataset.layoutMs = (t1 - t0).toFixed(1);
    container.dataset.drawMs = (t2 - t1).toFixed(1);
    return api;
  }

  // Every state name with its parent (for attributing history events to nested states).
  function stateIndex(definition) {
    const index = new Map();
    const walk = (scopeDef, parent) => {
      const states = scopeDef && typeof scopeDef.States === "object" && scopeDef.States ? scopeDef.States : {};
      for (const [name, def] of Object.entries(states)) {
        const type = def && def.Type;
        index.set(name, { name, type, parent, def: def || {} });
        if (type === "Parallel" && Array.isArray(def.Branches)) def.Branches.forEach((b) => walk(b, name));
        if (type === "Map") walk(def.ItemProcessor || def.Iterator, name);
      }
    };
    walk(definition, null);
    return index;
  }

  window.CairnGraph = { render, buildGraph, stateIndex, STATUS_LABEL, STATUS_MARK, describeRule };
})();
