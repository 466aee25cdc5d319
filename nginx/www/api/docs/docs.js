// The API reference: fetches /api/openapi.json (the one description of
// the API) and renders it with DOM calls only (text is never parsed as
// HTML): no inline script or style, nothing from another origin (the
// page's CSP allows none).

const METHODS = ["get", "put", "post", "patch", "delete"];

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) {
    if (k === null || k === undefined) continue;
    e.append(typeof k === "string" ? document.createTextNode(k) : k);
  }
  return e;
}

function resolve(doc, obj) {
  let seen = 0;
  while (obj && obj.$ref && seen++ < 20) {
    obj = obj.$ref.replace(/^#\//, "").split("/").reduce((o, p) => o[p], doc);
  }
  return obj;
}

function refName(obj) {
  return obj && obj.$ref ? obj.$ref.split("/").pop() : null;
}

// A short type for a schema: a link to a named schema, or its type.
function typeOf(doc, s) {
  if (!s) return "";
  const name = refName(s);
  if (name) return el("a", { href: "#schema-" + name }, name);
  if (s.oneOf) {
    const span = el("span");
    s.oneOf.forEach((x, i) => { if (i) span.append(" | "); span.append(typeOf(doc, x)); });
    return span;
  }
  let t = Array.isArray(s.type) ? s.type.join(" | ") : (s.type || "any");
  if (s.type === "array" && s.items) return el("span", {}, "array of ", typeOf(doc, s.items));
  if (s.enum) t += " (" + s.enum.join(", ") + ")";
  if (s.const !== undefined) t += " = " + JSON.stringify(s.const);
  if (s.pattern) t += " matching " + s.pattern;
  if (s.minimum !== undefined || s.maximum !== undefined) t += " [" + (s.minimum ?? "") + ".." + (s.maximum ?? "") + "]";
  if (s.minLength !== undefined || s.maxLength !== undefined) t += " (" + (s.minLength ?? 0) + " to " + (s.maxLength ?? "any") + " chars)";
  if (s.default !== undefined) t += ", default " + JSON.stringify(s.default);
  return t;
}

function schemaTable(doc, s) {
  s = resolve(doc, s);
  if (!s || !s.properties) return el("p", {}, typeOf(doc, s));
  const req = new Set(s.required || []);
  const rows = Object.entries(s.properties).map(([k, v]) =>
    el("tr", {}, el("td", {}, el("code", {}, k)), el("td", {}, typeOf(doc, v)),
      el("td", {}, req.has(k) ? "always" : "optional"), el("td", {}, v.description || "")));
  return el("table", {}, el("tr", {}, el("th", {}, "member"), el("th", {}, "type"),
    el("th", {}, "present"), el("th", {}, "meaning")), ...rows);
}

function operation(doc, path, method, op) {
  const id = op.operationId || method + path;
  const box = el("section", { class: "op", id: "op-" + id });
  box.append(el("h3", {}, el("span", { class: "method " + method }, method.toUpperCase()), " ",
    el("code", {}, path), " — ", op.summary || ""));
  box.append(el("p", { class: "access" }, "Who: " + (op["x-sbx-access"] || "?") +
    ((op.security || []).length ? "; credentials: " + op.security.map((r) => Object.keys(r).join(" + ")).join(" or ") : "; no credentials")));
  if (op.description) box.append(el("p", {}, op.description));
  const params = (op.parameters || []).map((p) => resolve(doc, p));
  if (params.length) {
    box.append(el("table", {}, el("tr", {}, el("th", {}, "parameter"), el("th", {}, "in"),
      el("th", {}, "type"), el("th", {}, "meaning")),
      ...params.map((p) => el("tr", {}, el("td", {}, el("code", {}, p.name)), el("td", {}, p.in),
        el("td", {}, typeOf(doc, p.schema)), el("td", {}, p.description || "")))));
  }
  if (op.requestBody) {
    for (const [type, c] of Object.entries(op.requestBody.content || {})) {
      box.append(el("p", {}, "Body (" + type + "): ", typeOf(doc, c.schema)));
    }
  }
  const rows = Object.entries(op.responses || {}).map(([code, r0]) => {
    const r = resolve(doc, r0);
    const types = Object.entries(r.content || {}).map(([t, c]) => el("div", {}, t + " ", typeOf(doc, c.schema)));
    return el("tr", {}, el("td", {}, code), el("td", {}, r.description || ""), el("td", {}, ...types));
  });
  box.append(el("table", {}, el("tr", {}, el("th", {}, "status"), el("th", {}, "meaning"), el("th", {}, "body")), ...rows));
  return box;
}

function render(doc) {
  document.getElementById("title").textContent = doc.info.title + " API " + doc.info.version;
  document.getElementById("summary").textContent = doc.info.description || doc.info.summary || "";
  const main = document.getElementById("content");
  const toc = el("ul");
  main.replaceChildren();
  const byTag = new Map();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const m of METHODS) {
      if (!item[m]) continue;
      const tag = (item[m].tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push([path, m, item[m]]);
    }
  }
  for (const [tag, ops] of byTag) {
    main.append(el("h2", { id: "tag-" + tag }, tag));
    for (const [path, m, op] of ops) {
      main.append(operation(doc, path, m, op));
      toc.append(el("li", {}, el("a", { href: "#op-" + (op.operationId || m + path) }, m.toUpperCase() + " " + path)));
    }
  }
  main.append(el("h2", { id: "security" }, "Credentials"));
  for (const [name, s] of Object.entries(doc.components.securitySchemes || {})) {
    main.append(el("p", {}, el("code", {}, name), ": " + s.type + (s.scheme ? " " + s.scheme : "") +
      (s.name ? " " + s.name + " in " + s.in : "") + ". " + (s.description || "")));
  }
  main.append(el("h2", { id: "schemas" }, "Schemas"));
  for (const [name, s] of Object.entries(doc.components.schemas || {})) {
    main.append(el("h3", { id: "schema-" + name }, name));
    if (s.description) main.append(el("p", {}, s.description));
    main.append(schemaTable(doc, s));
  }
  document.getElementById("toc").replaceChildren(toc);
}

fetch("/api/openapi.json", { headers: { Accept: "application/json" } })
  .then((r) => { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
  .then(render)
  .catch((e) => {
    const s = document.getElementById("status");
    s.className = "error";
    s.textContent = "Could not load /api/openapi.json: " + e.message;
  });
