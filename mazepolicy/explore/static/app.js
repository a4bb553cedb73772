// mazepolicy explore: the page. Plain JS, no build step. The whole view lives in the
// URL query (variant, seed, edits, vector, layer, coeff, role, show; the rollout seed in
// the fragment), so a link re-opens it; every number shown comes from the server's JSON API.
"use strict";

const $ = (id) => document.getElementById(id);
const COLORS = { wall: "#2b2b2b", free: "#f2efe6", region: "#f7d9d4", corner: "#d62728",
  cheese: "#f2c200", mouse: "#1f5fd6", decision: "#8e44ad", arrow: "#111",
  diff: "#c0392b", path: "rgba(31, 157, 85, 0.75)", goal: { cheese: "#e0a800", corner: "#d62728", other: "#7f7f7f" } };
const MOVE_NAMES = ["right", "up", "left", "down"];

let info = null;           // GET /api/info
let maze = null;           // the last GET /api/maze answer
let field = null;          // the last GET /api/field answer
let goals = null;          // the last GET /api/goals answer
let side = null;           // the last GET /api/side-field answer (with a control)
let rollout = null;        // the last GET /api/rollout answer, its query in .key
let rolloutStep = 0;       // the rollout step shown
let rolloutTimer = null;   // the animation's next frame
let request = 0;           // to drop answers to superseded requests
const view = { variant: "", seed: 0, edits: [], vector: "cheese", layer: "", coeff: 0,
  role: "policy", show: "steered", rollout_seed: 0 };

function editsText(edits) { return edits.map(([k, x, y]) => `${k}:${x},${y}`).join(";"); }

function parseEdits(text) {
  if (!text) return [];
  return text.split(";").map((part) => {
    const m = /^(cheese|mouse|wall):(\d+),(\d+)$/.exec(part);
    return m ? [m[1], Number(m[2]), Number(m[3])] : null;
  }).filter((e) => e !== null);
}

function query(withSteering) {
  const q = new URLSearchParams({ variant: view.variant, seed: String(view.seed),
    edits: editsText(view.edits) });
  if (withSteering) {
    q.set("vector", view.vector); q.set("layer", view.layer);
    q.set("coeff", String(view.coeff)); q.set("role", view.role);
  }
  return q;
}

function saveUrl() {
  const q = query(true); q.set("show", view.show);
  insideUrl(q);
  const hash = view.rollout_seed ? `#rollout_seed=${view.rollout_seed}` : "";
  history.replaceState(null, "", "?" + q.toString() + hash);
}

function say(text, kind) { const m = $("message"); m.textContent = text; m.className = kind || ""; }

async function api(path, q, method) {
  const reply = await fetch(path + "?" + q.toString(), { method: method || "GET" });
  const body = await reply.json();
  if (!reply.ok) throw new Error(body.error || `HTTP ${reply.status}`);
  return body;
}

// ---------------------------------------------------------------- drawing
function cellSize(canvas) { return Math.floor((canvas || $("maze")).width / maze.maze_dim); }

function toCanvas(x, y, s) {  // cell (x, y), y up -> canvas pixel of its centre (cells s px)
  const n = maze.maze_dim;
  s = s || cellSize();
  return [(x + 0.5) * s, (n - 1 - y + 0.5) * s];
}

