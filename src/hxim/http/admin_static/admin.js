// The hxim admin console: one page over the JSON calls under /admin/api/ (docs/admin.md).
"use strict";

const $ = (sel) => document.querySelector(sel);
const state = { csrf: "", app: "", usersAfter: null, user: null, samples: [], timer: 0 };

function el(tag, text, attrs) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

function row(cells, onClick) {
  const tr = el("tr");
  for (const c of cells) {
    const td = el("td");
    if (c instanceof Node) td.append(c); else td.textContent = c === null || c === undefined ? "" : String(c);
    tr.append(td);
  }
  if (onClick) { tr.classList.add("pick"); tr.addEventListener("click", onClick); }
  return tr;
}

function say(text, bad) {
  const s = $("#status");
  s.textContent = text;
  s.classList.toggle("error", !!bad);
}

async function api(method, path, body) {
  const headers = {};
  if (method !== "GET") headers["X-CSRF-Token"] = state.csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
                                credentials: "same-origin" });
  let data = {};
  try { data = await r.json(); } catch (e) { data = { error: `HTTP ${r.status}` }; }
  if (r.status === 401 && path !== "/admin/login") { show("login"); }
  if (!r.ok) throw new Error(data.error || `HTTP ${r.status}`);
  return data;
}

const appPath = () => `/admin/api/apps/${state.app.split("#").map(encodeURIComponent).join("/")}`;

async function act(fn, done) {
  try { const out = await fn(); if (done) say(typeof done === "function" ? done(out) : done); return out; }
  catch (e) { say(e.message, true); return null; }
}

function show(which) {
  for (const id of ["no-admins", "login", "console"]) $("#" + id).hidden = id !== which;
  $("#logout").hidden = which !== "console";
  if (which !== "console") { clearInterval(state.timer); state.timer = 0; $("#who").textContent = ""; }
}

async function start() {
  const s = await api("GET", "/admin/api/state");
  if (!s.configured) return show("no-admins");
  if (!s.name) return show("login");
  enter(s);
}

function enter(s) {
  state.csrf = s.csrf;
  $("#who").textContent = `logged in as ${s.name}`;
  show("console");
  loadApps();
  tab("dashboard");
}

// --- login -----------------------------------------------------------------------------------
$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("#login-error").textContent = "";
  try {
    enter(await api("POST", "/admin/login", { name: $("#login-name").value, password: $("#login-password").value }));
    $("#login-password").value = "";
  } catch (e) { $("#login-error").textContent = e.message; }
});
$("#logout").addEventListener("click", async () => { await act(() => api("POST", "/admin/logout")); show("login"); });

// --- tabs ------------------------------------------------------------------------------------
function tab(name) {
  for (const b of document.querySelectorAll("nav button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const p of document.querySelectorAll("[data-panel]")) p.hidden = p.dataset.panel !== name;
  clearInterval(state.timer); state.timer = 0;
  if (name === "dashboard") { tick(); state.timer = setInterval(tick, 2000); }
  if (name === "users") searchUsers(true);
  if (name === "groups" || name === "chatrooms") loadRooms(name);
}
for (const b of document.querySelectorAll("nav button")) b.addEventListener("click", () => tab(b.dataset.tab));
$("#app-select").addEventListener("change", () => {
  state.app = $("#app-select").value;
  const active = document.querySelector("nav button.active");
  if (active) tab(active.dataset.tab);
});

// --- apps ------------------------------------------------------------------------------------
async function loadApps() {
  const data = await act(() => api("GET", "/admin/api/apps"));
  if (!data) return;
  const body = $("#apps-table tbody"), pick = $("#app-select");
  body.replaceChildren(); pick.replaceChildren();
  for (const a of data.apps) {
    const rotate = el("button", "New secret");
    rotate.addEventListener("click", async () => {
      if (!confirm(`Give ${a.appkey} a new client secret? Its admin tokens stop working.`)) return;
      const out = await act(() => api("POST", `/admin/api/apps/${encodeURIComponent(a.org)}/${encodeURIComponent(a.app)}/secret`),
                            `${a.appkey} has a new client secret`);
      if (out) showSecret(out);
    });
    body.append(row([a.appkey, a.client_id, a.open_registration ? "open" : "admin token", rotate]));
    pick.append(el("option", a.appkey, { value: a.appkey }));
  }
  if (!data.apps.some((a) => a.appkey === state.app)) state.app = data.apps.length ? data.apps[0].appkey : "";
  pick.value = state.app;
}

function showSecret(out) {
  $("#secret-app").textContent = out.appkey;
  $("#secret-value").textContent = out.client_secret;
  $("#secret-box").hidden = false;
}
$("#secret-dismiss").addEventListener("click", () => { $("#secret-value").textContent = ""; $("#secret-box").hidden = true; });

$("#app-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const out = await act(() => api("POST", "/admin/api/apps",
    { org: $("#app-org").value, app: $("#app-name").value, open_registration: $("#app-open").checked }),
    (o) => `app ${o.appkey} created`);
  if (out) { showSecret(out); $("#app-form").reset(); await loadApps(); }
});

