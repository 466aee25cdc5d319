// Small DOM and formatting helpers shared by the views. Everything the
// page shows is built with these (text nodes, never innerHTML), so a value
// from the API can never become markup.

// h("button.primary", {type: "submit", onclick: f}, "Save") builds an
// element: a tag with optional .classes, attributes (on* become listeners,
// hidden/disabled/checked booleans) and children (strings, nodes, arrays,
// null and false skipped).
export function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2), v);
    } else if (k === "class") {
      el.className += (el.className ? " " : "") + v;
    } else if (k in el && typeof v === "boolean") {
      el[k] = v;
    } else {
      el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

let uid = 0;
export function nextId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

// A labelled form field: label, the control, an optional hint and an
// error line tied to the control with aria-describedby. Returns the
// wrapper; wrapper.control and wrapper.error are its parts.
export function field(label, control, hint) {
  const id = control.id || nextId("f");
  control.id = id;
  const err = h("p.error", { id: `${id}-error`, "aria-live": "polite" });
  const described = [`${id}-error`];
  let hintEl = null;
  if (hint) {
    hintEl = h("p.hint", { id: `${id}-hint` }, hint);
    described.push(`${id}-hint`);
  }
  control.setAttribute("aria-describedby", described.join(" "));
  const wrap = h("div.field", h("label", { for: id }, label), control, hintEl, err);
  wrap.control = control;
  wrap.error = err;
  return wrap;
}

export function setFieldError(wrap, message) {
  wrap.error.textContent = message || "";
  if (message) wrap.control.setAttribute("aria-invalid", "true");
  else wrap.control.removeAttribute("aria-invalid");
}

// ------------------------------------------------------------ time

const dateFmt = new Intl.DateTimeFormat(undefined, {
  dateStyle: "medium",
  timeStyle: "short",
});

export function localTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateFmt.format(d);
}

export function timeElement(iso) {
  return h("time", { datetime: iso || "" }, localTime(iso));
}

// "1 h 04 min", "12 min 05 s", "expired".
export function timeLeft(ms) {
  if (ms <= 0) return "expired";
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  const p2 = (n) => String(n).padStart(2, "0");
  if (d > 0) return `${d} d ${hh} h`;
  if (hh > 0) return `${hh} h ${p2(mm)} min`;
  return `${mm} min ${p2(ss)} s`;
}

// For <input type="datetime-local">: the local wall time of a Date.
export function toLocalInput(d) {
  const p2 = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}T${p2(d.getHours())}:${p2(d.getMinutes())}`;
}

// ------------------------------------------------------------ values

// A stack output: URL-like values are links (http and https only),
// everything else is text. Both get a copy button.
export function outputValue(value) {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  if (/^https?:\/\/[^\s]+$/i.test(text)) {
    return h("a.v", { href: text, target: "_blank", rel: "noopener noreferrer" }, text);
  }
  return h("span.v", text);
}

export function copyButton(text, what) {
  const b = h("button.copy", { type: "button", "aria-label": `Copy ${what}` }, "Copy");
  b.addEventListener("click", async () => {
    try {
      await copyText(text);
      b.textContent = "Copied";
    } catch {
      b.textContent = "Copy failed";
    }
    setTimeout(() => { b.textContent = "Copy"; }, 2000);
  });
  return b;
}

// The clipboard API needs a secure context and permission; the fallback
// selects a hidden text area and uses the older command.
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return;
    } catch {
      // Fall through: a headless or embedded browser may refuse.
    }
  }
  const ta = h("textarea", { "aria-hidden": "true", tabindex: "-1", readonly: true });
  ta.value = text;
  ta.className = "offscreen";
  document.body.append(ta);
  ta.select();
  const ok = document.execCommand("copy");
  ta.remove();
  if (!ok) throw new Error("copy refused");
}

export const STATUSES = ["PROVISIONING", "ACTIVE", "TERMINATING", "TERMINATED", "FAILED"];

const STATUS_WORDS = {
  PROVISIONING: "Provisioning",
  ACTIVE: "Active",
  TERMINATING: "Terminating",
  TERMINATED: "Terminated",
  FAILED: "Failed",
};

// The status as a word with a symbol: colour is never the only signal.
export function badge(status) {
  return h(`span.badge.s-${status}`, { "data-status": status }, STATUS_WORDS[status] || status);
}

// ------------------------------------------------------------ dialogs

// A modal <dialog> (focus stays inside; Escape closes it). build(close)
// returns its content; the dialog is removed from the page when closed and
// focus goes back to where it was.
export function openDialog(title, build) {
  const back = document.activeElement;
  const titleId = nextId("dlg");
  const dlg = h("dialog", { "aria-labelledby": titleId });
  const close = () => dlg.close();
  dlg.append(h("h2", { id: titleId }, title), build(close));
  dlg.addEventListener("close", () => {
    dlg.remove();
    if (back && document.contains(back)) back.focus();
  });
  document.body.append(dlg);
  dlg.showModal();
  return dlg;
}

// A question before a change that cannot be undone: body (nodes) says
// what happens, the cancel button has the focus, and action() runs on
// confirm; the dialog closes when it succeeds, and shows its error
// otherwise.
export function confirmDialog({ title, body, confirm, cancel = "Cancel", action }) {
  return openDialog(title, (close) => {
    const msg = h("p.small", { "aria-live": "polite" });
    const yes = h("button.danger", { type: "button", "data-confirm": "" }, confirm);
    yes.addEventListener("click", async () => {
      yes.disabled = true;
      msg.textContent = "Working…";
      try {
        await action();
        close();
      } catch (e) {
        yes.disabled = false;
        msg.textContent = e.message;
      }
    });
    const no = h("button", { type: "button", onclick: close }, cancel);
    queueMicrotask(() => no.focus());
    return h("div", body, msg, h("div.actions", no, yes));
  });
}

// Shows a refused request where it belongs: at the field the problem
// names (fieldFor(name) gives its wrapper, or nothing), else in general.
export function showProblem(e, fieldFor, general) {
  const f = e.field ? fieldFor(e.field) : null;
  if (f) {
    setFieldError(f, e.message);
    f.control.focus();
    return;
  }
  general.textContent = e.message;
  general.hidden = false;
  general.setAttribute("tabindex", "-1");
  general.focus();
}

// A part of a view that shows what fetch() resolves to: render(data)
// gives its nodes; an empty list shows the text `empty` instead; a failure
// shows its message (a 401 is the session handler's). Returns {load, stop}:
// load() fetches again, stop() drops answers that come after the view left.
export function loader(holder, fetch, render, empty) {
  let stopped = false;
  const load = async () => {
    let data;
    try {
      data = await fetch();
    } catch (e) {
      if (!stopped && e.status !== 401) clear(holder).append(h("p.notice", e.message));
      return;
    }
    if (stopped) return;
    clear(holder);
    if (Array.isArray(data) && !data.length && empty) holder.append(h("p.empty", empty));
    else holder.append(render(data));
  };
  load();
  return { load, stop: () => { stopped = true; } };
}

// A table that becomes label/value cards on narrow screens (style.css):
// rows are <tr>s of cell()s.
export function table(columns, rows) {
  return h("div.table-wrap", h("table.stackable",
    h("thead", h("tr", columns.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", rows)));
}

export function cell(label, ...content) {
  return h("td", { "data-label": label }, content);
}
