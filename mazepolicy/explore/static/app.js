// mazepolicy explore: the page. Plain JS, no build step. The whole view lives in the
// URL query (variant, seed, edits, vector, layer, coeff, role, show), so a link
// re-opens it; every number shown comes from the server's JSON API.
"use strict";

const $ = (id) => document.getElementById(id);
const COLORS = { wall: "#2b2b2b", free: "#f2efe6", region: "#f7d9d4", corner: "#d62728",
  cheese: "#f2c200", mouse: "#1f5fd6", decision: "#8e44ad", arrow: "#111",
  diff: "#c0392b", goal: { cheese: "#e0a800", corner: "#d62728", other: "#7f7f7f" } };
const MOVE_NAMES = ["right", "up", "left", "down"];

let info = null;           // GET /api/info
let maze = null;           // the last GET /api/maze answer
let field = null;          // the last GET /api/field answer
let goals = null;          // the last GET /api/goals answer
let request = 0;           // to drop answers to superseded requests
const view = { variant: "", seed: 0, edits: [], vector: "cheese", layer: "", coeff: 0,
  role: "policy", show: "steered" };

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
  history.replaceState(null, "", "?" + q.toString());
}

function say(text, kind) { const m = $("message"); m.textContent = text; m.className = kind || ""; }

async function api(path, q, method) {
  const reply = await fetch(path + "?" + q.toString(), { method: method || "GET" });
  const body = await reply.json();
  if (!reply.ok) throw new Error(body.error || `HTTP ${reply.status}`);
  return body;
}

// ---------------------------------------------------------------- drawing
function cellSize() { return Math.floor($("maze").width / maze.maze_dim); }

function toCanvas(x, y) {  // cell (x, y), y up -> canvas pixel of its centre
  const s = cellSize(), n = maze.maze_dim;
  return [(x + 0.5) * s, (n - 1 - y + 0.5) * s];
}

function drawMaze() {
  const canvas = $("maze"), ctx = canvas.getContext("2d"), n = maze.maze_dim, s = cellSize();
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const region = new Set(maze.top_right_region.map(([x, y]) => `${x},${y}`));
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const free = maze.free[y][x] === 1;
      ctx.fillStyle = !free ? COLORS.wall : region.has(`${x},${y}`) ? COLORS.region : COLORS.free;
      ctx.fillRect(x * s, (n - 1 - y) * s, s, s);
    }
  }
  ctx.strokeStyle = COLORS.corner; ctx.lineWidth = 2;
  ctx.strokeRect((n - 1) * s + 1, 1, s - 2, s - 2);
  if (maze.decision_square) {
    const [cx, cy] = toCanvas(...maze.decision_square), r = s * 0.42;
    ctx.strokeStyle = COLORS.decision; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.moveTo(cx, cy - r); ctx.lineTo(cx + r, cy); ctx.lineTo(cx, cy + r);
    ctx.lineTo(cx - r, cy); ctx.closePath(); ctx.stroke();
  }
  if (maze.cheese) {
    const [cx, cy] = toCanvas(...maze.cheese);
    ctx.fillStyle = COLORS.cheese; ctx.fillRect(cx - s * 0.3, cy - s * 0.3, s * 0.6, s * 0.6);
  }
  const [mx, my] = toCanvas(...maze.mouse);
  ctx.fillStyle = COLORS.mouse; ctx.beginPath(); ctx.arc(mx, my, s * 0.3, 0, 2 * Math.PI);
  ctx.fill();
  if (goals) drawGoals(ctx, s);
  if (field) drawArrows(ctx, s);
}

function shownGoals() { return view.show === "unsteered" ? goals.unsteered : goals.steered; }

function drawGoals(ctx, s) {  // a ring per cheese-corner path cell, coloured by its choice
  ctx.lineWidth = Math.max(1.5, s / 10);
  for (const row of shownGoals()) {
    const [cx, cy] = toCanvas(...row.cell);
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

function drawArrows(ctx, s) {
  const key = { steered: "steered_net", unsteered: "unsteered_net", difference: "difference" }[view.show];
  ctx.strokeStyle = view.show === "difference" ? COLORS.diff : COLORS.arrow;
  ctx.fillStyle = ctx.strokeStyle; ctx.lineWidth = Math.max(1, s / 14);
  field.cells.forEach(([x, y], i) => {
    const [dx, dy] = field[key][i], len = Math.hypot(dx, dy);
    if (len < 1e-3) return;
    const [cx, cy] = toCanvas(x, y), ex = cx + dx * s * 0.45, ey = cy - dy * s * 0.45;
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
  say("computing...", "busy");
  try {
    const m = await api("/api/maze", query(false));
    if (mine !== request) return;
    maze = m; field = null; goals = null; $("goals").textContent = "";
    $("agent-view").src = maze.view_png;
    $("maze-caption").textContent = `${view.variant}, seed ${view.seed}, ` +
      `${maze.maze_dim}x${maze.maze_dim}` + (view.edits.length ? `, ${view.edits.length} edits` : "");
    drawMaze();
    const f = await api("/api/field", query(true));
    if (mine !== request) return;
    field = f;
    drawMaze(); drawProbabilities();
    $("python-code").textContent = field.python;
    try {
      const g = await api("/api/goals", query(true));
      if (mine !== request) return;
      goals = g; drawMaze(); describeGoals();
    } catch (err) {
      if (mine === request) $("goals").textContent = err.message;
    }
    say("");
  } catch (err) {
    if (mine === request) say(err.message, "error");
  }
}

async function edit(kind, x, y) {  // applied only if the server accepts it
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
  $("policy-name").textContent = Object.entries(info.policies).map(([r, s]) => `${r}: ${s}`).join(", ");
  view.variant = fillSelect($("variant"), info.variants, view.variant);
  view.vector = fillSelect($("vector"), info.vectors, view.vector);
  view.role = fillSelect($("role"), Object.keys(info.policies), view.role);
  $("role").disabled = Object.keys(info.policies).length < 2;
  fillLayers();
  $("show").value = view.show;
  $("seed").value = String(view.seed);
  setCoeff(q.get("coeff") || d.coeff);
  $("save").hidden = !info.can_save;

  $("variant").onchange = () => { view.variant = $("variant").value; view.edits = []; refresh(); };
  $("seed").onchange = () => { view.seed = Math.max(0, Math.floor(Number($("seed").value) || 0)); view.edits = []; refresh(); };
  $("random-seed").onclick = () => { view.seed = Math.floor(Math.random() * 2147483647); $("seed").value = String(view.seed); view.edits = []; refresh(); };
  $("undo").onclick = () => { if (view.edits.length) { view.edits.pop(); refresh(); } };
  $("reset").onclick = () => { view.edits = []; refresh(); };
  $("vector").onchange = () => { view.vector = $("vector").value; refresh(); };
  $("layer").onchange = () => { view.layer = $("layer").value; refresh(); };
  $("role").onchange = () => { view.role = $("role").value; fillLayers(); refresh(); };
  $("show").onchange = () => {
    view.show = $("show").value; saveUrl();
    if (maze) drawMaze();
    if (goals) describeGoals();
  };
  $("coeff-range").oninput = () => coeffChanged($("coeff-range").value, "range");
  $("coeff").onchange = () => coeffChanged($("coeff").value, "number");
  $("copy").onclick = () => navigator.clipboard.writeText($("python-code").textContent);
  $("save").onclick = async () => {
    try { say(`saved ${(await api("/api/save-state", query(false), "POST")).saved}`); }
    catch (err) { say(err.message, "error"); }
  };
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

start().catch((err) => say(`cannot start: ${err.message}`, "error"));