// The maze on `canvas` (the main one by default) with field `f`'s arrows and, on the
// main canvas, the goal rings and the rollout's path.
function drawMaze(canvas = $("maze"), f = field, g = goals) {
  const ctx = canvas.getContext("2d"), n = maze.maze_dim, s = cellSize(canvas);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const region = new Set(maze.top_right_region.map(([x, y]) => `${x},${y}`));
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const free = maze.free[y][x] === 1;
      ctx.fillStyle = !free ? COLORS.wall : region.has(`${x},${y}`) ? COLORS.region : COLORS.free;
      ctx.fillRect(x * s, (n - 1 - y) * s, s, s);
    }
  }
  if (canvas === $("maze")) drawInside(ctx, s);
  ctx.strokeStyle = COLORS.corner; ctx.lineWidth = 2;
  ctx.strokeRect((n - 1) * s + 1, 1, s - 2, s - 2);
  if (maze.decision_square) {
    const [cx, cy] = toCanvas(...maze.decision_square, s), r = s * 0.42;
    ctx.strokeStyle = COLORS.decision; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.moveTo(cx, cy - r); ctx.lineTo(cx + r, cy); ctx.lineTo(cx, cy + r);
    ctx.lineTo(cx - r, cy); ctx.closePath(); ctx.stroke();
  }
  if (maze.cheese) {
    const [cx, cy] = toCanvas(...maze.cheese, s);
    ctx.fillStyle = COLORS.cheese; ctx.fillRect(cx - s * 0.3, cy - s * 0.3, s * 0.6, s * 0.6);
  }
  const [mx, my] = toCanvas(...maze.mouse, s);
  ctx.fillStyle = COLORS.mouse; ctx.beginPath(); ctx.arc(mx, my, s * 0.3, 0, 2 * Math.PI);
  ctx.fill();
  if (g) drawGoals(ctx, s);
  if (f) drawArrows(ctx, s, canvas === $("maze") && clamp ? clamp : f);  // clamp: Inside's
  if (canvas === $("maze")) drawRollout(ctx, s);
}

function drawRollout(ctx, s) {  // the mouse's path so far and where it is now
  if (!rollout) return;
  const cells = rollout.cells.slice(0, rolloutStep + 1);
  ctx.strokeStyle = COLORS.path; ctx.lineWidth = Math.max(2, s / 6);
  ctx.beginPath();
  cells.forEach(([x, y], i) => {
    const [cx, cy] = toCanvas(x, y, s);
    if (i === 0) ctx.moveTo(cx, cy); else ctx.lineTo(cx, cy);
  });
  ctx.stroke();
  const [mx, my] = toCanvas(...cells[cells.length - 1], s);
  ctx.strokeStyle = COLORS.mouse; ctx.lineWidth = Math.max(2, s / 8);
  ctx.beginPath(); ctx.arc(mx, my, s * 0.36, 0, 2 * Math.PI); ctx.stroke();
}

function shownGoals() { return view.show === "unsteered" ? goals.unsteered : goals.steered; }

function drawGoals(ctx, s) {  // a ring per cheese-corner path cell, coloured by its choice
  ctx.lineWidth = Math.max(1.5, s / 10);
  for (const row of shownGoals()) {
    const [cx, cy] = toCanvas(...row.cell, s);
    ctx.strokeStyle = COLORS.goal[row.choice];
    ctx.beginPath(); ctx.arc(cx, cy, s * 0.38, 0, 2 * Math.PI); ctx.stroke();
  }
}

function describeGoals() {
  const rows = shownGoals(), count = (c) => rows.filter((r) => r.choice === c).length;
  const which = view.show === "unsteered" ? "unsteered" : "steered";
  $("goals").textContent = rows.length === 0 ? "no cheese-corner path cells to choose on" :
    `goal choices (${which}) on the ${rows.length} cheese-corner path cells: ` +
    `cheese ${count("cheese")}, corner ${count("corner")}, other ${count("other")}`;
}

function drawArrows(ctx, s, f = field) {
  const key = { steered: "steered_net", unsteered: "unsteered_net", difference: "difference" }[view.show];
  ctx.strokeStyle = view.show === "difference" ? COLORS.diff : COLORS.arrow;
  ctx.fillStyle = ctx.strokeStyle; ctx.lineWidth = Math.max(1, s / 14);
  f.cells.forEach(([x, y], i) => {
    const [dx, dy] = f[key][i], len = Math.hypot(dx, dy);
    if (len < 1e-3) return;
    const [cx, cy] = toCanvas(x, y, s), ex = cx + dx * s * 0.45, ey = cy - dy * s * 0.45;
    ctx.beginPath(); ctx.moveTo(cx, cy); ctx.lineTo(ex, ey); ctx.stroke();
    const angle = Math.atan2(ey - cy, ex - cx), head = Math.min(s * 0.18, len * s * 0.3);
    ctx.beginPath(); ctx.moveTo(ex, ey);
    ctx.lineTo(ex - head * Math.cos(angle - 0.5), ey - head * Math.sin(angle - 0.5));
    ctx.lineTo(ex - head * Math.cos(angle + 0.5), ey - head * Math.sin(angle + 0.5));
    ctx.closePath(); ctx.fill();
  });
}

