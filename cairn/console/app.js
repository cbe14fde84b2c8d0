// The console's pages. Every datum comes from the Step Functions API of the server that
// served this page (POST / with X-Amz-Target), as any AWS client would ask for it.
"use strict";

(function () {
  const POLL_MS = 1000;
  const STATUSES = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"];
  const main = document.getElementById("main");
  let pageToken = 0; // bumped on navigation so an old page's poll stops
  let pollTimer = null;

  // ---- API ------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(type, message) {
      super(type + ": " + message);
      this.type = type;
    }
  }

  // Refusals of a `cairn serve --auth` (AWS's names): the console then asks for a key.
  const AUTH_ERRORS = new Set(["MissingAuthenticationTokenException", "UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignatureException", "AccessDeniedException"]);
  const CREDENTIALS_KEY = "cairn.console.credentials";

  function credentials() {
    try {
      return JSON.parse(sessionStorage.getItem(CREDENTIALS_KEY) || "null");
    } catch (_) {
      return null;
    }
  }

  async function call(action, body) {
    const text = JSON.stringify(body || {});
    const headers = { "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AWSStepFunctions." + action };
    const creds = credentials();
    if (creds) Object.assign(headers, window.CairnSigV4.sign(creds, location.host, headers, text));
    const response = await fetch("/", { method: "POST", headers, body: text });
    const answer = await response.text();
    let data = {};
    try {
      data = answer ? JSON.parse(answer) : {};
    } catch (_) {
      throw new ApiError("InvalidResponse", answer.slice(0, 200));
    }
    if (!response.ok) {
      const type = String(data.__type || response.headers.get("x-amzn-errortype") || "Error").split("#").pop().split(":")[0];
      throw new ApiError(type, data.message || data.Message || answer);
    }
    return data;
  }

  async function all(action, body, key, cap) {
    const out = [];
    let nextToken;
    do {
      const page = await call(action, Object.assign({}, body, nextToken ? { nextToken } : {}));
      out.push(...(page[key] || []));
      nextToken = page.nextToken;
    } while (nextToken && out.length < cap);
    return { items: out, more: !!nextToken };
  }

  // ---- helpers --------------------------------------------------------------------------

  function h(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "class") e.className = v;
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c));
    return e;
  }

  const date = (t) => (t === undefined || t === null ? "" : new Date(typeof t === "number" ? t * 1000 : t).toLocaleString());
  const time = (t) => {
    const d = new Date(typeof t === "number" ? t * 1000 : t);
    return d.toLocaleTimeString(undefined, { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
  };
  const ms = (t) => (typeof t === "number" ? t * 1000 : Date.parse(t));
  const nameOf = (arn) => String(arn).split(":").pop();
  const machineHref = (arn) => "#/machine/" + encodeURIComponent(arn);
  const executionHref = (arn) => "#/execution/" + encodeURIComponent(arn);

  function pretty(text) {
    if (text === undefined || text === null) return "";
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch (_) {
      return String(text);
    }
  }

  function statusBadge(status) {
    const mark = { RUNNING: "\u25B6", SUCCEEDED: "\u2713", FAILED: "\u2717", TIMED_OUT: "\u23F1", ABORTED: "\u25A0" }[status] || "";
    return h("span", { class: "badge st-" + String(status).toLowerCase(), "data-execution-status": status }, mark + " " + status);
  }

  function errorBox(error) {
    return h("div", { class: "error", role: "alert" }, String(error.message || error));
  }

  function jsonEditor(id, label, initial) {
    const area = h("textarea", { id, rows: 6, spellcheck: "false", class: "code" });
    area.value = initial;
    const note = h("div", { class: "hint", "aria-live": "polite" });
    const check = () => {
      try {
        JSON.parse(area.value);
        note.textContent = "valid JSON";
        note.className = "hint ok";
        return true;
      } catch (e) {
        note.textContent = "not JSON: " + e.message;
        note.className = "hint bad";
        return false;
      }
    };
    area.addEventListener("input", check);
    check();
    return { element: h("div", { class: "field" }, h("label", { for: id }, label), area, note), area, check };
  }

  function setPage(title, ...content) {
    main.textContent = "";
    document.title = title + " \u2013 Cairn console";
    main.append(...content);
    const heading = main.querySelector("h1");
    if (heading) heading.setAttribute("tabindex", "-1");
  }

  // ---- state machines -------------------------------------------------------------------

  async function machinesPage(token) {
    const list = h("tbody");
    setPage("State machines", h("h1", {}, "State machines"), h("p", {}, h("a", { href: "#/create", id: "create-link", class: "button" }, "Create a state machine")), h("table", { class: "list", id: "machines" }, h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Type"), h("th", {}, "Created"), ...STATUSES.map((s) => h("th", { class: "num" }, s.replace("_", " ").toLowerCase())))), list));
    const { items } = await all("ListStateMachines", { maxResults: 1000 }, "stateMachines", 10000);
    if (token !== pageToken) return;
    if (!items.length) list.append(h("tr", {}, h("td", { colspan: 3 + STATUSES.length }, "No state machines yet: create one here or with any AWS client.")));
    // Counts by status take one listing per status and machine, each capped at 1,000: a
    // queue of a few at a time keeps a long list (or a remote endpoint) from a burst of calls.
    const jobs = [];
    for (const m of items) {
      const counts = STATUSES.map((s) => h("td", { class: "num", "data-count": s }, "\u2026"));
      list.append(h("tr", { "data-machine": m.name }, h("td", {}, h("a", { href: machineHref(m.stateMachineArn) }, m.name)), h("td", {}, m.type), h("td", {}, date(m.creationDate)), ...counts));
      STATUSES.forEach((status, i) => jobs.push([m, status, counts[i]]));
    }
    const worker = async () => {
      while (jobs.length && token === pageToken) {
        const [m, status, cell] = jobs.shift();
        try {
          const r = await all("ListExecutions", { stateMachineArn: m.stateMachineArn, statusFilter: status, maxResults: 1000 }, "executions", 1000);
          cell.textContent = r.items.length + (r.more ? "+" : "");
        } catch (e) {
          cell.textContent = "?";
          cell.title = e.message;
        }
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
  }

  async function machinePage(arn, token) {
    const m = await call("DescribeStateMachine", { stateMachineArn: arn });
    if (token !== pageToken) return;
    let definition = {};
    try {
      definition = JSON.parse(m.definition);
    } catch (_) {}
    const graphBox = h("div", { class: "graph-box", id: "graph" });
    const defText = h("textarea", { id: "definition", class: "code", rows: 24, spellcheck: "false", "aria-label": "Definition (ASL)" });
    defText.value = pretty(m.definition);
    const diagnostics = h("ul", { class: "diagnostics", id: "diagnostics", "aria-live": "polite" });
    let graph = null;
    const draw = (def) => {
      graph = window.CairnGraph.render(graphBox, def, {
        onSelect: (name) => {
          // Put the cursor on the state's definition.
          const at = defText.value.indexOf(JSON.stringify(name) + ":");
          if (at >= 0) {
            defText.focus();
            defText.setSelectionRange(at, at + name.length + 2);
          }
        },
      });
      return graph;
    };
    const validate = async () => {
      diagnostics.textContent = "";
      let text = defText.value;
      try {
        const scale = graph ? graph.scale : 1;
        draw(JSON.parse(text)).zoom(scale);
      } catch (e) {
        diagnostics.append(h("li", { class: "diag error-diag" }, "not JSON: " + e.message));
        return;
      }
      const r = await call("ValidateStateMachineDefinition", { definition: text, type: m.type });
      if (!r.diagnostics.length) diagnostics.append(h("li", { class: "diag ok" }, "\u2713 valid"));
      for (const d of r.diagnostics) {
        const st = /^\/(?:.*\/)?States\/([^/]+)/.exec(d.location || "");
        const stateName = st ? st[1].replace(/~1/g, "/").replace(/~0/g, "~") : null;
        const li = h("li", { class: "diag " + (d.severity === "ERROR" ? "error-diag" : "warn-diag") }, h("strong", {}, d.severity + " " + d.code), " ", d.location ? h("code", {}, d.location) : "", " ", d.message);
        if (stateName && graph && graph.nodes.has(stateName)) {
          graph.nodes.get(stateName).g.classList.add("has-diagnostic");
          li.append(" ", h("button", { type: "button", class: "link", onclick: () => graph.select(stateName) }, "show " + stateName));
        }
        diagnostics.append(li);
      }
    };
    const saveResult = h("span", { id: "save-result", "aria-live": "polite" });
    const save = async () => {
      saveResult.textContent = "";
      try {
        await call("UpdateStateMachine", { stateMachineArn: arn, definition: defText.value });
        saveResult.append(h("span", { class: "hint ok" }, " saved"));
        await validate();
      } catch (e) {
        saveResult.append(errorBox(e));
      }
    };
    const input = jsonEditor("start-input", "Input (JSON)", "{}");
    const execName = h("input", { id: "start-name", placeholder: "(generated)", "aria-label": "Execution name" });
    const startError = h("div");
    const start = async (ev) => {
      ev.preventDefault();
      startError.textContent = "";
      if (!input.check()) return;
      try {
        const r = await call("StartExecution", Object.assign({ stateMachineArn: target.value, input: input.area.value }, execName.value ? { name: execName.value } : {}));
        location.hash = executionHref(r.executionArn);
      } catch (e) {
        startError.append(errorBox(e));
      }
    };
    // Start the latest revision, a version or an alias (which draws a version by weight).
    const target = h("select", { id: "start-target", "aria-label": "Run" }, h("option", { value: arn }, "latest revision (unversioned)"));
    const versionsBox = h("div", { id: "versions", "aria-live": "polite" }, "\u2026");
    const aliasesBox = h("div", { id: "aliases", "aria-live": "polite" }, "\u2026");
    const publishDescription = h("input", { id: "publish-description", maxlength: 256, placeholder: "(optional)", "aria-label": "Version description" });
    const publishResult = h("span", { id: "publish-result", "aria-live": "polite" });
    const publish = async (ev) => {
      ev.preventDefault();
      publishResult.textContent = "";
      try {
        const d = publishDescription.value.trim();
        const r = await call("PublishStateMachineVersion", Object.assign({ stateMachineArn: arn }, d ? { description: d } : {}));
        publishDescription.value = "";
        publishResult.append(h("span", { class: "hint ok", "data-version": nameOf(r.stateMachineVersionArn) }, " published version " + nameOf(r.stateMachineVersionArn)));
        await listVersions(arn, token, versionsBox, aliasesBox, target);
      } catch (e) {
        publishResult.append(errorBox(e));
      }
    };
    const executions = executionsList(arn, token);
    setPage(
      m.name,
      h("nav", { class: "crumbs" }, h("a", { href: "#/" }, "State machines"), " / ", m.name),
      h("h1", {}, m.name, " ", h("span", { class: "tag" }, m.type)),
      h("dl", { class: "facts" }, h("dt", {}, "ARN"), h("dd", {}, h("code", {}, m.stateMachineArn)), h("dt", {}, "Created"), h("dd", {}, date(m.creationDate)), h("dt", {}, "Role"), h("dd", {}, m.roleArn || "")),
      h("section", { class: "split" },
        h("div", { class: "pane" }, h("h2", {}, "Graph"), zoomBar(() => graph), graphBox),
        h("div", { class: "pane" }, h("h2", {}, "Definition"), defText, h("button", { type: "button", id: "validate", onclick: validate }, "Validate and redraw"), " ", h("button", { type: "button", id: "save-definition", onclick: save }, "Save (UpdateStateMachine)"), saveResult, diagnostics)),
      h("section", { class: "split", id: "versions-section" },
        h("div", { class: "pane" }, h("h2", {}, "Versions"), versionsBox,
          h("form", { id: "publish-form", onsubmit: publish }, h("div", { class: "field" }, h("label", { for: "publish-description" }, "Publish the saved definition as a new version, described as"), publishDescription), h("button", { type: "submit", id: "publish" }, "Publish version"), publishResult)),
        h("div", { class: "pane" }, h("h2", {}, "Aliases"), aliasesBox)),
      h("section", {}, h("h2", {}, "Start an execution"), h("form", { id: "start-form", onsubmit: start }, h("div", { class: "field" }, h("label", { for: "start-target" }, "Run"), target), h("div", { class: "field" }, h("label", { for: "start-name" }, "Name"), execName), input.element, h("button", { type: "submit", id: "start" }, "Start execution"), startError)),
      executions.element,
    );
    draw(definition).fit(0.5);
    listVersions(arn, token, versionsBox, aliasesBox, target);
    await validate();
    await executions.load();
  }

  const STARTER = { Comment: "A first state machine", StartAt: "Hello", States: { Hello: { Type: "Pass", Result: { hello: "world" }, End: true } } };

  async function createPage(token) {
    const name = h("input", { id: "create-name", required: true, "aria-label": "Name" });
    const type = h("select", { id: "create-type", "aria-label": "Type" }, h("option", { value: "STANDARD" }, "STANDARD"), h("option", { value: "EXPRESS" }, "EXPRESS"));
    const role = h("input", { id: "create-role", class: "code", value: "arn:aws:iam::123456789012:role/cairn-console", "aria-label": "Role ARN" });
    const def = h("textarea", { id: "create-definition", class: "code", rows: 22, spellcheck: "false", "aria-label": "Definition (ASL)" });
    def.value = JSON.stringify(STARTER, null, 2);
    const graphBox = h("div", { class: "graph-box", id: "graph" });
    const result = h("div", { id: "create-result", "aria-live": "polite" });
    const preview = () => {
      try {
        window.CairnGraph.render(graphBox, JSON.parse(def.value), {});
      } catch (e) {
        graphBox.textContent = "not JSON: " + e.message;
      }
    };
    const submit = async (ev) => {
      ev.preventDefault();
      result.textContent = "";
      try {
        const r = await call("CreateStateMachine", { name: name.value.trim(), type: type.value, roleArn: role.value.trim(), definition: def.value });
        location.hash = machineHref(r.stateMachineArn);
      } catch (e) {
        result.append(errorBox(e));
      }
    };
    setPage("Create a state machine",
      h("nav", { class: "crumbs" }, h("a", { href: "#/" }, "State machines"), " / create"),
      h("h1", {}, "Create a state machine"),
      h("form", { id: "create-form", onsubmit: submit },
        h("div", { class: "field" }, h("label", { for: "create-name" }, "Name"), name),
        h("div", { class: "field" }, h("label", { for: "create-type" }, "Type"), type),
        h("div", { class: "field" }, h("label", { for: "create-role" }, "Role ARN"), role),
        h("section", { class: "split" },
          h("div", { class: "pane" }, h("h2", {}, "Definition"), def, h("button", { type: "button", id: "preview", onclick: preview }, "Draw")),
          h("div", { class: "pane" }, h("h2", {}, "Graph"), graphBox)),
        h("button", { type: "submit", id: "create" }, "Create state machine"),
        result));
    if (token === pageToken) preview();
  }

  // A machine's versions (newest first, each described for its description) and aliases
  // (each described for its routing), and the start form's choice of what to run. A server
  // without them answers UnknownOperationException, and the page says so.
  const SHOWN_VERSIONS = 100;
  async function listVersions(arn, token, versionsBox, aliasesBox, target) {
    const unsupported = (e) => (e.type === "UnsupportedOperation" || e.type === "UnknownOperationException" ? "not offered by this server" : e.message);
    const described = async (items, action, key) => {
      const out = new Array(items.length);
      let next = 0;
      const worker = async () => {
        while (next < items.length && token === pageToken) {
          const i = next++;
          out[i] = await call(action, { [key]: items[i][key] }).catch(() => items[i]);
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      return out;
    };
    let versions = [];
    let aliases = [];
    let more = false;
    try {
      const r = await all("ListStateMachineVersions", { stateMachineArn: arn, maxResults: SHOWN_VERSIONS }, "stateMachineVersions", SHOWN_VERSIONS);
      more = r.more;
      const full = await described(r.items.slice(0, SHOWN_VERSIONS).map((v) => ({ stateMachineArn: v.stateMachineVersionArn, creationDate: v.creationDate })), "DescribeStateMachine", "stateMachineArn");
      if (token !== pageToken) return;
      versions = full.map((d, i) => Object.assign({}, d, { stateMachineVersionArn: r.items[i].stateMachineVersionArn, creationDate: r.items[i].creationDate }));
      versionsBox.textContent = "";
      if (!versions.length) versionsBox.append(h("p", { class: "hint" }, "No versions yet."));
      else versionsBox.append(h("table", { class: "list" }, h("thead", {}, h("tr", {}, h("th", { class: "num" }, "Version"), h("th", {}, "Description"), h("th", {}, "Created"))),
        h("tbody", {}, versions.map((v) => h("tr", { "data-version": nameOf(v.stateMachineVersionArn) }, h("td", { class: "num" }, nameOf(v.stateMachineVersionArn)), h("td", { class: "description" }, v.description || ""), h("td", {}, date(v.creationDate)))))),
        more ? h("p", { class: "hint" }, "The newest " + SHOWN_VERSIONS + " are shown.") : "");
    } catch (e) {
      if (token !== pageToken) return;
      versionsBox.textContent = unsupported(e);
    }
    try {
      const r = await all("ListStateMachineAliases", { stateMachineArn: arn, maxResults: 100 }, "stateMachineAliases", 1000);
      aliases = await described(r.items, "DescribeStateMachineAlias", "stateMachineAliasArn");
      if (token !== pageToken) return;
      aliasesBox.textContent = "";
      if (!aliases.length) aliasesBox.append(h("p", { class: "hint" }, "No aliases (create them with CreateStateMachineAlias)."));
      else aliasesBox.append(h("table", { class: "list" }, h("thead", {}, h("tr", {}, h("th", {}, "Alias"), h("th", {}, "Routes to"), h("th", {}, "Description"), h("th", {}, "Created"))),
        h("tbody", {}, aliases.map((a) => h("tr", { "data-alias": nameOf(a.stateMachineAliasArn) }, h("td", {}, nameOf(a.stateMachineAliasArn)),
          h("td", { class: "routing" }, (a.routingConfiguration || []).map((rt, i) => h("span", { "data-version": nameOf(rt.stateMachineVersionArn), "data-weight": rt.weight }, (i ? ", " : "") + "version " + nameOf(rt.stateMachineVersionArn) + ": " + rt.weight + "%"))),
          h("td", {}, a.description || ""), h("td", {}, date(a.creationDate)))))));
    } catch (e) {
      if (token !== pageToken) return;
      aliasesBox.textContent = unsupported(e);
    }
    const chosen = target.value;
    target.textContent = "";
    target.append(h("option", { value: arn }, "latest revision (unversioned)"),
      ...aliases.map((a) => h("option", { value: a.stateMachineAliasArn }, "alias " + nameOf(a.stateMachineAliasArn) + " (" + (a.routingConfiguration || []).map((rt) => "v" + nameOf(rt.stateMachineVersionArn) + " " + rt.weight + "%").join(", ") + ")")),
      ...versions.map((v) => h("option", { value: v.stateMachineVersionArn }, "version " + nameOf(v.stateMachineVersionArn) + (v.description ? " \u2013 " + v.description : ""))));
    target.value = [...target.options].some((o) => o.value === chosen) ? chosen : arn;
  }

  function zoomBar(graph) {
    return h("div", { class: "zoom", role: "toolbar", "aria-label": "Zoom" },
      h("button", { type: "button", onclick: () => graph() && graph().zoom(1.25), "aria-label": "Zoom in" }, "+"),
      h("button", { type: "button", onclick: () => graph() && graph().zoom(0.8), "aria-label": "Zoom out" }, "\u2212"),
      h("button", { type: "button", onclick: () => graph() && graph().zoom(0) }, "100%"),
      h("button", { type: "button", onclick: () => graph() && graph().fit() }, "Fit"));
  }

  // What an execution ran: the version an alias drew, or the version started, or the
  // latest revision (no version).
  function ranOn(x) {
    if (!x.stateMachineVersionArn && !x.stateMachineAliasArn) return "";
    return (x.stateMachineVersionArn ? "version " + nameOf(x.stateMachineVersionArn) : "") + (x.stateMachineAliasArn ? " via alias " + nameOf(x.stateMachineAliasArn) : "");
  }

  function executionsList(arn, token) {
    const filter = h("select", { id: "status-filter", "aria-label": "Status" }, h("option", { value: "" }, "all statuses"), ...STATUSES.map((s) => h("option", { value: s }, s)));
    const body = h("tbody");
    const prev = h("button", { type: "button", id: "prev-page" }, "\u2190 Previous");
    const next = h("button", { type: "button", id: "next-page" }, "Next \u2192");
    const pageSize = 25;
    let tokens = [undefined]; // the token of each page seen
    let pageIndex = 0;
    const load = async () => {
      const request = { stateMachineArn: arn, maxResults: pageSize };
      if (filter.value) request.statusFilter = filter.value;
      if (tokens[pageIndex]) request.nextToken = tokens[pageIndex];
      const r = await call("ListExecutions", request);
      if (token !== pageToken) return;
      body.textContent = "";
      for (const x of r.executions || []) {
        body.append(h("tr", { "data-execution": x.name }, h("td", {}, h("a", { href: executionHref(x.executionArn) }, x.name)), h("td", {}, statusBadge(x.status)), h("td", {}, ranOn(x)), h("td", { class: "num" }, x.redriveCount ? String(x.redriveCount) : ""), h("td", {}, date(x.startDate)), h("td", {}, date(x.stopDate))));
      }
      if (!(r.executions || []).length) body.append(h("tr", {}, h("td", { colspan: 6 }, "No executions" + (filter.value ? " with status " + filter.value : ""))));
      tokens[pageIndex + 1] = r.nextToken;
      prev.disabled = pageIndex === 0;
      next.disabled = !r.nextToken;
      // Running executions on the page: look again shortly, as their status will change.
      clearTimeout(pollTimer);
      if ((r.executions || []).some((x) => x.status === "RUNNING")) pollTimer = setTimeout(() => token === pageToken && load(), 2 * POLL_MS);
    };
    filter.addEventListener("change", () => {
      tokens = [undefined];
      pageIndex = 0;
      load();
    });
    prev.addEventListener("click", () => {
      pageIndex = Math.max(0, pageIndex - 1);
      load();
    });
    next.addEventListener("click", () => {
      pageIndex++;
      load();
    });
    const element = h("section", {}, h("h2", {}, "Executions"), h("div", { class: "toolbar" }, filter, " ", prev, " ", next, " ", h("button", { type: "button", onclick: load }, "Refresh")),
      h("table", { class: "list", id: "executions" }, h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Status"), h("th", {}, "Version"), h("th", { class: "num" }, "Redrives"), h("th", {}, "Started"), h("th", {}, "Stopped"))), body));
    return { element, load };
  }

  // ---- an execution ---------------------------------------------------------------------

  async function executionPage(arn, token) {
    let execution = await call("DescribeExecution", { executionArn: arn });
    // A version's definition is frozen: read it from the version the execution ran.
    const machine = execution.stateMachineVersionArn
      ? await call("DescribeStateMachine", { stateMachineArn: execution.stateMachineVersionArn }).catch(() => call("DescribeStateMachineForExecution", { executionArn: arn }))
      : await call("DescribeStateMachineForExecution", { executionArn: arn }).catch(() => call("DescribeStateMachine", { stateMachineArn: execution.stateMachineArn }));
    if (token !== pageToken) return;
    let definition = {};
    try {
      definition = JSON.parse(machine.definition);
    } catch (_) {}
    const header = h("div", { id: "execution-header" });
    const graphBox = h("div", { class: "graph-box", id: "graph" });
    const detailsBox = h("div", { id: "state-details", class: "details", "aria-live": "polite" }, h("p", { class: "hint" }, "Select a state (click, or Tab to it and press Enter) to see its input, output, errors and events."));
    const waitingBox = h("section", { id: "waiting" });
    const ioBox = h("section", { id: "execution-io" });
    const eventsBox = h("section", { id: "events-section" });
    const timelineBox = h("section", { id: "timeline-section" });
    let selected = null;
    let analysis = null;
    let events = [];
    let waitingKey = null;
    const graph = window.CairnGraph.render(graphBox, definition, {
      onSelect: (name) => {
        selected = name;
        showDetails();
      },
    });
    const eventFilter = { text: "", state: "" };

    const showDetails = () => {
      if (!selected || !analysis) return;
      const s = analysis.states.get(selected);
      const st = analysis.statuses.get(selected) || { status: "not-reached", note: "" };
      const info = analysis.index.get(selected) || {};
      detailsBox.textContent = "";
      detailsBox.setAttribute("data-selected", selected);
      detailsBox.append(h("h3", {}, selected, " ", h("span", { class: "tag" }, info.type || ""), " ", h("span", { class: "state-status st-" + st.status, "data-status": st.status }, window.CairnGraph.STATUS_MARK[st.status] + window.CairnGraph.STATUS_LABEL[st.status] + (st.note ? " (" + st.note + ")" : ""))));
      if (!s) {
        detailsBox.append(h("p", {}, "Not reached in this execution."));
        return;
      }
      if (s.failures.length) {
        detailsBox.append(h("h4", {}, s.caught ? "Caught error" : s.retried ? "Errors (retried)" : "Error"));
        const list = h("ul", { class: "failures" });
        for (const f of s.failures) list.append(h("li", { class: "failure", "data-error": f.error || "" }, h("strong", {}, f.error || f.type), " ", h("span", { class: "event-type" }, "(" + f.type + ", event " + f.id + ")"), h("pre", { class: "code small" }, pretty(f.cause))));
        detailsBox.append(list);
        if (s.caught) {
          const next = (Array.isArray(info.def.Catch) ? info.def.Catch : []).map((c) => c.Next).filter(Boolean);
          detailsBox.append(h("p", { class: "caught-note" }, "Caught: the execution went on to " + next.join(" or ") + "."));
        }
      }
      detailsBox.append(h("div", { class: "io" }, h("div", {}, h("h4", {}, "Input"), h("pre", { class: "code small", id: "state-input" }, pretty(s.lastInput))), h("div", {}, h("h4", {}, "Output"), h("pre", { class: "code small", id: "state-output" }, pretty(s.lastOutput)))));
      if (s.iterations.size) {
        const its = [...s.iterations.values()].sort((a, b) => a.index - b.index);
        const by = (st) => its.filter((i) => i.status === st).length;
        const iterEvents = h("div", { id: "iteration-events" });
        const pick = h("select", { id: "iteration-pick", "aria-label": "Iteration" }, h("option", { value: "" }, "choose an iteration"), ...its.map((i) => h("option", { value: i.index }, "#" + i.index + " " + i.status)));
        pick.addEventListener("change", () => {
          iterEvents.textContent = "";
          const it = s.iterations.get(Number(pick.value));
          if (it) iterEvents.append(eventTable(it.events));
        });
        detailsBox.append(h("h4", {}, "Iterations"), h("p", { class: "iterations", "data-succeeded": by("SUCCEEDED"), "data-failed": by("FAILED"), "data-running": by("RUNNING") }, its.length + " iterations: " + by("SUCCEEDED") + " succeeded, " + by("FAILED") + " failed, " + by("RUNNING") + " running" + (by("ABORTED") ? ", " + by("ABORTED") + " aborted" : "")), pick, iterEvents);
      } else if (info.type === "Parallel") {
        // A branch's status is that of its states: any still running, failed, or all done.
        const list = h("ul", { class: "branches" });
        (info.def.Branches || []).forEach((b, i) => {
          const names = [...analysis.index.values()].filter((x) => x.parent === selected && b && b.States && Object.prototype.hasOwnProperty.call(b.States, x.name)).map((x) => x.name);
          const sts = names.map((n) => (analysis.statuses.get(n) || { status: "not-reached" }).status);
          const status = sts.includes("in-progress") ? "in-progress" : sts.includes("failed") ? "failed" : sts.every((x) => x === "not-reached") ? "not-reached" : "succeeded";
          list.append(h("li", { "data-branch": i, "data-status": status }, h("span", { class: "state-status st-" + status }, window.CairnGraph.STATUS_MARK[status] + window.CairnGraph.STATUS_LABEL[status]), " Branch " + (i + 1) + ": " + names.join(", ")));
        });
        detailsBox.append(h("h4", {}, "Branches"), list);
      }
      detailsBox.append(h("h4", {}, "Events of this state"), eventTable(s.events));
    };

    const eventTable = (list) => {
      const rows = list.slice(0, 2000).map((e) => {
        const d = window.CairnHistory.details(e);
        const info = analysis && analysis.byId.get(e.id);
        return h("tr", { "data-event-type": e.type }, h("td", { class: "num" }, e.id), h("td", {}, e.type), h("td", {}, info && info.state ? info.state : ""), h("td", { class: "nowrap" }, time(e.timestamp)), h("td", {}, h("code", { class: "clip" }, Object.keys(d).length ? JSON.stringify(d).slice(0, 300) : "")));
      });
      return h("table", { class: "list events" }, h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {}, "Type"), h("th", {}, "State"), h("th", {}, "Time"), h("th", {}, "Details"))), h("tbody", {}, rows));
    };

    const stopButton = h("button", { type: "button", id: "stop", class: "danger" }, "Stop execution");
    stopButton.addEventListener("click", async () => {
      if (!window.confirm("Stop this execution?")) return;
      try {
        await call("StopExecution", { executionArn: arn, error: "Console.Stopped", cause: "stopped from the Cairn console" });
        refresh();
      } catch (e) {
        header.append(errorBox(e));
      }
    });

    const redriveButton = h("button", { type: "button", id: "redrive" }, "Redrive");
    const redriveResult = h("div", { id: "redrive-result", "aria-live": "polite" });
    redriveButton.addEventListener("click", async () => {
      redriveResult.textContent = "";
      redriveButton.disabled = true;
      try {
        const r = await call("RedriveExecution", { executionArn: arn });
        redriveResult.append(h("span", { class: "hint ok" }, "redriven at " + date(r.redriveDate)));
        await refresh();
      } catch (e) {
        redriveResult.append(errorBox(e));
        redriveButton.disabled = false;
      }
    });

    const renderHeader = () => {
      header.textContent = "";
      const facts = h("dl", { class: "facts wide" }, h("dt", {}, "Status"), h("dd", { id: "execution-status" }, statusBadge(execution.status)), h("dt", {}, "Started"), h("dd", {}, date(execution.startDate)), h("dt", {}, "Stopped"), h("dd", {}, date(execution.stopDate)), h("dt", {}, "ARN"), h("dd", {}, h("code", {}, arn)));
      if (execution.stateMachineVersionArn) facts.append(h("dt", {}, "Version"), h("dd", { id: "execution-version", "data-version": nameOf(execution.stateMachineVersionArn), title: execution.stateMachineVersionArn }, "version " + nameOf(execution.stateMachineVersionArn)));
      if (execution.stateMachineAliasArn) facts.append(h("dt", {}, "Alias"), h("dd", { id: "execution-alias", "data-alias": nameOf(execution.stateMachineAliasArn), title: execution.stateMachineAliasArn }, nameOf(execution.stateMachineAliasArn)));
      if (execution.redriveCount !== undefined) facts.append(h("dt", {}, "Redrives"), h("dd", { id: "redrive-count" }, String(execution.redriveCount)));
      if (execution.redriveDate !== undefined) facts.append(h("dt", {}, "Last redriven"), h("dd", { id: "redrive-date" }, date(execution.redriveDate)));
      // While it runs an execution is never redrivable: say so only once it has ended.
      if (execution.redriveStatus && execution.status !== "RUNNING") facts.append(h("dt", {}, "Redrive"), h("dd", { id: "redrive-status", "data-redrive-status": execution.redriveStatus }, execution.redriveStatus, execution.redriveStatusReason ? h("span", { class: "hint", id: "redrive-reason" }, " \u2013 " + execution.redriveStatusReason) : ""));
      header.append(facts);
      if (execution.error || execution.cause) header.append(h("div", { class: "error" }, h("strong", {}, execution.error || ""), " ", execution.cause || ""));
      if (execution.status === "RUNNING") header.append(stopButton);
      if (["FAILED", "TIMED_OUT", "ABORTED"].includes(execution.status)) {
        // The server says whether a redrive would be accepted, and why not (AWS's reason).
        const refused = execution.redriveStatus === "NOT_REDRIVABLE";
        redriveButton.disabled = refused;
        redriveButton.title = refused ? execution.redriveStatusReason || "not redrivable" : "";
        header.append(redriveButton, redriveResult);
      }
      ioBox.textContent = "";
      ioBox.append(h("h2", {}, "Execution input and output"));
      const io = h("div", { class: "io" }, h("div", {}, h("h4", {}, "Input"), h("pre", { class: "code small" }, pretty(execution.input))));
      if (execution.output !== undefined) io.append(h("div", {}, h("h4", {}, "Output"), h("pre", { class: "code small", id: "execution-output" }, pretty(execution.output))));
      ioBox.append(io);
    };

    const renderWaiting = () => {
      waitingBox.textContent = "";
      if (!analysis.waiting.length) return;
      waitingBox.append(h("h2", {}, "Waiting for a task token"));
      analysis.waiting.forEach((t, i) => {
        const out = jsonEditor("task-output-" + i, "Output (JSON)", "{}");
        out.area.rows = 3;
        const tokenField = h("input", { id: "task-token-" + i, class: "code", value: t.token, "aria-label": "Task token" });
        const errorField = h("input", { id: "task-error-" + i, placeholder: "Error", "aria-label": "Error" });
        const causeField = h("input", { id: "task-cause-" + i, placeholder: "Cause", "aria-label": "Cause" });
        const result = h("div", { class: "send-result", "aria-live": "polite" });
        const send = async (action, body) => {
          result.textContent = "";
          try {
            await call(action, Object.assign({ taskToken: tokenField.value }, body));
            result.append(h("span", { class: "hint ok" }, action + " sent"));
            refresh();
          } catch (e) {
            result.append(errorBox(e));
          }
        };
        waitingBox.append(h("div", { class: "waiting-task", "data-state": t.state },
          h("p", {}, h("strong", {}, t.state), t.iteration !== null && t.iteration !== undefined ? " (iteration " + t.iteration + ")" : "", " waits since event " + t.scheduled.id + ", " + date(t.scheduled.timestamp)),
          h("div", { class: "field" }, h("label", { for: tokenField.id }, "Task token"), tokenField),
          out.element,
          h("button", { type: "button", class: "send-success", onclick: () => out.check() && send("SendTaskSuccess", { output: out.area.value }) }, "Send success"),
          h("div", { class: "failure-form" }, errorField, " ", causeField, " ", h("button", { type: "button", class: "send-failure danger", onclick: () => send("SendTaskFailure", Object.assign({}, errorField.value ? { error: errorField.value } : {}, causeField.value ? { cause: causeField.value } : {})) }, "Send failure")),
          result));
      });
    };

    const renderEvents = () => {
      eventsBox.textContent = "";
      const text = h("input", { id: "event-filter", placeholder: "filter: type or text", value: eventFilter.text, "aria-label": "Filter events" });
      const stateNames = [...analysis.states.keys()];
      const stateSel = h("select", { id: "event-state", "aria-label": "State" }, h("option", { value: "" }, "all states"), ...stateNames.map((n) => h("option", { value: n, selected: n === eventFilter.state }, n)));
      const tableBox = h("div");
      const apply = () => {
        eventFilter.text = text.value;
        eventFilter.state = stateSel.value;
        const q = text.value.toLowerCase();
        const list = events.filter((e) => {
          if (stateSel.value && (analysis.byId.get(e.id) || {}).state !== stateSel.value) return false;
          return !q || JSON.stringify(e).toLowerCase().includes(q);
        });
        tableBox.textContent = "";
        tableBox.append(h("p", { class: "hint" }, list.length + " of " + events.length + " events"), eventTable(list));
      };
      text.addEventListener("input", apply);
      stateSel.addEventListener("change", apply);
      eventsBox.append(h("h2", {}, "Events"), h("div", { class: "toolbar" }, text, " ", stateSel), tableBox);
      apply();
    };

    const renderTimeline = () => {
      timelineBox.textContent = "";
      if (!events.length) return;
      const t0 = ms(events[0].timestamp);
      const tEnd = Math.max(ms(events[events.length - 1].timestamp), execution.status === "RUNNING" ? Date.now() : 0, t0 + 1);
      const total = tEnd - t0;
      const rows = [];
      for (const [name, s] of analysis.states) {
        s.spans.forEach((span, i) => rows.push({ name, start: ms(span.start), end: ms(span.end), i, failed: span.failed }));
        const open = s.entered - s.spans.length;
        if (open > 0 && s.firstEnter !== null) {
          const last = s.events.filter((e) => e.type.endsWith("StateEntered")).slice(-open);
          last.forEach((e) => rows.push({ name, start: ms(e.timestamp), end: tEnd, open: true }));
        }
      }
      rows.sort((a, b) => a.start - b.start);
      const shown = rows.slice(0, 300);
      timelineBox.append(h("h2", {}, "Timeline"), h("p", { class: "hint" }, "State durations from entry to exit" + (rows.length > shown.length ? " (first " + shown.length + " of " + rows.length + ")" : "") + "; total " + total + " ms."));
      const list = h("div", { class: "timeline" });
      for (const r of shown) {
        const left = ((r.start - t0) / total) * 100;
        const width = Math.max(0.4, ((r.end - r.start) / total) * 100);
        const st = (analysis.statuses.get(r.name) || {}).status || "not-reached";
        list.append(h("div", { class: "tl-row" }, h("span", { class: "tl-name" }, r.name), h("span", { class: "tl-track" }, h("span", { class: "tl-bar st-" + (r.open ? "in-progress" : r.failed ? "failed" : st), style: "left:" + left + "%;width:" + width + "%", title: r.name + ": " + (r.end - r.start) + " ms" + (r.open ? " so far" : "") })), h("span", { class: "tl-ms" }, r.end - r.start + " ms" + (r.open ? "\u2026" : ""))));
      }
      timelineBox.append(list);
    };

    // A history only grows: after the first load, read it newest first and stop at the
    // last event already here, so polling a long execution costs what changed.
    const newEvents = async () => {
      if (!events.length) return (await all("GetExecutionHistory", { executionArn: arn, maxResults: 1000 }, "events", 1e6)).items;
      const lastId = events[events.length - 1].id;
      const fresh = [];
      let nextToken;
      do {
        const page = await call("GetExecutionHistory", Object.assign({ executionArn: arn, maxResults: 100, reverseOrder: true }, nextToken ? { nextToken } : {}));
        const list = page.events || [];
        const known = list.findIndex((e) => e.id <= lastId);
        fresh.push(...(known >= 0 ? list.slice(0, known) : list));
        nextToken = known >= 0 ? undefined : page.nextToken;
      } while (nextToken);
      return fresh.length ? events.concat(fresh.reverse()) : events;
    };

    const refresh = async () => {
      const myToken = token;
      try {
        execution = await call("DescribeExecution", { executionArn: arn });
        const fresh = await newEvents();
        if (myToken !== pageToken) return;
        events = fresh;
        analysis = window.CairnHistory.analyse(definition, events, execution.status);
        for (const name of graph.nodes.keys()) {
          const st = analysis.statuses.get(name) || { status: "not-reached", note: "" };
          graph.setStatus(name, st.status, st.note);
        }
        graphBox.dataset.executionStatus = execution.status;
        renderHeader();
        // Keep what the user is typing into a waiting task's form unless the tasks changed.
        const key = analysis.waiting.map((t) => t.scheduled.id).join(",");
        const editing = document.activeElement && waitingBox.contains(document.activeElement);
        if (!editing || key !== waitingKey) renderWaiting();
        waitingKey = key;
        showDetails();
        if (!(document.activeElement && eventsBox.contains(document.activeElement))) renderEvents();
        renderTimeline();
      } catch (e) {
        header.append(errorBox(e));
      }
      if (myToken === pageToken && execution.status === "RUNNING") {
        clearTimeout(pollTimer);
        pollTimer = setTimeout(refresh, POLL_MS);
      }
    };

    setPage(
      execution.name,
      h("nav", { class: "crumbs" }, h("a", { href: "#/" }, "State machines"), " / ", h("a", { href: machineHref(execution.stateMachineArn) }, nameOf(execution.stateMachineArn)), " / ", execution.name),
      h("h1", {}, "Execution ", execution.name),
      header,
      h("section", { class: "split" }, h("div", { class: "pane" }, h("h2", {}, "Graph"), legend(), zoomBar(() => graph), graphBox), h("div", { class: "pane" }, waitingBox, h("h2", {}, "State"), detailsBox, ioBox)),
      timelineBox,
      eventsBox,
    );
    // A wide graph starts scaled to its pane (down to half size, then it scrolls).
    graph.fit(0.5);
    await refresh();
  }

  function legend() {
    const { STATUS_LABEL, STATUS_MARK } = window.CairnGraph;
    return h("ul", { class: "legend", "aria-label": "Legend" }, ...Object.keys(STATUS_LABEL).map((k) => h("li", { class: "lg st-" + k }, (STATUS_MARK[k] || "\u25CB ") + STATUS_LABEL[k])), h("li", { class: "lg edge-catch-legend" }, "- - Catch"));
  }

  // ---- signing in (cairn serve --auth) ----------------------------------------------------

  function signInPage(error) {
    const saved = credentials() || {};
    const field = (id, label, attrs) => h("div", { class: "field" }, h("label", { for: id }, label), h("input", Object.assign({ id, autocomplete: "off", spellcheck: "false" }, attrs)));
    const form = h("form", { id: "signin" },
      field("signin-key", "Access key ID", { value: saved.accessKeyId || "", required: true }),
      field("signin-secret", "Secret access key", { type: "password", required: true }),
      field("signin-token", "Session token (if the key has one)", {}),
      field("signin-region", "Region (the server's --region)", { value: saved.region || "us-east-1", required: true }),
      h("button", { type: "submit" }, "Sign requests with this key"));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const value = (id) => document.getElementById(id).value.trim();
      const creds = { accessKeyId: value("signin-key"), secretAccessKey: value("signin-secret"), region: value("signin-region") };
      if (value("signin-token")) creds.sessionToken = value("signin-token");
      sessionStorage.setItem(CREDENTIALS_KEY, JSON.stringify(creds));
      route();
    });
    setPage("Sign in", h("h1", {}, "This server checks signatures"),
      errorBox(error),
      h("p", {}, "It was started with ", h("code", {}, "--auth"), ": the console signs its API calls (SigV4) with one of the keys in that file. The key stays in this tab's session storage and is sent to no one; each request carries only its signature."),
      form);
  }

  function renderWho() {
    const who = document.getElementById("who");
    if (!who) return;
    who.textContent = "";
    const creds = credentials();
    if (creds) {
      who.append("signing as " + creds.accessKeyId + " ", h("button", { type: "button", class: "link light", onclick: () => {
        sessionStorage.removeItem(CREDENTIALS_KEY);
        route();
      } }, "forget key"));
    }
  }

  // ---- routing --------------------------------------------------------------------------

  async function route() {
    clearTimeout(pollTimer);
    const token = ++pageToken;
    const hash = location.hash || "#/";
    try {
      let m;
      if ((m = /^#\/machine\/(.+)$/.exec(hash))) await machinePage(decodeURIComponent(m[1]), token);
      else if ((m = /^#\/execution\/(.+)$/.exec(hash))) await executionPage(decodeURIComponent(m[1]), token);
      else if (hash === "#/create") await createPage(token);
      else await machinesPage(token);
    } catch (e) {
      if (token === pageToken && AUTH_ERRORS.has(e.type)) signInPage(e);
      else if (token === pageToken) setPage("Error", h("h1", {}, "Something went wrong"), errorBox(e), h("p", {}, h("a", { href: "#/" }, "Back to the state machines")));
    }
    if (token === pageToken) {
      renderWho();
      document.body.dataset.ready = String(token);
      const heading = main.querySelector("h1");
      if (heading && document.activeElement === document.body) heading.focus({ preventScroll: true });
    }
  }

  window.addEventListener("hashchange", route);
  route();
  window.CairnConsole = { call };
})();
