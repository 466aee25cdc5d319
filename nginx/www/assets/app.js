// The page's entry point: who is signed in (GET /api/me), the header and
// the navigation, and a router from the location's hash (#/, #/new,
// #/tokens, #/admin/...) to the views. Signed out (or once the session has
// expired) it shows what the service is and the sign-in button.

import { get, post, onExpired } from "./api.js";
import { h, clear } from "./dom.js";
import { mySandboxesView } from "./sandboxes.js";
import { createView } from "./create.js";
import { tokensView } from "./tokens.js";
import {
  adminSandboxesView, adminStuckView, adminReaperView,
  adminTemplatesView, adminUsersView,
} from "./admin.js";

const $ = (id) => document.getElementById(id);

const ROUTES = [
  { hash: "#/", label: "My sandboxes", view: mySandboxesView },
  { hash: "#/new", label: "New sandbox", view: createView },
  { hash: "#/tokens", label: "API tokens", view: tokensView },
  { hash: "#/admin/sandboxes", label: "All sandboxes", view: adminSandboxesView, admin: true },
  { hash: "#/admin/stuck", label: "Stuck", view: adminStuckView, admin: true },
  { hash: "#/admin/reaper", label: "Reaper runs", view: adminReaperView, admin: true },
  { hash: "#/admin/templates", label: "Templates", view: adminTemplatesView, admin: true },
  { hash: "#/admin/users", label: "Users", view: adminUsersView, admin: true },
];

const state = { me: null, stop: null };

// ------------------------------------------------------------ flash

let flashTimer = null;

// A short message under the header, read out by screen readers.
export function flash(message, kind = "info") {
  const el = $("flash");
  el.className = `flash ${kind}`;
  el.textContent = message;
  clearTimeout(flashTimer);
  if (kind !== "error") flashTimer = setTimeout(() => { el.textContent = ""; }, 6000);
}

// ------------------------------------------------------------ signed out

function showSignedOut(message) {
  stopView();
  state.me = null;
  clear($("account"));
  clear($("nav"));
  $("nav").hidden = true;
  clear($("view"));
  $("flash").textContent = "";
  const msg = $("signin-message");
  msg.textContent = message || "";
  msg.hidden = !message;
  $("signed-out").hidden = false;
  document.title = "Sandboxes: sign in";
}

// The session ended while the page was open (expired, revoked, signed out
// elsewhere): back to the sign-in button, saying why.
function sessionExpired() {
  if (!state.me) return;
  showSignedOut("Your session has ended. Sign in again to continue.");
  $("signin").focus();
}

// ------------------------------------------------------------ header

function initials(me) {
  const base = (me.name || me.email || "?").trim();
  const parts = base.split(/[\s@._-]+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[1][0] : base.slice(0, 2);
  return letters.toUpperCase();
}

// The hosts the page's policy lets pictures come from (index.html's meta,
// filled in by nginx from AVATAR_HOSTS): a picture from anywhere else is
// never requested, so the policy has nothing to block.
function avatarAllowed(url) {
  let u;
  try {
    u = new URL(url, location.href);
  } catch {
    return false;
  }
  if (u.origin === location.origin) return true;
  if (u.protocol !== "https:") return false;
  const meta = document.querySelector('meta[name="sbx-avatar-hosts"]');
  const hosts = (meta ? meta.content : "").split(/\s+/).filter(Boolean);
  return hosts.some((src) => {
    const m = /^https:\/\/(\*\.)?([^/:]+)(?::(\d+))?$/.exec(src);
    if (!m) return false;
    const port = m[3] || "";
    if (u.port !== port && !(port === "443" && u.port === "")) return false;
    const host = u.hostname.toLowerCase();
    const want = m[2].toLowerCase();
    return m[1] ? host.endsWith(`.${want}`) : host === want;
  });
}

function avatar(me) {
  const fallback = h("span.avatar", { "aria-hidden": "true", "data-initials": "" }, initials(me));
  if (!me.picture || !avatarAllowed(me.picture)) return fallback;
  const img = h("img.avatar", {
    src: me.picture, alt: "", width: 36, height: 36, referrerpolicy: "no-referrer",
  });
  img.addEventListener("error", () => img.replaceWith(fallback));
  return img;
}

async function signOut(button) {
  button.disabled = true;
  try {
    await post("/auth/logout");
  } catch (e) {
    if (e.status !== 401) {
      button.disabled = false;
      flash(`Sign-out failed: ${e.message}`, "error");
      return;
    }
  }
  showSignedOut("You are signed out.");
  $("signin").focus();
}

function renderHeader(me) {
  const out = h("button", { type: "button", id: "signout" }, "Sign out");
  out.addEventListener("click", () => signOut(out));
  clear($("account")).append(
    avatar(me),
    h("div.who",
      h("div.name", me.name || me.email, me.role === "admin" ? [" ", h("span.role", "admin")] : null),
      h("div.email", me.email)),
    out,
  );
}

function renderNav(me) {
  const nav = clear($("nav"));
  let adminShown = false;
  for (const r of ROUTES) {
    if (r.admin && me.role !== "admin") continue;
    if (r.admin && !adminShown) {
      nav.append(h("span.sep", { "aria-hidden": "true" }, "Admin"));
      adminShown = true;
    }
    nav.append(h("a", { href: r.hash, "data-route": r.hash }, r.label));
  }
  nav.hidden = false;
}

// ------------------------------------------------------------ router

function stopView() {
  if (state.stop) {
    try { state.stop(); } catch { /* a view's clean-up must not stop routing */ }
    state.stop = null;
  }
}

function route(focusMain) {
  if (!state.me) return;
  const hash = location.hash || "#/";
  let r = ROUTES.find((x) => x.hash === hash && (!x.admin || state.me.role === "admin"));
  if (!r) r = ROUTES[0];
  stopView();
  for (const a of $("nav").querySelectorAll("a")) {
    if (a.dataset.route === r.hash) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.title = `${r.label} · Sandboxes`;
  const view = clear($("view"));
  const ctx = { me: state.me, flash, go: (h2) => { location.hash = h2; } };
  state.stop = r.view(view, ctx) || null;
  if (focusMain) $("main").focus({ preventScroll: true });
}

function hasSessionHint() {
  return document.cookie.split(";").some((c) => c.trim().startsWith("__Host-sbx_csrf="));
}

async function boot() {
  onExpired(sessionExpired);
  // Without the CSRF cookie (set with the session cookie, readable by the
  // page) nobody is signed in: no need to ask the server and be refused.
  if (!hasSessionHint()) {
    showSignedOut("");
    return;
  }
  let me;
  try {
    me = await get("/api/me", { quiet401: true });
  } catch (e) {
    // The cookies are there but the session is not (revoked, signed out
    // elsewhere, the user disabled): say so.
    if (e.status === 401) showSignedOut("Your session has ended. Sign in again to continue.");
    else showSignedOut(`The service could not be reached (${e.message}). Try again in a moment.`);
    return;
  }
  state.me = me;
  $("signed-out").hidden = true;
  renderHeader(me);
  renderNav(me);
  route(false);
}

window.addEventListener("hashchange", () => route(true));
boot();