function bar(p) { return `${p.toFixed(3)}<span class="bar" style="width:${(p * 60).toFixed(1)}px"></span>`; }

function drawProbabilities() {
  const rows = [...MOVE_NAMES, "stay"].map((name, i) => {
    const u = i < 4 ? field.mouse_unsteered.moves[i] : field.mouse_unsteered.stay;
    const s = i < 4 ? field.mouse_steered.moves[i] : field.mouse_steered.stay;
    return `<tr data-move="${name}"><td>${name}</td><td>${bar(u)}</td><td>${bar(s)}</td></tr>`;
  });
  document.querySelector("#probs tbody").innerHTML = rows.join("");
}

// ---------------------------------------------------------------- updates
async function refresh() {
  const mine = ++request;
  saveUrl();
  clearRollout();
  say("computing...", "busy");
  try {
    const m = await api("/api/maze", query(false));
    if (mine !== request) return;
    maze = m; field = null; goals = null; side = null; $("goals").textContent = "";
    $("agent-view").src = maze.view_png;
    $("maze-caption").textContent = `${view.variant}, seed ${view.seed}, ` +
      `${maze.maze_dim}x${maze.maze_dim}` + (view.edits.length ? `, ${view.edits.length} edits` : "");
    drawMaze();
    if (hasControl()) drawMaze($("side-maze"), null, null);
    const f = await api("/api/field", query(true));
    if (mine !== request) return;
    field = f;
    drawMaze(); drawProbabilities();
    $("python-code").textContent = field.python;
    await refreshInside();
    try {
      const g = await api("/api/goals", query(true));
      if (mine !== request) return;
      goals = g; drawMaze(); describeGoals();
    } catch (err) {
      if (mine === request) $("goals").textContent = err.message;
    }
    await refreshSide(mine);
    if (mine !== request) return;
    say("");
  } catch (err) {
    if (mine === request) say(err.message, "error");
  }
}

// ------------------------------------------------------------ side by side
function hasControl() { return Boolean(info && info.policies.control); }

async function refreshSide(mine) {  // the other policy's field, beside this one
  if (!hasControl()) return;
  try {
    const f = await api("/api/side-field", query(true));
    if (mine !== request) return;
    side = f; drawSide();
  } catch (err) {
    if (mine === request) { side = null; $("side-caption").textContent = err.message; }
  }
}

function drawSide() {
  if (!side || !maze) return;
  drawMaze($("side-maze"), side, null);
  $("side-caption").textContent = `${side.role} (${info.policies[side.role]}), ` +
    (side.same_steering && view.coeff !== 0 ? `steered x ${view.coeff}` : "unsteered") + (side.note ? `: ${side.note}` : "");
}

// ----------------------------------------------------------------- rollout
function rolloutQuery() {
  const q = query(true); q.set("rollout_seed", String(view.rollout_seed));
  return q;
}

function stopRollout() { clearTimeout(rolloutTimer); rolloutTimer = null; }

function clearRollout() {
  stopRollout();
  if (rollout && maze) $("agent-view").src = maze.view_png;
  rollout = null; rolloutStep = 0; $("rollout-outcome").textContent = "";
}

async function loadRollout() {  // the episode of the view and rollout seed; true if new
  const key = rolloutQuery().toString();
  if (rollout && rollout.key === key) return false;
  const mine = request;
  say("playing the episode...", "busy");
  const r = await api("/api/rollout", rolloutQuery());
  if (mine !== request) throw new Error("the view changed");
  r.key = key; rollout = r; rolloutStep = 0; say("");
  return true;
}

