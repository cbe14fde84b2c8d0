// What an execution's history says about each state: attribution of every event to a state
// (events carry a state name only when entering or leaving one, so the others follow their
// previousEventId chain), statuses, retries, caught errors, Map/Parallel iterations and the
// task tokens still waited on.
"use strict";

(function () {
  const FAILURE = /(TaskFailed|TaskTimedOut|TaskSubmitFailed|TaskStartFailed|ActivityFailed|ActivityTimedOut|ActivityScheduleFailed|LambdaFunctionFailed|LambdaFunctionTimedOut|LambdaFunctionStartFailed|LambdaFunctionScheduleFailed|StateFailed|MapRunFailed|EvaluationFailed)$/;
  const SUCCESS = /(TaskSucceeded|ActivitySucceeded|LambdaFunctionSucceeded)$/;

  function details(event) {
    for (const [k, v] of Object.entries(event)) if (k.endsWith("EventDetails") && v && typeof v === "object") return v;
    return {};
  }

  function analyse(definition, events, executionStatus) {
    const index = window.CairnGraph.stateIndex(definition);
    const byId = new Map();
    const states = new Map();
    const get = (name) => {
      if (!states.has(name)) {
        states.set(name, { name, entered: 0, exited: 0, failures: [], successes: 0, events: [], iterations: new Map(), lastInput: undefined, lastOutput: undefined, firstEnter: null, lastExit: null, spans: [] });
      }
      return states.get(name);
    };
    // The enclosing Map/Parallel whose type an unnamed Map*/Parallel* event names.
    const owner = (name, type) => {
      const prefix = type.startsWith("Map") ? "Map" : type.startsWith("Parallel") ? "Parallel" : null;
      if (!prefix) return name;
      let cur = name;
      while (cur && index.get(cur) && index.get(cur).type !== prefix) cur = index.get(cur).parent;
      return cur || name;
    };
    const tasks = new Map(); // open waitForTaskToken tasks by scheduled event id
    const openSpans = new Map(); // name -> [enteredEvent] stack
    let redrives = 0;
    for (const e of events) {
      const d = details(e);
      const prev = byId.get(e.previousEventId);
      let state = null;
      let iteration = prev ? prev.iteration : null;
      if (e.type === "ExecutionRedriven") {
        // A new attempt: the states the last one left open failed in it (their spans end
        // where it ended), the tasks it waited on wait no more, and each such state's status
        // is now that of its new entry, if the redrive reaches it.
        const ended = prev ? prev.event.timestamp : e.timestamp;
        for (const [name, open] of openSpans) {
          const s = states.get(name);
          if (!s || !open.length) continue;
          for (const start of open.splice(0)) s.spans.push({ start: start.timestamp, end: ended, failed: true });
          s.exited = s.entered;
          s.failedBefore = true;
          s.pendingFailure = null;
        }
        tasks.clear();
        redrives++;
      }
      if (e.type.startsWith("Execution")) state = null;
      else if (typeof d.name === "string" && index.has(d.name)) state = d.name;
      else if (prev) {
        state = prev.state;
        // After a state's exit, an unnamed event belongs to the state around it.
        if (prev.type.endsWith("StateExited") && state && index.get(state)) state = index.get(state).parent;
        if (state) state = owner(state, e.type);
      }
      if (e.type === "MapIterationStarted" || e.type.startsWith("MapIteration")) iteration = d.index;
      const info = { id: e.id, type: e.type, state, iteration, event: e };
      byId.set(e.id, info);
      if (!state) continue;
      const s = get(state);
      s.events.push(e);
      if (e.type.endsWith("StateEntered")) {
        s.entered++;
        s.enteredInAttempt = redrives;
        s.lastInput = d.input;
        if (s.firstEnter === null) s.firstEnter = e.timestamp;
        (openSpans.get(state) || openSpans.set(state, []).get(state)).push(e);
      } else if (e.type.endsWith("StateExited")) {
        s.exited++;
        s.lastOutput = d.output;
        s.lastExit = e.timestamp;
        const open = openSpans.get(state);
        const start = open && open.length ? open.shift() : null;
        s.spans.push({ start: start ? start.timestamp : e.timestamp, end: e.timestamp });
        // A state that leaves after a failure with no success in between had it caught.
        s.caughtPending = s.pendingFailure || null;
        s.pendingFailure = null;
        if (s.caughtPending) s.caught = s.caughtPending;
      } else if (FAILURE.test(e.type)) {
        const f = { type: e.type, error: d.error, cause: d.cause, id: e.id };
        s.failures.push(f);
        s.pendingFailure = f;
      } else if (SUCCESS.test(e.type)) {
        s.successes++;
        if (s.pendingFailure) s.retried = true;
        s.pendingFailure = null;
      } else if (e.type === "TaskScheduled" || e.type === "ActivityScheduled" || e.type === "LambdaFunctionScheduled") {
        if (s.pendingFailure) s.retried = true; // scheduled again after a failure: a retry
        s.pendingFailure = null;
        if (String(d.resource || "").endsWith(".waitForTaskToken")) {
          tasks.set(e.id, { state, scheduled: e, iteration, parameters: d.parameters, token: findToken(d.parameters) });
        }
      }
      if (e.type.startsWith("MapIteration")) {
        const it = s.iterations.get(d.index) || { index: d.index, status: "RUNNING", events: [] };
        if (e.type === "MapIterationStarted") it.status = "RUNNING"; // again, after a redrive
        else if (e.type === "MapIterationSucceeded") it.status = "SUCCEEDED";
        else if (e.type === "MapIterationFailed") it.status = "FAILED";
        else if (e.type === "MapIterationAborted") it.status = "ABORTED";
        s.iterations.set(d.index, it);
      }
      // A waiting task ends with its answer, a timeout, or its state's end.
      if (/^(TaskSucceeded|TaskFailed|TaskTimedOut|TaskStateExited|TaskStateAborted)$/.test(e.type)) {
        for (const [id, t] of tasks) if (t.state === state && t.iteration === iteration) tasks.delete(id);
      }
    }
    // Events of each Map iteration, for the drill-down.
    for (const info of byId.values()) {
      if (info.iteration === null || info.iteration === undefined) continue;
      let cur = info.state;
      while (cur && index.get(cur) && index.get(cur).type !== "Map") cur = index.get(cur).parent;
      if (!cur || cur === info.state && !info.type.startsWith("MapIteration")) continue;
      const it = states.get(cur) && states.get(cur).iterations.get(info.iteration);
      if (it) it.events.push(info.event);
    }
    const running = executionStatus === "RUNNING" || executionStatus === "PENDING_REDRIVE";
    const statuses = new Map();
    for (const [name, s] of states) {
      let status;
      if (s.entered > s.exited) {
        // Entered and never left: still running, or where the execution ended.
        status = running ? "in-progress" : "failed";
      } else if (s.entered === 0) status = s.failures.length ? "failed" : "not-reached";
      else if (s.failedBefore && s.enteredInAttempt < redrives) status = "failed"; // not entered again yet
      else if (s.caught) status = "caught";
      else if (s.retried) status = "retried";
      else status = "succeeded";
      let note = "";
      if (s.entered > 1) note = "\u00D7" + s.entered;
      if (s.failedBefore && s.enteredInAttempt === redrives && redrives) note = (note ? note + ", " : "") + "redriven";
      const info = index.get(name);
      if (info && info.type === "Map" && s.iterations.size) {
        const its = [...s.iterations.values()];
        const ok = its.filter((i) => i.status === "SUCCEEDED").length;
        const bad = its.filter((i) => i.status === "FAILED" || i.status === "ABORTED").length;
        note = ok + "/" + its.length + " ok" + (bad ? ", " + bad + " failed" : "");
      }
      if (s.failures.length && status !== "failed") note = (note ? note + ", " : "") + s.failures.length + " error" + (s.failures.length > 1 ? "s" : "");
      statuses.set(name, { status, note });
    }
    // An ended execution waits for nothing, whatever its tasks were doing when it stopped.
    return { states, statuses, waiting: running ? [...tasks.values()] : [], byId, index, redrives };
  }

  // The task token in a waitForTaskToken task's parameters: the value of a key named like
  // "token" if there is one, else the longest token-looking string.
  function findToken(parametersText) {
    let params;
    try {
      params = JSON.parse(parametersText || "null");
    } catch (_) {
      return "";
    }
    let named = "";
    let longest = "";
    const walk = (v, key) => {
      if (typeof v === "string") {
        if (!/^[A-Za-z0-9+/=_.:-]{32,}$/.test(v)) return;
        if (/token/i.test(key || "") && v.length > named.length) named = v;
        if (v.length > longest.length) longest = v;
      } else if (Array.isArray(v)) v.forEach((x) => walk(x, key));
      else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, k);
    };
    walk(params, "");
    return named || longest;
  }

  window.CairnHistory = { analyse, findToken, details };
})();
