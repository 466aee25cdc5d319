// The API from the page: same-origin fetch with the session cookie, the
// CSRF header on every change (the server wants X-CSRF-Token equal to the
// __Host-sbx_csrf cookie), JSON in and out, problem+json errors as
// ApiError. A 401 means the session is gone: onExpired's handler runs.

const CSRF_COOKIE = "__Host-sbx_csrf";

let expiredHandler = () => {};

export function onExpired(fn) {
  expiredHandler = fn;
}

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.field = this.problem.field || null;
  }
}

function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return null;
}

// request("GET", "/api/sandboxes") resolves to {status, body, headers}, or
// rejects with ApiError (4xx/5xx) or a TypeError (network).
export async function request(method, path, body, opts = {}) {
  const headers = { Accept: "application/json", ...(opts.headers || {}) };
  if (method !== "GET" && method !== "HEAD") {
    const csrf = cookie(CSRF_COOKIE);
    if (csrf) headers["X-CSRF-Token"] = csrf;
  }
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
  });
  let data = null;
  const type = resp.headers.get("Content-Type") || "";
  if (resp.status !== 204 && /json/.test(type)) {
    try {
      data = await resp.json();
    } catch {
      data = null;
    }
  }
  if (resp.status === 401 && !opts.quiet401) {
    expiredHandler();
  }
  if (!resp.ok) throw new ApiError(resp.status, data);
  return { status: resp.status, body: data, headers: resp.headers };
}

export const get = (path, opts) => request("GET", path, undefined, opts).then((r) => r.body);
export const post = (path, body) => request("POST", path, body === undefined ? {} : body).then((r) => r.body);
export const patch = (path, body) => request("PATCH", path, body).then((r) => r.body);
export const put = (path, body) => request("PUT", path, body).then((r) => r.body);
export const del = (path) => request("DELETE", path).then((r) => r.body);

// A list that follows Link: rel="next" up to max items.
export async function getAll(path, max = 500) {
  const items = [];
  let next = path;
  while (next && items.length < max) {
    const r = await request("GET", next);
    items.push(...(r.body || []));
    next = nextLink(r.headers.get("Link"));
  }
  return items;
}

function nextLink(link) {
  if (!link) return null;
  const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(link);
  if (!m) return null;
  const u = new URL(m[1], location.href);
  return u.origin === location.origin ? u.pathname + u.search : null;
}

export const enc = encodeURIComponent;