// --- users -----------------------------------------------------------------------------------
async function searchUsers(fresh) {
  if (!state.app) return;
  if (fresh) { state.usersAfter = null; $("#users-table tbody").replaceChildren(); }
  const q = new URLSearchParams({ prefix: $("#user-prefix").value, limit: "50" });
  if (state.usersAfter) q.set("after", state.usersAfter);
  const data = await act(() => api("GET", `${appPath()}/users?${q}`));
  if (!data) return;
  for (const u of data.users) {
    $("#users-table tbody").append(row([u.username, u.activated ? "yes" : "no", new Date(u.created).toLocaleString()],
                                       () => openUser(u.username)));
  }
  state.usersAfter = data.after;
  $("#users-more").hidden = !data.after;
}
$("#user-search").addEventListener("submit", (ev) => { ev.preventDefault(); searchUsers(true); });
$("#users-more").addEventListener("click", () => searchUsers(false));

async function openUser(name) {
  const u = await act(() => api("GET", `${appPath()}/users/${encodeURIComponent(name)}`));
  if (!u) return;
  state.user = u.username;
  $("#user-detail").hidden = false;
  $("#user-name").textContent = u.username;
  $("#user-state").textContent = u.activated ? "active" : "deactivated";
  $("#user-toggle").textContent = u.activated ? "Deactivate" : "Reactivate";
  $("#user-toggle").dataset.activate = u.activated ? "false" : "true";
  const body = $("#sessions-of-user tbody");
  body.replaceChildren();
  for (const s of u.sessions) {
    const kick = el("button", "Kick");
    kick.addEventListener("click", () => kickUser(s.resource));
    body.append(row([s.resource, s.protocol, kick]));
  }
}
const userPath = () => `${appPath()}/users/${encodeURIComponent(state.user)}`;

async function kickUser(resource) {
  const out = await act(() => api("POST", `${userPath()}/kick`, resource ? { resource } : {}),
                        (o) => o.kicked ? "kicked" : "there was no session to kick");
  if (out) setTimeout(() => openUser(state.user), 300);
}
$("#kick-all").addEventListener("click", () => kickUser(null));
$("#user-toggle").addEventListener("click", async () => {
  const activated = $("#user-toggle").dataset.activate === "true";
  const out = await act(() => api("POST", `${userPath()}/activated`, { activated }),
                        `${state.user} ${activated ? "reactivated" : "deactivated"}`);
  if (out) { await openUser(state.user); }
});
$("#password-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const out = await act(() => api("POST", `${userPath()}/password`, { password: $("#user-password").value }),
                        `${state.user} has a new password`);
  if (out) $("#user-password").value = "";
});
$("#new-user-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const out = await act(() => api("POST", `${appPath()}/users`,
    { username: $("#new-username").value, password: $("#new-password").value }), (u) => `user ${u.username} created`);
  if (out) { $("#new-user-form").reset(); searchUsers(true); }
});

// --- groups and chat rooms -------------------------------------------------------------------
async function loadRooms(kind) {
  if (!state.app) return;
  const data = await act(() => api("GET", `${appPath()}/${kind}?limit=200`));
  if (!data) return;
  const body = document.querySelector(`table.rooms[data-kind=${kind}] tbody`);
  body.replaceChildren();
  for (const r of data.rooms) body.append(row([r.id, r.name, r.owner, r.members], () => openRoom(kind, r.id)));
  document.querySelector(`.room-detail[data-kind=${kind}]`).hidden = true;
}

