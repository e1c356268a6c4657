// LoadPilot report: renders the results object embedded in #lp-data.
// Every string from the results is placed with textContent (never as
// markup), so names and messages from scenarios or targets stay text.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("lp-data").textContent);
  const isObj = (v) => typeof v === "object" && v !== null && !Array.isArray(v);
  const list = (v) => (Array.isArray(v) ? v.filter(isObj) : []);
  // A hand-edited or older results file may lack parts; charts whose columns
  // are missing say so instead of failing.
  const columns = ["t", "target_rps", "current_rps", "iterations_rps", "active", "p50_ms", "p95_ms",
    "p99_ms", "max_ms", "requests", "errors", "error_rate"];
  const ts = isObj(data.timeseries) && columns.every((k) => Array.isArray(data.timeseries[k]))
    ? data.timeseries : null;
  const tasks = list(data.tasks);
  // A closed model (users=) also plots its users over time.
  const closed = data.model === "closed";
  const users = isObj(data.users) ? data.users : {};
  const userColumns = closed && ts && ["active_users", "target_users"].every((k) =>
    Array.isArray(ts[k]) && ts[k].length === ts.t.length);
  const tsTasks = ts ? list(ts.tasks).filter((t) =>
    ["p50_ms", "p99_ms", "error_rate"].every((k) => Array.isArray(t[k]))) : [];

  // ---- small helpers -------------------------------------------------------
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  const num = (v) => (typeof v === "number" && isFinite(v) ? v : 0);
  function fmt(v, digits) {
    v = num(v);
    return v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }
  const fmtInt = (v) => fmt(v, 0);
  // Bytes in decimal units, as the terminal summary prints them.
  function fmtBytes(v) {
    v = num(v);
    const units = ["B", "kB", "MB", "GB", "TB"];
    let u = 0;
    while (Math.abs(v) >= 1000 && u < units.length - 1) { v /= 1000; u++; }
    return u === 0 ? fmt(v, 0) + " B" : fmt(v, v < 10 ? 2 : v < 100 ? 1 : 0) + " " + units[u];
  }
  function fmtMs(v) {
    v = num(v);
    return v >= 100 ? fmt(v, 0) + " ms" : v >= 10 ? fmt(v, 1) + " ms" : fmt(v, 2) + " ms";
  }
  function fmtDuration(s) {
    s = Math.round(num(s));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return (h ? h + "h " : "") + (h || m ? m + "m " : "") + sec + "s";
  }
  function clock(s) {
    s = Math.round(s);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(sec).padStart(2, "0");
  }
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  const palette = () => ["--s1", "--s2", "--s3", "--s4", "--s5", "--s6", "--s7", "--s8"].map(css);

  // ---- header and headline -------------------------------------------------
  document.getElementById("scenario").textContent = String(data.scenario || "LoadPilot report");
  const badge = document.getElementById("badge");
  badge.textContent = data.passed ? "PASSED" : "FAILED";
  badge.classList.add(data.passed ? "pass" : "fail");
  if (data.interrupted) {
    const b = document.getElementById("interrupted");
    b.textContent = "Interrupted" + (data.signal ? " by " + data.signal : "") +
      " after " + fmtDuration(data.duration_s) + ": the numbers cover the part that ran.";
    b.hidden = false;
  }
  // The verdict's reasons beyond thresholds (docs/output.md#verdict).
  if (data.overload && data.overload.message) {
    const b = document.getElementById("overload");
    b.textContent = "Overload (" + data.overload.bottleneck + "): " + data.overload.message;
    b.hidden = false;
  }
  // A generator-bound run: a warning, unless --strict made it a problem.
  if (typeof data.generator_bound === "string" &&
      !(Array.isArray(data.problems) && data.problems.includes(data.generator_bound))) {
    const b = document.getElementById("overload");
    b.textContent = (b.hidden ? "" : b.textContent + " ") + "Warning: " + data.generator_bound;
    b.hidden = false;
  }
  if (Array.isArray(data.problems) && data.problems.length) {
    const ul = document.getElementById("problems");
    data.problems.forEach((p) => ul.append(el("li", null, String(p))));
    ul.hidden = false;
  }
  const rps = data.rps || {};
  const meta = document.getElementById("meta");
  function metaItem(label, value) {
    const d = el("div");
    d.append(el("dt", null, label), el("dd", null, value));
    meta.append(d);
  }
  metaItem("Target", data.target);
  // Results of a version that did not count protocols have no "protocol".
  if (data.protocol) metaItem("Protocol", data.protocol.name);
  metaItem("Scenario file", data.file || "");
  metaItem("Started", data.started_at || "");
  metaItem("Duration", fmtDuration(data.duration_s) +
    (data.planned_duration_s ? " of " + fmtDuration(data.planned_duration_s) + " planned" : ""));
  metaItem("Mode", data.mode);
  metaItem("Model", closed ? "closed: " + fmtInt(users.planned) + " users, think time " +
    String(users.wait || "none") : "open (arrival rate)");
  metaItem("Target RPS", closed ? "none (the users set the pace)"
    : num(rps.target) > 0 ? fmt(rps.target, 1) + " iterations/s" : "unlimited");
  metaItem("Agents", data.agents !== undefined ? String(data.agents) : "none (local run)");
  metaItem("LoadPilot", data.loadpilot_version || "");

  const lat = data.latency || {};
  const headline = document.getElementById("headline");
  function card(label, value, sub) {
    const c = el("div", "card");
    c.append(el("div", "label", label), el("div", "value", value));
    if (sub) c.append(el("div", "sub", sub));
    headline.append(c);
  }
  card("Requests", fmtInt(data.requests), fmtInt(data.errors) + " errors");
  const its = data.iterations || {};
  if (its.started !== undefined) {
    card("Iterations", fmtInt(its.started) + " started",
      fmtInt(its.finished) + " finished, " + fmtInt(its.cut_off || 0) + " cut off, " +
      fmtInt(its.dropped || 0) + " dropped");
  }
  if (closed) card("Users", fmtInt(users.planned), fmtInt(users.peak_active) + " at most active");
  // A ramp or step profile averages below its peak: the achieved rate is
  // compared with the planned average, the peak beside it (as the terminal
  // summary does).
  const plannedAvg = num(data.planned_duration_s) > 0 && isObj(data.iterations)
    ? num(data.iterations.planned) / num(data.planned_duration_s) : num(rps.target);
  card("RPS achieved", fmt(rps.actual, 1), closed ? "closed model"
    : num(rps.target) > 0 ? "target " + fmt(plannedAvg, 1) + " iterations/s average, " +
      fmt(rps.target, 1) + " peak" : "unlimited rate");
  card("Error rate", fmt(data.error_rate, 2) + " %");
  const bytes = isObj(data.bytes) ? data.bytes : null;
  if (bytes) card("Data received", fmtBytes(bytes.received), "sent " + fmtBytes(bytes.sent));
  // A run that used WebSocket (docs/protocols.md#websocket): its opens and
  // round trips are in the requests; this card has the rest.
  const ws = isObj(data.websocket) ? data.websocket : null;
  if (ws) {
    const closes = Object.entries(isObj(ws.closes) ? ws.closes : {})
      .map(([code, n]) => code + " \u00d7" + fmtInt(n)).join(", ");
    card("WebSocket", fmtInt(ws.opened) + " opened",
      fmtInt(ws.messages_sent) + " messages sent (" + fmtBytes(ws.bytes_sent) + "), " +
      fmtInt(ws.messages_received) + " received (" + fmtBytes(ws.bytes_received) + ")" +
      (closes ? "; closes " + closes : ""));
  }
  card("p50", fmtMs(lat.p50_ms));
  card("p95", fmtMs(lat.p95_ms));
  card("p99", fmtMs(lat.p99_ms));
  card("max", fmtMs(lat.max_ms));

  // ---- charts ----------------------------------------------------------------
  const charts = [];  // {u, host, build}
  function emptyNote(host, text) {
    host.replaceChildren(el("div", "empty", text));
  }
  // Axis colours from the current theme.
  function axisStyle() {
    const fg = css("--fg"), grid = css("--grid");
    return { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  }
  // Legend values: the value under the cursor, and while nothing is hovered
  // the series' last value (not "--"), so the legend reads as a summary.
  function lastIndex(col) {
    if (!Array.isArray(col)) return null;
    for (let i = col.length - 1; i >= 0; i--) if (col[i] != null) return i;
    return null;
  }
  function legendValue(format) {
    return (u, v, si, idx) => {
      if (idx == null) {
        const i = lastIndex(u.data[si]);
        v = i == null ? null : u.data[si][i];
      }
      return v == null ? "--" : format(v);
    };
  }
  const fmtRps = (v) => fmt(v, 1) + " req/s";
  const fmtPct = (v) => fmt(v, 2) + " %";
  const fmtCount = (v) => fmtInt(v);
  // Whole seconds on the time axis, at Grafana-like steps.
  const timeIncrs = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400];
  // Counts (requests, workers, users) get whole-number ticks only.
  const intIncrs = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5,
    1e6, 2e6, 5e6, 1e7, 2e7, 5e7, 1e8, 2e8, 5e8, 1e9];
  const countScale = { range: (u, min, max) => [0, Math.max(2, Math.ceil(num(max) * 1.1))] };
  // A y axis: `unit` is its label (ms, req/s, %, requests...); `integer`
  // restricts ticks to whole numbers.
  function yAxis(unit, integer, extra) {
    const a = Object.assign({}, axisStyle(), { size: 56, label: unit, labelSize: 18, labelGap: 0 });
    if (integer) {
      a.incrs = intIncrs;
      a.values = (u, vals) => vals.map((v) => (v == null ? "" : fmtInt(v)));
    }
    return Object.assign(a, extra || {});
  }
  // y: {unit, integer, format}: the axis label, whole-number ticks, and the
  // legend format of series that do not bring their own.
  function baseOpts(host, series, y) {
    y = y || {};
    const format = y.format || ((v) => fmt(v, 2));
    const opts = {
      width: chartWidth(host),
      height: 240,
      cursor: { sync: { key: "loadpilot" } },
      scales: { x: { time: false } },
      legend: { live: true },
      series: [{ label: "time", value: legendValue(clock) }].concat(series.map((s) =>
        Object.assign({ value: legendValue(format) }, s))),
      axes: [
        Object.assign({}, axisStyle(), { incrs: timeIncrs, values: (u, vals) => vals.map((v) => clock(v)),
          label: "elapsed (m:ss)", labelSize: 18, labelGap: 0 }),
        yAxis(y.unit, y.integer),
      ],
    };
    if (y.integer) opts.scales.y = countScale;
    return opts;
  }
  const chartWidth = (host) => Math.max(200, host.clientWidth);
  // Legend values of latency series.
  const msValue = { value: legendValue(fmtMs) };
  // Percent axes start at 0 and stop at 100.
  const percentScale = { range: (u, min, max) => [0, Math.min(100, Math.max(1, max * 1.1))] };
  function line(label, color, extra) {
    // uPlot shows point markers by itself when the data is sparse (short runs).
    return Object.assign({ label: label, stroke: color, width: 1.5 }, extra || {});
  }
  // Threshold limits drawn as dashed horizontal lines with their label. A
  // limit above the plotted range is named at the top edge with an arrow
  // instead of squashing the data under it.
  function limitLines(limits) {
    return {
      draw: [(u) => {
        const g = u.ctx, r = window.devicePixelRatio || 1, box = u.bbox;
        g.save();
        g.font = Math.round(11 * r) + "px system-ui, sans-serif";
        g.textAlign = "right";
        limits.forEach((l) => {
          const max = u.scales.y.max, min = u.scales.y.min;
          const inside = l.value <= max && l.value >= min;
          const y = inside ? Math.round(u.valToPos(l.value, "y", true)) : box.top + 12 * r;
          const text = inside ? l.label
            : l.label + (l.value > max ? " ↑ above the chart" : " ↓ below the chart");
          const x = box.left + box.width - 4 * r, ty = inside ? y - 5 * r : y;
          if (inside) {
            g.strokeStyle = l.color; g.lineWidth = 1.5 * r; g.setLineDash([6 * r, 4 * r]);
            g.beginPath(); g.moveTo(box.left, y); g.lineTo(box.left + box.width, y); g.stroke();
            g.setLineDash([]);
          }
          // On a panel-coloured patch, so the label stays legible over the lines.
          const tw = g.measureText(text).width;
          g.fillStyle = css("--panel");
          g.fillRect(x - tw - 3 * r, ty - 11 * r, tw + 6 * r, 13 * r);
          g.fillStyle = l.color;
          g.fillText(text, x, ty);
        });
        g.restore();
      }],
    };
  }
  // The run's thresholds by key (docs/output.md): limit lines on the charts.
  const thresholds = list(data.thresholds).filter((t) => typeof t.limit === "number" && isFinite(t.limit));
  const limitOf = (key) => thresholds.find((t) => t.key === key);
  function addChart(id, build) {
    const host = document.getElementById(id);
    const entry = { host: host, build: build, u: null };
    charts.push(entry);
    render(entry);
    return entry;
  }
  function render(entry) {
    if (entry.u) entry.u.destroy();
    entry.u = null;
    entry.host.replaceChildren();
    const made = entry.build(entry.host);
    if (made) {
      // Where the y axis starts once drawn, for tests reading the page.
      const hooks = made.opts.hooks = made.opts.hooks || {};
      hooks.draw = (hooks.draw || []).concat([(u) => {
        if (u.scales.y) entry.host.dataset.ymin = String(u.scales.y.min);
      }]);
      entry.u = new uPlot(made.opts, made.data, entry.host);
      // What the axes and limit lines say, for tests and tools reading the page.
      entry.host.dataset.axes = made.opts.axes.map((a) => a.label || "").join("|");
      if (made.limits) entry.host.dataset.limits = made.limits.map((l) => l.label).join("|");
    }
  }

  const noSeries = "No time series in this results file.";
  const rpsAxis = { unit: "req/s", format: fmtRps };
  // Rates start at 0, so a steady rate does not read as a wild one.
  const fromZero = { range: (u, min, max) => [0, Math.max(1, num(max) * 1.1)] };
  addChart("chart-rps", (host) => {
    if (!ts) return emptyNote(host, noSeries);
    const p = palette();
    // A closed model has no target rate: its users set the pace.
    if (closed) {
      const opts = baseOpts(host, [line("Current", p[0]), line("Iterations", p[1])], rpsAxis);
      opts.scales.y = fromZero;
      return { opts: opts, data: [ts.t, ts.current_rps, ts.iterations_rps] };
    }
    // The target is drawn last, dashed and wider: it lies on top of the
    // achieved rates where they match it, instead of hiding under them.
    const opts = baseOpts(host, [line("Current", p[0]), line("Iterations", p[1]),
      line("Target", p[2], { dash: [6, 4], width: 2 })], rpsAxis);
    opts.scales.y = fromZero;
    return { opts: opts, data: [ts.t, ts.current_rps, ts.iterations_rps, ts.target_rps] };
  });
  if (userColumns) document.getElementById("caption-active").textContent = "Active Users and Workers";
  addChart("chart-active", (host) => {
    if (!ts) return emptyNote(host, noSeries);
    const p = palette();
    if (userColumns) {
      // The target last, on top of the users that match it.
      return { opts: baseOpts(host, [line("In flight", p[4], { fill: p[4] + "22" }),
        line("Active users", p[0]), line("Target users", p[2], { dash: [6, 4], width: 2 })],
      { unit: "users / iterations", integer: true, format: fmtCount }),
        data: [ts.t, ts.active, ts.active_users, ts.target_users] };
    }
    return { opts: baseOpts(host, [line("Active", p[4], { fill: p[4] + "22" })],
      { unit: "iterations in flight", integer: true, format: fmtCount }), data: [ts.t, ts.active] };
  });
  // Late and dropped arrivals per second, from their cumulative columns
  // (results files before these columns existed say so).
  const hasCol = (k) => ts && Array.isArray(ts[k]) && ts[k].length === ts.t.length;
  // A short last round (the run ended mid-second) keeps the previous
  // second's rate, as the engine's own rates do (current_rps): a few
  // requests over a few milliseconds would read as a spike or a drop.
  function perSecond(col) {
    const out = [];
    col.forEach((v, i) => {
      if (i === 0) return out.push(num(v) / Math.max(1, num(ts.t[0])));
      const dt = num(ts.t[i]) - num(ts.t[i - 1]);
      if (dt < 0.5 && i === col.length - 1) return out.push(out[i - 1]);
      out.push(dt > 0 ? Math.max(0, num(v) - num(col[i - 1])) / dt : 0);
    });
    return out;
  }
  const notInFile = "Not in this results file (written by an older LoadPilot).";
  addChart("chart-arrivals", (host) => {
    if (!ts) return emptyNote(host, noSeries);
    if (!hasCol("late") || !hasCol("dropped")) return emptyNote(host, notInFile);
    const p = palette();
    const opts = baseOpts(host, [line("Late", p[2], { fill: p[2] + "22" }), line("Dropped", p[3])],
      { unit: "arrivals/s", format: (v) => fmt(v, v % 1 ? 1 : 0) + " /s" });
    opts.scales.y = { range: (u, min, max) => [0, Math.max(1, num(max) * 1.1)] };
    return { opts: opts, data: [ts.t, perSecond(ts.late), perSecond(ts.dropped)] };
  });
  // Latency thresholds (p50/p95/p99/max) as lines in their series' colour.
  function latencyLimits(p) {
    const colours = { p50_ms: p[1], p95_ms: p[2], p99_ms: p[5], max_ms: p[3] };
    return thresholds.filter((t) => colours[t.key]).map((t) => ({
      value: t.limit, color: colours[t.key], label: t.key.replace("_ms", "") + " limit " + fmtMs(t.limit) }));
  }
  addChart("chart-latency", (host) => {
    if (!ts) return emptyNote(host, noSeries);
    const p = palette();
    const limits = latencyLimits(p);
    const opts = baseOpts(host, [line("p50", p[1]), line("p95", p[2]), line("p99", p[5]), line("max", p[3])],
      { unit: "ms", format: fmtMs });
    opts.scales.y = fromZero;
    opts.hooks = limitLines(limits);
    return { opts: opts, limits: limits, data: [ts.t, ts.p50_ms, ts.p95_ms, ts.p99_ms, ts.max_ms] };
  });
  // Service time (send to last byte) beside latency (from the intended
  // start): the gap between them is time spent waiting to be sent.
  addChart("chart-service", (host) => {
    if (!ts) return emptyNote(host, noSeries);
    if (!hasCol("service_p50_ms") || !hasCol("service_p99_ms")) return emptyNote(host, notInFile);
    const p = palette();
    const opts = baseOpts(host, [line("service p50", p[6]), line("service p99", p[7]),
      line("latency p99", p[5], { dash: [5, 4] })], { unit: "ms", format: fmtMs });
    opts.scales.y = fromZero;
    return { opts: opts, data: [ts.t, ts.service_p50_ms, ts.service_p99_ms, ts.p99_ms] };
  });
  addChart("chart-error-rate", (host) => {
    if (!ts) return emptyNote(host, noSeries);
    const p = palette();
    const th = limitOf("error_rate");
    const limits = th ? [{ value: th.limit, color: p[3], label: "error rate limit " + fmtPct(th.limit) }] : [];
    const opts = baseOpts(host, [line("Error rate", p[3], { fill: p[3] + "22" })], { unit: "%", format: fmtPct });
    opts.scales.y = percentScale;
    opts.hooks = limitLines(limits);
    return { opts: opts, limits: limits, data: [ts.t, ts.error_rate] };
  });
  addChart("chart-cumulative", (host) => {
    if (!ts) return emptyNote(host, noSeries);
    const p = palette();
    // One axis for both: errors are a part of the requests, and a second
    // axis would draw 50 errors as high as 2,000 requests.
    const opts = baseOpts(host, [line("Requests", p[0]), line("Errors", p[3], { fill: p[3] + "33" })],
      { unit: "requests", integer: true, format: fmtCount });
    return { opts: opts, data: [ts.t, ts.requests, ts.errors] };
  });

  // Responses per second by status class, from their cumulative columns:
  // "none" is a request that got no complete response.
  const statusClasses = [["2xx", 1], ["3xx", 0], ["4xx", 5], ["5xx", 3], ["none", 7]];
  addChart("chart-status", (host) => {
    if (!ts) return emptyNote(host, noSeries);
    if (!statusClasses.every(([c]) => hasCol("responses_" + c))) return emptyNote(host, notInFile);
    const p = palette();
    const opts = baseOpts(host, statusClasses.map(([c, i]) => line(c, p[i])),
      { unit: "responses/s", format: (v) => fmt(v, v % 1 ? 1 : 0) + " /s" });
    opts.scales.y = { range: (u, min, max) => [0, Math.max(1, num(max) * 1.1)] };
    return { opts: opts, data: [ts.t].concat(statusClasses.map(([c]) => perSecond(ts["responses_" + c]))) };
  });
  addChart("chart-bytes", (host) => {
    if (!ts) return emptyNote(host, noSeries);
    if (!hasCol("bytes_sent") || !hasCol("bytes_received")) return emptyNote(host, notInFile);
    const p = palette();
    const opts = baseOpts(host, [line("Received", p[0], { fill: p[0] + "22" }), line("Sent", p[1])],
      { unit: "bytes/s", format: (v) => fmtBytes(v) + "/s" });
    opts.scales.y = { range: (u, min, max) => [0, Math.max(1, num(max) * 1.1)] };
    Object.assign(opts.axes[1], { size: 72, values: (u, vals) => vals.map((v) => fmtBytes(v)) });
    return { opts: opts, data: [ts.t, perSecond(ts.bytes_received), perSecond(ts.bytes_sent)] };
  });

  // Load generator: its own side each second (docs/report.md#what-it-shows),
  // so a reader can tell the generator's limits from the target's.
  const gen = ts && isObj(ts.generator) && ["lag_max_ms", "cpu", "steal", "busy", "python_cpu",
    "connections_busy", "connections_open", "send_queue"].every((k) =>
    Array.isArray(ts.generator[k]) && ts.generator[k].length === ts.t.length) ? ts.generator : null;
  const cores = gen && gen.cores > 0 ? gen.cores : 0;
  if (cores) document.getElementById("caption-gen-cpu").textContent =
    "CPU (process: share of its " + cores + " core" + (cores === 1 ? "" : "s") + ")";
  const pct = (col) => col.map((v) => (v == null ? null : num(v) * 100));
  addChart("chart-gen-lag", (host) => {
    if (!gen) return emptyNote(host, ts ? notInFile : noSeries);
    const opts = baseOpts(host, [line("Lag", palette()[5], { fill: palette()[5] + "22" })],
      { unit: "ms", format: fmtMs });
    opts.scales.y = fromZero;
    return { opts: opts, data: [ts.t, gen.lag_max_ms] };
  });
  addChart("chart-gen-cpu", (host) => {
    if (!gen) return emptyNote(host, ts ? notInFile : noSeries);
    const p = palette();
    const series = [line(cores ? "Process" : "Process (per core)", p[0], { fill: p[0] + "22" }),
      line("Busiest thread", p[2]), line("Python thread", p[1]), line("Steal", p[3])];
    const data = [ts.t, pct(gen.cpu), pct(gen.busy), pct(gen.python_cpu), pct(gen.steal)];
    // Waiting for CPU: absent from results files of older versions.
    if (Array.isArray(gen.cpu_wait) && gen.cpu_wait.length === ts.t.length) {
      series.push(line("Waiting for CPU", p[4]));
      data.push(pct(gen.cpu_wait));
    }
    const opts = baseOpts(host, series, { unit: "%", format: (v) => fmt(v, 1) + " %" });
    opts.scales.y = { range: [0, 100] };
    return { opts: opts, data: data };
  });
  addChart("chart-gen-conns", (host) => {
    if (!gen) return emptyNote(host, ts ? notInFile : noSeries);
    const p = palette();
    const opts = baseOpts(host, [line("Open", p[0]), line("Busy", p[2], { fill: p[2] + "22" }),
      line("Send queue", p[3])], { unit: "connections / arrivals", integer: true, format: fmtCount });
    return { opts: opts, data: [ts.t, gen.connections_open, gen.connections_busy, gen.send_queue] };
  });
  {
    const g = isObj(data.generator) ? data.generator : null;
    const text = !g ? "No measure of the load generator in this results file." :
      "Worst event-loop lag " + fmtMs(num(g.lag_max_ms)) + " at " + clock(num(g.lag_max_at_s)) +
      "; CPU up to " + fmt(num(g.cpu_max) * 100, 0) + " %" + (cores ? " of " + cores + " core" + (cores === 1 ? "" : "s") : " per core") +
      ", busiest thread " + fmt(num(g.busy_max) * 100, 0) + " %, Python thread " +
      fmt(num(g.python_cpu_max) * 100, 0) + " % busy, steal up to " + fmt(num(g.steal_max) * 100, 1) +
      " %" + (g.cpu_wait_max != null ? ", threads waiting for CPU up to " +
        fmt(num(g.cpu_wait_max) * 100, 0) + " %" : "") + "; connections busy up to " + fmtInt(num(g.connections_busy_max)) + " of " +
      fmtInt(num(g.connections_open_max)) + " open" + (g.send_queue_max != null
        ? ", send queue up to " + fmtInt(num(g.send_queue_max)) : "") + ".";
    document.getElementById("generator-text").textContent = text;
  }

  // Per Task: the filter plays the role of Grafana's $task variable. It is a
  // row of toggle chips: "All", or any set of tasks; picking a task while
  // "All" is on shows that task alone, and clearing the last task goes back
  // to "All".
  const filter = document.getElementById("task-filter");
  function chip(text, value) {
    const label = el("label", "chip");
    const box = el("input");
    box.type = "checkbox";
    box.value = value;
    label.append(box, el("span", null, text));
    filter.append(label);
    return box;
  }
  const allBox = chip("All", "__all__");
  allBox.checked = true;
  const taskBoxes = tsTasks.map((t, i) => chip(t.name, String(i)));
  function shownTasks() {
    return taskBoxes.map((b) => allBox.checked || b.checked);
  }
  filter.addEventListener("change", (e) => {
    if (e.target === allBox) {
      allBox.checked = true;
      taskBoxes.forEach((b) => (b.checked = false));
    } else if (allBox.checked) {
      allBox.checked = false;
      taskBoxes.forEach((b) => (b.checked = b === e.target));
    } else if (!taskBoxes.some((b) => b.checked)) {
      allBox.checked = true;
    }
    applyFilter();
  });
  function taskChart(id, percent, perTask) {
    return addChart(id, (host) => {
      if (!ts || !tsTasks.length) return emptyNote(host, noSeries);
      const p = palette();
      const series = [], cols = [ts.t];
      tsTasks.forEach((t, i) => perTask(t, p[i % p.length], series, cols));
      const opts = baseOpts(host, series, percent ? { unit: "%", format: fmtPct } : { unit: "ms", format: fmtMs });
      if (percent) opts.scales.y = percentScale;
      return { opts: opts, data: cols };
    });
  }
  const taskLatency = taskChart("chart-task-latency", false, (t, color, series, cols) => {
    series.push(line(t.name + " p50", color, { dash: [5, 4] }));
    series.push(line(t.name + " p99", color));
    cols.push(t.p50_ms, t.p99_ms);
  });
  const taskErrors = taskChart("chart-task-errors", true, (t, color, series, cols) => {
    series.push(line(t.name, color));
    cols.push(t.error_rate);
  });
  function applyFilter() {
    const shown = shownTasks();
    [[taskLatency, 2], [taskErrors, 1]].forEach(([entry, per]) => {
      if (!entry.u) return;
      entry.u.batch(() => {
        shown.forEach((on, i) => {
          for (let k = 0; k < per; k++) entry.u.setSeries(1 + i * per + k, { show: on });
        });
      });
    });
  }

  // Latency distribution: latency against percentile, from the whole-run
  // histogram. x is -log10(1 - q), so 90%, 99%, 99.9% are evenly spaced.
  addChart("chart-distribution", (host) => {
    const h = data.latency_histogram;
    if (!isObj(h) || !Array.isArray(h.v) || !Array.isArray(h.c) || !h.v.length || h.v.length !== h.c.length) return emptyNote(host, "No latency histogram in this results file.");
    let total = 0;
    h.c.forEach((c) => (total += c));
    const xs = [], ys = [];
    let cum = 0;
    const xMax = Math.log10(total) + 0.5;
    for (let i = 0; i < h.v.length; i++) {
      cum += h.c[i];
      const q = cum / total;
      const x = q >= 1 ? xMax : Math.min(-Math.log10(1 - q), xMax);
      if (xs.length && x <= xs[xs.length - 1]) { ys[ys.length - 1] = Math.max(h.v[i] / 1000, 0.001); continue; }
      xs.push(x);
      ys.push(Math.max(h.v[i] / 1000, 0.001));
    }
    const pct = (x) => {
      const p = 100 * (1 - Math.pow(10, -x));
      return (p >= 99.99 ? p.toFixed(3) : p >= 99 ? p.toFixed(2) : p.toFixed(1)) + "%";
    };
    const p = palette(), axis = axisStyle();
    const opts = {
      width: chartWidth(host), height: 260,
      scales: { x: { time: false, range: [0, xMax] }, y: { distr: 3 } },
      series: [{ label: "percentile", value: legendValue(pct) },
        line("latency", p[0], Object.assign({ fill: p[0] + "22", points: { show: false } }, msValue))],
      axes: [Object.assign({}, axis, { splits: () => { const s = []; for (let k = 0; k <= Math.floor(xMax); k++) s.push(k); return s; },
        values: (u, vals) => vals.map(pct), label: "percentile (log scale)", labelSize: 18, labelGap: 0 }),
      yAxis("ms (log scale)", false)],
    };
    return { opts: opts, data: [xs, ys] };
  });

  // p99 gauge: whole-run p99 against the p99 threshold (or against max).
  // Its colour: with a p99_ms threshold, green within it and red over it
  // (the verdict's own line); without one, the steps of the Grafana
  // dashboard's p99 gauge: green, orange from 250 ms, red from 500 ms.
  const gaugeSteps = [[0, "green"], [250, "orange"], [500, "red"]];
  function gaugeLevel(value, limit) {
    if (limit > 0) return value > limit ? "red" : "green";
    let level = gaugeSteps[0][1];
    gaugeSteps.forEach(([from, name]) => { if (value >= from) level = name; });
    return level;
  }
  function drawGauge() {
    const host = document.getElementById("gauge-p99");
    host.replaceChildren();
    const th = list(data.thresholds).find((t) => t.key === "p99_ms" && !(num(t.over_s) > 0));
    const value = num(lat.p99_ms);
    const limit = th ? num(th.limit) : 0;
    const level = gaugeLevel(value, limit);
    host.dataset.level = level;
    const top = Math.max(limit * 1.5, value * 1.25, num(lat.max_ms), 0.001);
    const canvas = el("canvas");
    const ratio = window.devicePixelRatio || 1;
    const w = 260, h = 160;
    canvas.width = w * ratio; canvas.height = h * ratio;
    canvas.style.width = w + "px"; canvas.style.height = h + "px";
    const g = canvas.getContext("2d");
    g.scale(ratio, ratio);
    const cx = w / 2, cy = 145, r = 95;
    const angle = (v) => Math.PI + Math.PI * Math.min(v / top, 1);
    g.lineWidth = 18; g.lineCap = "butt";
    g.strokeStyle = css("--grid");
    g.beginPath(); g.arc(cx, cy, r, Math.PI, 2 * Math.PI); g.stroke();
    g.strokeStyle = css({ green: "--ok", orange: "--orange", red: "--bad" }[level]);
    g.beginPath(); g.arc(cx, cy, r, Math.PI, angle(value)); g.stroke();
    if (limit > 0) {
      // The limit: a tick across the arc, labelled outside it.
      const a = angle(limit);
      g.strokeStyle = css("--fg"); g.lineWidth = 3;
      g.beginPath(); g.moveTo(cx + (r - 14) * Math.cos(a), cy + (r - 14) * Math.sin(a));
      g.lineTo(cx + (r + 14) * Math.cos(a), cy + (r + 14) * Math.sin(a)); g.stroke();
      const label = "limit " + fmtMs(limit);
      g.font = "12px system-ui, sans-serif";
      g.fillStyle = css("--fg");
      g.textBaseline = "bottom";
      const tw = g.measureText(label).width;
      let x = cx + (r + 16) * Math.cos(a);
      x = Math.cos(a) < 0 ? x - tw : x;
      x = Math.min(Math.max(2, x), w - 2 - tw);
      g.fillText(label, x, Math.max(14, cy + (r + 16) * Math.sin(a)));
    }
    host.append(canvas, el("div", "reading", fmtMs(value)),
      el("div", "note", limit > 0 ? "limit " + fmtMs(limit)
        : "no p99 threshold; orange from 250 ms, red from 500 ms (as in Grafana); scale to max " +
          fmtMs(lat.max_ms)));
  }
  drawGauge();

  // ---- tables ------------------------------------------------------------------
  function table(id, headers, rows, rowClass) {
    const t = document.getElementById(id);
    t.replaceChildren();
    const head = el("tr");
    headers.forEach(([label, isText]) => head.append(el("th", isText ? "text" : null, label)));
    const thead = el("thead"); thead.append(head);
    const tbody = el("tbody");
    if (!rows.length) {
      const tr = el("tr"), td = el("td", "text", "none");
      td.colSpan = headers.length; tr.append(td); tbody.append(tr);
    }
    rows.forEach((cells, r) => {
      const tr = el("tr", rowClass ? rowClass(r) : null);
      cells.forEach((c, i) => {
        const cell = typeof c === "object" && c !== null ? c : { text: c };
        tr.append(el("td", cell.cls || (headers[i][1] ? "text" : null), cell.text));
      });
      tbody.append(tr);
    });
    t.append(thead, tbody);
  }
  // Each task, then its named requests as sub-rows (docs/output.md#--results-json-path):
  // indented, no weight, already counted in the task's row.
  const taskRows = [], subRow = [];
  tasks.forEach((t) => {
    const l = t.latency || {};
    // on_start / on_stop are hooks each VUser runs, not tasks drawn by weight.
    taskRows.push([t.name, t.hook ? "hook" : num(t.weight), fmtInt(t.requests), fmtInt(t.errors), fmt(t.error_rate, 2),
      fmt(t.rps, 1), fmtMs(l.p50_ms), fmtMs(l.p95_ms), fmtMs(l.p99_ms), fmtMs(l.max_ms)]);
    subRow.push(false);
    list(t.named_requests).forEach((n) => {
      const nl = n.latency || {};
      taskRows.push([{ text: n.name, cls: "text named" }, "", fmtInt(n.requests), fmtInt(n.errors),
        fmt(n.error_rate, 2), fmt(n.rps, 1), fmtMs(nl.p50_ms), fmtMs(nl.p95_ms), fmtMs(nl.p99_ms),
        fmtMs(nl.max_ms)]);
      subRow.push(true);
    });
  });
  table("tasks-table", [["task", true], ["weight"], ["requests"], ["errors"], ["error %"], ["req/s"],
    ["p50"], ["p95"], ["p99"], ["max"]], taskRows, (r) => (subRow[r] ? "named" : null));
  // A run of several scenarios (docs/report.md#several-scenarios): a row
  // each, then a section each with its own tasks and thresholds.
  const scenarios = isObj(data.scenarios) ? Object.entries(data.scenarios) : [];
  if (scenarios.length) {
    document.getElementById("row-scenarios").hidden = false;
    table("scenarios-table", [["", true], ["scenario", true], ["model", true], ["requests"], ["errors"],
      ["error %"], ["p99"], ["planned"], ["started"], ["dropped"], ["not started"], ["cut off"]],
      scenarios.map(([name, s]) => {
        const it = isObj(s.iterations) ? s.iterations : {};
        return [{ text: s.passed ? "✓" : "✗", cls: s.passed ? "ok" : "bad" }, name, String(s.model || ""),
          fmtInt(s.requests), fmtInt(s.errors), fmt(s.error_rate, 2), fmtMs((s.latency || {}).p99_ms),
          fmtInt(it.planned), fmtInt(it.started), fmtInt(it.dropped), fmtInt(it.not_started), fmtInt(it.cut_off)];
      }));
    const host = document.getElementById("scenario-sections");
    host.replaceChildren();
    scenarios.forEach(([name, s], i) => {
      const id = "scenario-" + i;
      const h = el("h3", null, name);
      const wrap = el("div", "table-wrap");
      const t = el("table"); t.id = id + "-tasks"; wrap.append(t);
      host.append(h, wrap);
      table(t.id, [["task", true], ["requests"], ["errors"], ["error %"], ["req/s"], ["p50"], ["p99"]],
        list(s.tasks).map((k) => {
          const l = k.latency || {};
          return [k.name, fmtInt(k.requests), fmtInt(k.errors), fmt(k.error_rate, 2), fmt(k.rps, 1),
            fmtMs(l.p50_ms), fmtMs(l.p99_ms)];
        }));
      if (list(s.thresholds).length) {
        const tw = el("div", "table-wrap");
        const tt = el("table"); tt.id = id + "-thresholds"; tw.append(tt);
        host.append(tw);
        table(tt.id, [["", true], ["threshold", true], ["actual"], ["limit"]],
          list(s.thresholds).map((r) => {
            const unit = r.key === "error_rate" ? " %" : " ms";
            return [{ text: r.passed ? "✓" : "✗", cls: r.passed ? "ok" : "bad" }, r.key,
              fmt(r.actual, 2) + unit, fmt(r.limit, 2) + unit];
          }));
      }
    });
  }
  table("errors-table", [["kind", true], ["message", true], ["count"], ["first seen"]],
    list(data.top_errors).map((e) => [e.kind, e.message, fmtInt(e.count), fmt(e.first_seen_s, 1) + " s"]));
  // The scenario's own metrics (docs/output.md#custom-metrics): one row
  // each, the columns its kind has; "" where a kind has no such figure.
  const custom = isObj(data.custom_metrics) ? Object.entries(data.custom_metrics).filter(([, m]) => isObj(m)) : [];
  if (custom.length) {
    document.getElementById("row-custom").hidden = false;
    const figure = (v) => (typeof v === "number" && isFinite(v)
      ? v.toLocaleString("en-US", { maximumFractionDigits: 3 }) : "");
    table("custom-table", [["metric", true], ["kind", true], ["count"], ["value / rate"], ["min"], ["mean"],
      ["p50"], ["p95"], ["p99"], ["max"]],
      custom.map(([name, m]) => {
        const value = m.kind === "rate" ? fmt(100 * num(m.rate), 2) + " %" + " (" + fmtInt(m.trues) + " of " + fmtInt(m.total) + ")"
          : m.kind === "gauge" ? figure(m.value) : m.kind === "counter" ? figure(m.count) : "";
        const count = m.kind === "rate" ? m.total : m.kind === "counter" ? m.adds : m.count;
        return [name, String(m.kind || ""), figure(count), value, figure(m.min), figure(m.mean),
          figure(m.p50), figure(m.p95), figure(m.p99), figure(m.max)];
      }));
  }
  // Each threshold by its task and window (docs/output.md#thresholds);
  // results of older versions have neither: the whole run.
  table("thresholds-table", [["", true], ["threshold", true], ["task", true], ["window", true],
    ["actual"], ["limit"]],
    list(data.thresholds).map((t) => {
      // A custom metric's key (NAME.STAT) is in its values' own unit.
      const metric = t.metric || t.key;
      const unit = metric === "error_rate" ? " %" : /_ms$/.test(metric) ? " ms" : "";
      const actual = typeof t.actual === "number" && isFinite(t.actual) ? fmt(t.actual, 2) + unit : "no values";
      const over = num(t.over_s);
      let window = over > 0 ? fmt(over, 0) + " s" : "whole run";
      if (over > 0 && isObj(t.window))
        window += ", worst " + fmt(t.window.start_s, 0) + "–" + fmt(t.window.end_s, 0) + " s";
      if (t.aborted) window += "; stopped the run at " + fmt(t.aborted_at_s, 1) + " s";
      return [{ text: t.passed ? "✓" : "✗", cls: t.passed ? "ok" : "bad" }, t.key,
        typeof t.task === "string" ? t.task : "(run)", window,
        actual, fmt(t.limit, 2) + unit];
    }));

  const knee = data.knee;
  if (isObj(knee) && Array.isArray(knee.steps)) {
    document.getElementById("row-knee").hidden = false;
    const limits = "Limits: p99 ≤ " + fmtMs(knee.p99_limit_ms) + " (" + knee.p99_limit_source +
      "), error rate ≤ " + fmt(knee.error_rate_limit, 2) + " % (" + knee.error_rate_limit_source + ").";
    let text;
    if (!knee.steps.length) text = "No step finished a request.";
    else if (!knee.found) text = "No knee: step 1 already broke the limits.";
    else text = "Knee at step " + knee.step + ": " + fmt(knee.target_rps, 1) + " req/s target, " +
      fmt(knee.actual_rps, 1) + " achieved" + (knee.saturated ? "." : " — every step met the limits, so the limit lies higher.");
    document.getElementById("knee-text").textContent = text + " " + limits;
    table("knee-table", [["step", true], ["", true], ["target req/s"], ["actual req/s"], ["p99"], ["error %"], ["requests"]],
      list(knee.steps).map((s) => [s.label, { text: s.passed ? "✓" : "✗", cls: s.passed ? "ok" : "bad" },
        fmt(s.target_rps, 1), fmt(s.actual_rps, 1), fmtMs(s.p99_ms), fmt(s.error_rate, 2), fmtInt(s.requests)]),
      (r) => (knee.found && list(knee.steps)[r].index === knee.step ? "knee" : null));
  }

  const generated = document.querySelector('meta[name="loadpilot-generated-at"]').content;
  document.getElementById("footer").textContent = "Generated by LoadPilot " +
    (data.loadpilot_version || "") + " at " + generated + ". Self-contained: opens offline.";

  // ---- theme and size changes --------------------------------------------------
  function redrawAll() {
    charts.forEach(render);
    applyFilter();
    drawGauge();
  }
  const scheme = window.matchMedia("(prefers-color-scheme: dark)");
  if (scheme.addEventListener) scheme.addEventListener("change", redrawAll);
  let resizeTimer = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => charts.forEach((c) => {
      if (c.u) c.u.setSize({ width: chartWidth(c.host), height: c.u.height });
    }), 100);
  });
})();