function showRolloutStep() {
  const r = rollout, i = rolloutStep;
  $("agent-view").src = r.frames[i];
  $("rollout-outcome").textContent = `step ${i} of ${r.steps}` +
    (i > 0 ? ` (${r.moves[i - 1]})` : "") + (i === r.steps ? `: ${r.outcome_text}` : "");
  drawMaze();
}

async function playRollout() {  // animated, 10 steps a second
  stopRollout();
  try { await loadRollout(); } catch (err) { say(err.message, "error"); return; }
  if (rolloutStep >= rollout.steps) rolloutStep = 0;
  const tick = () => {
    showRolloutStep();
    if (rolloutStep < rollout.steps) { rolloutStep += 1; rolloutTimer = setTimeout(tick, 100); }
    else rolloutTimer = null;
  };
  tick();
}

async function stepRollout() {  // one step further (the start on a new episode)
  stopRollout();
  let fresh;
  try { fresh = await loadRollout(); } catch (err) { say(err.message, "error"); return; }
  if (!fresh && rolloutStep < rollout.steps) rolloutStep += 1;
  showRolloutStep();
}

async function edit(kind, x, y) {  // applied only if the server accepts it
  if (kind === "clamp") { clampAt(x, y); return; }
  const mine = ++request;
  const edits = [...view.edits, [kind, x, y]];
  const q = query(false); q.set("edits", editsText(edits));
  try {
    await api("/api/maze", q);
  } catch (err) {
    if (mine === request) say(`refused: ${err.message}`, "error");
    return;
  }
  view.edits = edits;
  refresh();
}

function setCoeff(value, from) {
  const v = Math.max(-5, Math.min(5, Number(value)));
  if (!Number.isFinite(v)) return;
  view.coeff = v;
  if (from !== "range") $("coeff-range").value = String(v);
  if (from !== "number") $("coeff").value = String(v);
}

let coeffTimer = null;
function coeffChanged(value, from) {
  setCoeff(value, from);
  clearTimeout(coeffTimer);
  coeffTimer = setTimeout(refresh, 120);
}

function fillSelect(select, values, chosen) {
  select.innerHTML = values.map((v) => `<option value="${v}">${v}</option>`).join("");
  select.value = values.includes(chosen) ? chosen : values[0];
  return select.value;
}

function fillLayers() {
  const layers = Object.keys(info.layers[view.role]);
  view.layer = fillSelect($("layer"), layers, view.layer || info.default_view.layer);
}

function fixLayer() {  // a saved vector (--vector) keeps the layer it was made at
  const file = (info.file_vectors || {})[view.vector];
  if (file) { view.layer = file.layer; $("layer").value = file.layer; }
  $("layer").disabled = Boolean(file);
}