async function openRoom(kind, id) {
  const r = await act(() => api("GET", `${appPath()}/${kind}/${encodeURIComponent(id)}`));
  if (!r) return;
  const box = document.querySelector(`.room-detail[data-kind=${kind}]`);
  box.replaceChildren(el("h3", `${r.name} (${r.id}), owner ${r.owner}`), el("p", r.description));
  const roomPath = `${appPath()}/${kind}/${encodeURIComponent(r.id)}`;
  const muteButton = (label, cls, call, body, done) => {
    const b = el("button", label, { class: cls });
    b.addEventListener("click", async () => {
      if (await act(() => api("POST", `${roomPath}/${call}`, body), done)) openRoom(kind, r.id);
    });
    return b;
  };
  const muted = new Set(r.mutes.map((m) => m.user));
  const lists = [
    ["Members", r.members.map((m) => [`${m.user} (${m.role})`, m.role === "owner" || muted.has(m.user) ? null
      : muteButton("Mute 10 min", "mute", "mute", { user: m.user, minutes: 10 }, `${m.user} muted`)])],
    ["Admins", r.admins.map((a) => [a, null])],
    ["Muted", r.mutes.map((m) => [`${m.user} until ${m.expire === -1 ? "lifted" : new Date(m.expire).toLocaleString()}`,
      muteButton("Unmute", "unmute", "unmute", { user: m.user }, `${m.user} unmuted`)])],
  ];
  for (const [title, items] of lists) {
    box.append(el("h4", `${title} (${items.length})`));
    const ul = el("ul");
    for (const [text, button] of items) {
      const li = el("li", text);
      if (button) li.append(" ", button);
      ul.append(li);
    }
    box.append(ul);
  }
  const dissolve = el("button", "Dissolve", { class: "dissolve" });
  dissolve.addEventListener("click", async () => {
    if (!confirm(`Dissolve ${r.name} (${r.id})? Its members are told and its data goes.`)) return;
    const out = await act(() => api("POST", `${appPath()}/${kind}/${encodeURIComponent(r.id)}/dissolve`), `${r.id} dissolved`);
    if (out) loadRooms(kind);
  });
  box.append(dissolve);
  box.hidden = false;
}

// --- messages --------------------------------------------------------------------------------
$("#message-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const out = await act(() => api("POST", `${appPath()}/messages`,
    { chat_type: $("#message-type").value, to: $("#message-to").value, text: $("#message-text").value }),
    (o) => `message ${o.id} sent`);
  if (out) $("#message-text").value = "";
});
$("#broadcast-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const out = await act(() => api("POST", `${appPath()}/broadcast`, { text: $("#broadcast-text").value }),
                        (o) => `broadcast ${o.id} started`);
  if (out) $("#broadcast-text").value = "";
});

// --- the dashboard ---------------------------------------------------------------------------
const KEEP = 60;  // samples drawn: two minutes at one every 2 s

async function tick() {
  let s;
  try { s = await api("GET", "/admin/api/stats"); } catch (e) { say(e.message, true); return; }
  const last = state.samples[state.samples.length - 1];
  const total = Object.values(s.sessions).reduce((a, b) => a + b, 0);
  const sample = { time: s.time, logins: s.logins, messages: s.messages, sessions: total, loginRate: 0, messageRate: 0 };
  if (last && s.time > last.time) {
    sample.loginRate = Math.max(0, (s.logins - last.logins) / (s.time - last.time));
    sample.messageRate = Math.max(0, (s.messages - last.messages) / (s.time - last.time));
  }
  state.samples.push(sample);
  if (state.samples.length > KEEP) state.samples.shift();
  const body = $("#sessions-table tbody");
  body.replaceChildren();
  for (const [protocol, n] of Object.entries(s.sessions)) body.append(row([protocol, n]));
  $("#sessions-total").textContent = total;
  $("#logins-rate").textContent = sample.loginRate.toFixed(1);
  $("#messages-rate").textContent = sample.messageRate.toFixed(1);
  draw("#chart-sessions", state.samples.map((x) => x.sessions));
  draw("#chart-logins", state.samples.map((x) => x.loginRate));
  draw("#chart-messages", state.samples.map((x) => x.messageRate));
}

function draw(sel, values) {
  const svg = $(sel), ns = "http://www.w3.org/2000/svg", w = 300, h = 100, top = Math.max(1, ...values);
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", values.map((v, i) => `${(i * w) / (KEEP - 1)},${h - 4 - (v / top) * (h - 16)}`).join(" "));
  const label = document.createElementNS(ns, "text");
  label.setAttribute("x", "4"); label.setAttribute("y", "10");
  label.textContent = `max ${Number.isInteger(top) ? top : top.toFixed(1)}`;
  svg.replaceChildren(line, label);
}

start().catch((e) => say(e.message, true));