async function start() {
  info = await api("/api/info", new URLSearchParams());
  const q = new URLSearchParams(location.search), d = info.default_view;
  view.variant = q.get("variant") || d.variant;
  view.seed = Number(q.get("seed") || d.seed);
  view.edits = parseEdits(q.get("edits") || "");
  view.vector = q.get("vector") || d.vector;
  view.layer = q.get("layer") || d.layer;
  view.role = q.get("role") || "policy";
  view.show = q.get("show") || "steered";
  const fragment = new URLSearchParams((location.hash || "").replace(/^#/, ""));
  view.rollout_seed = Math.max(0, Math.floor(Number(fragment.get("rollout_seed")) || 0));
  $("policy-name").textContent = Object.entries(info.policies).map(([r, s]) => `${r}: ${s}`).join(", ");
  view.variant = fillSelect($("variant"), info.variants, view.variant);
  view.vector = fillSelect($("vector"), info.vectors, view.vector);
  view.role = fillSelect($("role"), Object.keys(info.policies), view.role);
  $("role").disabled = Object.keys(info.policies).length < 2;
  fillLayers(); fixLayer();
  $("show").value = view.show;
  $("seed").value = String(view.seed);
  setCoeff(q.get("coeff") || d.coeff);
  $("save").hidden = !info.can_save;
  $("rollout-gif").hidden = !info.can_save;
  $("rollout-seed").value = String(view.rollout_seed);
  $("side").hidden = !hasControl();

  $("variant").onchange = () => { view.variant = $("variant").value; view.edits = []; refresh(); };
  $("seed").onchange = () => { view.seed = Math.max(0, Math.floor(Number($("seed").value) || 0)); view.edits = []; refresh(); };
  $("random-seed").onclick = () => { view.seed = Math.floor(Math.random() * 2147483647); $("seed").value = String(view.seed); view.edits = []; refresh(); };
  $("undo").onclick = () => { if (view.edits.length) { view.edits.pop(); refresh(); } };
  $("reset").onclick = () => { view.edits = []; refresh(); };
  $("vector").onchange = () => { view.vector = $("vector").value; fixLayer(); refresh(); };
  $("layer").onchange = () => { view.layer = $("layer").value; refresh(); };
  $("role").onchange = () => { view.role = $("role").value; fillLayers(); fixLayer(); refresh(); };
  $("show").onchange = () => {
    view.show = $("show").value; saveUrl();
    if (maze) drawMaze();
    if (goals) describeGoals();
    drawSide();
  };
  $("rollout-seed").onchange = () => {
    view.rollout_seed = Math.max(0, Math.min(2147483647, Math.floor(Number($("rollout-seed").value) || 0)));
    $("rollout-seed").value = String(view.rollout_seed); saveUrl(); clearRollout();
    if (maze) drawMaze();
  };
  $("rollout-play").onclick = playRollout;
  $("rollout-step").onclick = stepRollout;
  $("rollout-clear").onclick = () => { clearRollout(); if (maze) drawMaze(); };
  $("rollout-gif").onclick = async () => {
    try {
      const r = await api("/api/rollout-gif", rolloutQuery(), "POST");
      say(`saved ${r.saved} (${r.frames} frames, ${r.steps} steps)`);
    } catch (err) { say(err.message, "error"); }
  };
  $("coeff-range").oninput = () => coeffChanged($("coeff-range").value, "range");
  $("coeff").onchange = () => coeffChanged($("coeff").value, "number");
  $("copy").onclick = () => navigator.clipboard.writeText($("python-code").textContent);
  $("save").onclick = async () => {
    try { say(`saved ${(await api("/api/save-state", query(false), "POST")).saved}`); }
    catch (err) { say(err.message, "error"); }
  };
  startInside(q);
  $("maze").onclick = (event) => {
    if (!maze) return;
    const rect = $("maze").getBoundingClientRect(), s = cellSize();
    const px = (event.clientX - rect.left) * ($("maze").width / rect.width);
    const py = (event.clientY - rect.top) * ($("maze").height / rect.height);
    const x = Math.floor(px / s), y = maze.maze_dim - 1 - Math.floor(py / s);
    if (x < 0 || y < 0 || x >= maze.maze_dim || y >= maze.maze_dim) return;
    edit(document.querySelector("input[name=mode]:checked").value, x, y);
  };
  refresh();
}

// ---------------------------------------------------------------- inside
// A channel (or SAE feature) of the view's layer as a map over the maze, and the field
// with it clamped at a clicked cell ("clamp at cell" mode): GET /api/channels,
// /api/features, /api/channel-map, /api/clamp. Off (nothing asked) until a unit is
// chosen; its parameters (channel, feature, target, value) join the URL only then.
const inside = { channel: null, feature: null, target: null, value: 5.5 };
let heat = null;           // the last GET /api/channel-map answer
let clamp = null;          // the last GET /api/clamp answer
let insideRequest = 0;     // to drop superseded Inside answers
const rankings = {};       // "kind|role|layer|variant" -> GET /api/channels or /api/features

function insideOn() { return inside.channel !== null || inside.feature !== null; }

function unitQuery(q) {  // q with the chosen unit
  if (inside.channel !== null) q.set("channel", String(inside.channel));
  if (inside.feature !== null) q.set("feature", String(inside.feature));
  return q;
}

function clampQuery(q, target) {
  unitQuery(q); q.set("target", target.join(",")); q.set("value", String(inside.value));
  return q;
}

function insideUrl(q) {
  if (!insideOn()) return;
  if (inside.target) clampQuery(q, inside.target); else unitQuery(q);
}

function drawInside(ctx, s) {  // the map (red +, blue -; clear at 0) and the clamp's cell
  if (heat) {
    const k = heat.cells_per_pixel, m = heat.margin;
    const big = Math.max(Math.abs(heat.min), Math.abs(heat.max)) || 1;
    heat.map.forEach((row, r) => row.forEach((v, c) => {
      const a = Math.min(1, Math.abs(v) / big) * 0.5;  // walls stay readable beneath
      ctx.fillStyle = v >= 0 ? `rgba(214,39,40,${a.toFixed(3)})` : `rgba(31,95,214,${a.toFixed(3)})`;
      ctx.fillRect((c * k - m) * s, (r * k - m) * s, k * s, k * s);
    }));
  }
  if (clamp) {
    const [cx, cy] = toCanvas(...clamp.clamp.target, s);
    ctx.strokeStyle = "#00a651"; ctx.lineWidth = 3;
    ctx.strokeRect(cx - s * 0.45, cy - s * 0.45, s * 0.9, s * 0.9);
  }
}

function describeInside() {
  if (!heat) { $("inside-caption").textContent = ""; return; }
  let text = `${heat.kind} ${heat.index} at ${heat.layer}: map ${heat.shape.join("x")} ` +
    `(${heat.cells_per_pixel.toFixed(2)} cells per pixel), ${heat.min.toFixed(3)}..${heat.max.toFixed(3)}`;
  if (clamp) {
    const [x, y] = clamp.clamp.target, [r, c] = clamp.clamp.position;
    text += `; ${clamp.clamp.label} at (${x}, ${y}) (map pixel ${r}, ${c}): the arrows ` +
      "show the clamped field (steered), the unclamped one (unsteered) or clamped - unclamped";
  } else {
    text += "; choose \"clamp at cell\" and click a cell to clamp it there";
  }
  $("inside-caption").textContent = text;
}

async function refreshInside() {  // the map and, with a target, the clamp, for the view
  const mine = ++insideRequest;
  if (!insideOn()) { heat = null; clamp = null; describeInside(); return; }
  try {
    const h = await api("/api/channel-map", unitQuery(query(true)));
    const c = inside.target ? await api("/api/clamp", clampQuery(query(true), inside.target)) : null;
    if (mine !== insideRequest) return;
    heat = h; clamp = c;
    if (clamp) $("python-code").textContent = clamp.python;
    drawMaze(); describeInside();
  } catch (err) {
    if (mine !== insideRequest) return;
    heat = null; clamp = null; drawMaze();
    $("inside-caption").textContent = err.message;
  }
}

async function clampAt(x, y) {  // a click in "clamp at cell" mode; kept only if accepted
  if (!insideOn()) { say("choose a channel (or feature) under Inside first", "error"); return; }
  const mine = ++insideRequest;
  say("computing...", "busy");
  try {
    const c = await api("/api/clamp", clampQuery(query(true), [x, y]));
    const h = heat || await api("/api/channel-map", unitQuery(query(true)));
    if (mine !== insideRequest) return;
    inside.target = [x, y]; clamp = c; heat = h; saveUrl();
    $("python-code").textContent = clamp.python;
    drawMaze(); describeInside(); say("");
  } catch (err) {
    if (mine === insideRequest) say(`refused: ${err.message}`, "error");
  }
}

function unitOptions(units) {
  return '<option value="">off</option>' + units.map((u) => `<option value="${u.index}">` +
    `${u.cheese_tracking ? "\u2605 " : ""}${u.index}` +
    `${u.correlation === undefined ? "" : ` (cheese r ${u.correlation.toFixed(2)})`}</option>`).join("");
}

function fillInside() {  // the unit selects for the view's role and layer
  const shape = (info.layers[view.role] || {})[view.layer] || [], conv = shape.length === 3;
  if (!conv || inside.channel >= shape[0]) inside.channel = null;
  const ranked = rankings[`channel|${view.role}|${view.layer}|${view.variant}`];
  $("inside-channel").innerHTML = unitOptions(ranked ? ranked.units :
    [...Array(conv ? shape[0] : 0).keys()].map((index) => ({ index })));
  $("inside-channel").value = inside.channel === null ? "" : String(inside.channel);
  $("inside-channel").disabled = !conv;
  const sae = info.sae, fits = Boolean(sae) && view.layer === sae.layer && view.role === "policy";
  $("inside-feature-label").hidden = !sae;
  if (!fits || inside.feature >= sae.features) inside.feature = null;
  const franked = rankings[`feature|${view.variant}`];
  $("inside-feature").innerHTML = unitOptions(franked ? franked.units :
    [...Array(fits ? sae.features : 0).keys()].map((index) => ({ index })));
  $("inside-feature").value = inside.feature === null ? "" : String(inside.feature);
  $("inside-feature").disabled = !fits;
  if (!insideOn()) { inside.target = null; heat = null; clamp = null; }
}

async function rankUnits(kind) {  // the cheese-tracking order, asked once per layer and variant
  const key = kind === "channel" ? `channel|${view.role}|${view.layer}|${view.variant}` :
    `feature|${view.variant}`;
  if (rankings[key]) return;
  try {
    rankings[key] = await api(kind === "channel" ? "/api/channels" : "/api/features", query(true));
    fillInside();
  } catch (err) { $("inside-caption").textContent = err.message; }
}

function chooseUnit(kind) {
  const v = $(`inside-${kind}`).value;
  inside.channel = null; inside.feature = null;
  if (v !== "") inside[kind] = Number(v);
  inside.target = null; clamp = null; heat = null;
  fillInside(); saveUrl();
  if (insideOn()) rankUnits(kind);
  refreshInside().then(() => { if (!insideOn()) drawMaze(); });
}

function startInside(q) {  // after start() has set the view and its handlers
  const index = (name) => (/^\d+$/.test(q.get(name) || "") ? Number(q.get(name)) : null);
  inside.channel = index("channel"); inside.feature = inside.channel === null ? index("feature") : null;
  const t = /^(\d+),(\d+)$/.exec(q.get("target") || "");
  inside.target = t ? [Number(t[1]), Number(t[2])] : null;
  const v = Number(q.get("value"));
  if (q.get("value") && Number.isFinite(v)) inside.value = Math.max(-100, Math.min(100, v));
  $("clamp-value").value = String(inside.value);
  fillInside();
  $("inside-channel").onchange = () => chooseUnit("channel");
  $("inside-feature").onchange = () => chooseUnit("feature");
  $("clamp-value").onchange = () => {
    const value = Number($("clamp-value").value);
    if (!Number.isFinite(value)) return;
    inside.value = Math.max(-100, Math.min(100, value)); $("clamp-value").value = String(inside.value);
    saveUrl(); if (inside.target) refreshInside();
  };
  $("clamp-clear").onclick = () => { inside.target = null; clamp = null; saveUrl(); drawMaze(); describeInside(); };
  for (const [id, event, newMaze] of [["layer", "onchange", false], ["role", "onchange", false],
    ["variant", "onchange", true], ["seed", "onchange", true], ["random-seed", "onclick", true]]) {
    const was = $(id)[event];  // the view's own handler first, then the Inside follows it
    $(id)[event] = () => { if (newMaze) inside.target = null; was(); fillInside(); saveUrl(); };
  }
}

start().catch((err) => say(`cannot start: ${err.message}`, "error"));
