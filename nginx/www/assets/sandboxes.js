// Sandboxes as cards: name, template, status, a live countdown, the expiry
// in the viewer's time zone, outputs when ACTIVE, and the actions (extend,
// history, delete). A list refreshes itself (every few seconds while a
// sandbox is changing state, else every 30 s) and updates cards in place,
// so nothing jumps and focus stays where it was.

import { get, patch, del, enc, getAll } from "./api.js";
import { costText, spendLine } from "./cost.js";
import {
  h, clear, badge, timeElement, localTime, timeLeft, toLocalInput,
  outputValue, copyButton, openDialog, confirmDialog, field, setFieldError,
} from "./dom.js";

const FAST_MS = 3000;
const SLOW_MS = 30000;
const SOON_MS = 5 * 60 * 1000;
const LIVE = new Set(["PROVISIONING", "ACTIVE", "TERMINATING", "FAILED"]);
const MOVING = new Set(["PROVISIONING", "TERMINATING"]);

// ------------------------------------------------------------ one card

function cardKey(sb) {
  return sb.id;
}

// Builds the card's fixed skeleton once; fillCard() sets its content.
function buildCard(sb, opts) {
  const c = {
    root: h("li.card", { "data-name": sb.name, "data-id": sb.id }),
    title: h("h2"),
    badge: h("span"),
    owner: h("dd"),
    template: h("dd"),
    left: h("span.countdown", { role: "timer", "aria-live": "off" }),
    expiryLabel: h("dt", "Expires"),
    expiry: h("dd"),
    max: h("dd"),
    cost: h("dd.cost"),
    reason: h("p.reason"),
    outputs: h("div.outputs"),
    actions: h("div.actions"),
    sb: null,
    outputsKey: null,
  };
  c.root.append(
    h("div.card-head", c.title, c.badge),
    h("dl.meta",
      opts.showOwner ? h("div", h("dt", "Owner"), c.owner) : null,
      h("div", h("dt", "Template"), c.template),
      h("div", h("dt", "Time left"), h("dd", c.left)),
      h("div", c.expiryLabel, c.expiry),
      h("div", h("dt", "Latest possible expiry"), c.max),
      h("div", h("dt", "Cost"), c.cost)),
    c.reason,
    c.outputs,
    c.actions,
  );
  return c;
}

function fillCard(c, sb, opts) {
  const prev = c.sb;
  c.sb = sb;
  if (!prev || prev.name !== sb.name) c.title.textContent = sb.name;
  if (!prev || prev.status !== sb.status || prev.stuck !== sb.stuck) {
    clear(c.badge).append(h("span", badge(sb.status),
      sb.stuck ? [" ", h("span.badge.stuck", "Stuck")] : null));
  }
  c.owner.textContent = sb.owner;
  c.template.textContent = `${sb.template} v${sb.template_version}`;
  // An ended sandbox shows when it ended rather than when it would have.
  const ended = sb.status === "TERMINATED" && sb.terminated_at;
  const shown = ended ? sb.terminated_at : sb.expiry_time;
  if (!prev || c.shownTime !== shown) {
    c.shownTime = shown;
    c.expiryLabel.textContent = ended ? "Ended" : "Expires";
    clear(c.expiry).append(timeElement(shown));
  }
  c.root.classList.toggle("ended", sb.status === "TERMINATED");
  if (!prev || prev.max_expiry_time !== sb.max_expiry_time) {
    clear(c.max).append(timeElement(sb.max_expiry_time));
  }
  c.cost.textContent = costText(sb.cost);
  c.reason.textContent = sb.status_reason ? `Reason: ${sb.status_reason}` : "";
  c.reason.hidden = !sb.status_reason;
  c.reason.classList.toggle("failed", sb.status === "FAILED" || Boolean(sb.stuck));
  tick(c, Date.now());

  const outs = sb.status === "ACTIVE" && sb.outputs ? sb.outputs : null;
  const key = JSON.stringify(outs);
  if (key !== c.outputsKey) {
    c.outputsKey = key;
    clear(c.outputs);
    c.outputs.hidden = !outs || Object.keys(outs).length === 0;
    if (outs) {
      c.outputs.append(h("h3", "Outputs"));
      for (const [k, v] of Object.entries(outs)) {
        const text = typeof v === "string" ? v : JSON.stringify(v);
        c.outputs.append(h("div.output", { "data-output": k },
          h("span.k", k), outputValue(v), copyButton(text, `${k} of ${sb.name}`)));
      }
    }
  }

  const actKey = `${sb.status}|${sb.expiry_time}|${sb.max_expiry_time}|${sb.stuck}`;
  if (c.actKey !== actKey) {
    c.actKey = actKey;
    const focused = c.actions.contains(document.activeElement)
      ? document.activeElement.dataset.action : null;
    clear(c.actions);
    const live = LIVE.has(sb.status);
    if (live && sb.status !== "TERMINATING") {
      c.actions.append(h("button", {
        type: "button", "data-action": "extend", onclick: () => extendDialog(sb.name, c, opts),
      }, "Extend…"));
    }
    c.actions.append(h("button", {
      type: "button", "data-action": "history", onclick: () => historyDialog(sb.name),
    }, "History"));
    if (live && sb.status !== "TERMINATING") {
      c.actions.append(h("button", {
        type: "button", "data-action": "delete", onclick: () => deleteDialog(sb.name, opts),
      }, "Delete…"));
    }
    for (const extra of (opts.extraActions ? opts.extraActions(sb) : [])) c.actions.append(extra);
    if (focused) {
      const again = c.actions.querySelector(`[data-action="${focused}"]`);
      if (again) again.focus();
    }
  }
}

// Updates the countdown of one card to now.
function tick(c, now) {
  const sb = c.sb;
  if (!sb) return;
  if (!LIVE.has(sb.status)) {
    c.left.textContent = sb.status === "TERMINATED" ? "ended" : "—";
    c.left.classList.remove("soon");
    c.root.classList.remove("soon");
    return;
  }
  const ms = new Date(sb.expiry_time).getTime() - now;
  c.left.textContent = timeLeft(ms);
  c.left.dataset.ms = String(Math.max(0, ms));
  const soon = ms < SOON_MS;
  c.left.classList.toggle("soon", soon);
  c.root.classList.toggle("soon", soon);
  c.left.title = soon ? "Less than 5 minutes left" : "";
}

// ------------------------------------------------------------ a list

// A list answer is what the database holds; reading one sandbox also asks
// CloudFormation how a changing one is doing (at most every few seconds,
// server side). So the changing ones of a list are read one by one.
const FRESHEN_MAX = 10;

async function freshen(list) {
  const moving = list.filter((sb) => MOVING.has(sb.status)).slice(0, FRESHEN_MAX);
  if (!moving.length) return list;
  const fresh = await Promise.all(moving.map(
    (sb) => get(`/api/sandboxes/${enc(sb.name)}`).catch(() => null)));
  const byId = new Map(fresh.filter(Boolean).map((sb) => [sb.id, sb]));
  return list.map((sb) => byId.get(sb.id) || sb);
}

// A self-refreshing list of sandbox cards in container. load() returns the
// sandboxes to show; opts: showOwner, extraActions(sb), empty (a node for
// an empty list). Returns {refresh, stop}.
export function sandboxList(container, load, opts) {
  const ul = h("ul.cards", { "aria-live": "off" });
  const empty = opts.empty || h("p.empty", "No sandboxes.");
  const status = h("p.small.muted", { "aria-live": "polite" });
  container.append(ul, empty, status);
  empty.hidden = true;
  const cards = new Map();
  let timer = null;
  let stopped = false;
  let loading = null;
  opts.refresh = () => refresh();

  async function refresh() {
    if (stopped) return;
    if (loading) return loading;
    clearTimeout(timer);
    loading = (async () => {
      let list;
      try {
        list = await freshen(await load());
        status.textContent = "";
      } catch (e) {
        if (e.status === 401) return;
        status.textContent = `Could not refresh: ${e.message}. Trying again.`;
        list = null;
      }
      if (stopped) return;
      let moving = false;
      if (list) {
        const seen = new Set();
        let prevNode = null;
        for (const sb of list) {
          const k = cardKey(sb);
          seen.add(k);
          let c = cards.get(k);
          if (!c) {
            c = buildCard(sb, opts);
            cards.set(k, c);
          }
          fillCard(c, sb, opts);
          const want = prevNode ? prevNode.nextSibling : ul.firstChild;
          if (want !== c.root) ul.insertBefore(c.root, want);
          prevNode = c.root;
          if (MOVING.has(sb.status)) moving = true;
        }
        for (const [k, c] of cards) {
          if (!seen.has(k)) {
            c.root.remove();
            cards.delete(k);
          }
        }
        empty.hidden = list.length > 0;
        ul.hidden = list.length === 0;
      }
      timer = setTimeout(refresh, moving || !list ? FAST_MS : SLOW_MS);
    })();
    try {
      await loading;
    } finally {
      loading = null;
    }
  }

  const clock = setInterval(() => {
    const now = Date.now();
    for (const c of cards.values()) tick(c, now);
  }, 1000);

  refresh();
  return {
    refresh,
    stop() {
      stopped = true;
      clearTimeout(timer);
      clearInterval(clock);
    },
  };
}

// ------------------------------------------------------------ my sandboxes

export function mySandboxesView(view, ctx) {
  view.append(h("div.head",
    h("h1", "My sandboxes"),
    h("a.button.primary", { href: "#/new" }, "New sandbox")));
  // The month against the budget, refreshed with the list.
  const spend = spendLine();
  view.append(spend.root);
  spend.refresh();
  const spendTimer = setInterval(spend.refresh, 30000);
  const empty = h("div.empty",
    h("p", "You have no sandboxes yet."),
    h("p", "A sandbox is a temporary AWS environment made from an approved template. ",
      "Choose ", h("a", { href: "#/new" }, "New sandbox"),
      ", pick a template and how long you need it; it is deleted by itself when its time is up."));
  const mine = `/api/sandboxes?owner=${enc(ctx.me.email)}&limit=100`;
  const list = sandboxList(view, () => getAll(mine, 300).then(
    (all) => all.filter((sb) => sb.owner === ctx.me.email
      && (sb.status !== "TERMINATED" || recentlyEnded(sb)))), { empty, flash: ctx.flash });
  return () => {
    clearInterval(spendTimer);
    list.stop();
  };
}

// A sandbox that ended in the last hour stays in view, so that a user sees
// the deletion finish.
function recentlyEnded(sb) {
  return sb.terminated_at && Date.now() - new Date(sb.terminated_at).getTime() < 3600 * 1000;
}

// ------------------------------------------------------------ extend

const MIN = 60 * 1000;

// Opens with the sandbox as the server has it now (the card may be up to
// a refresh old), so that the bounds shown are the real ones.
export async function extendDialog(name, card, opts) {
  let sb = card.sb;
  try {
    sb = await get(`/api/sandboxes/${enc(name)}`);
  } catch (e) {
    if (e.status === 401) return null;
  }
  return openExtend(name, sb, opts);
}

function openExtend(name, sb, opts) {
  const expiry = new Date(sb.expiry_time);
  const max = new Date(sb.max_expiry_time);
  const flash = opts.flash || (() => {});
  return openDialog(`Extend ${name}`, (close) => {
    const msg = h("p.small", { "aria-live": "polite" });
    const room = max.getTime() - expiry.getTime();
    const at = h("input", {
      type: "datetime-local", name: "expiry_time", required: true,
      min: toLocalInput(new Date(Math.max(Date.now(), expiry.getTime()) + MIN)),
      max: toLocalInput(max),
    });
    at.value = toLocalInput(new Date(Math.min(max.getTime(), expiry.getTime() + 2 * 3600 * 1000)));
    const atField = field("Until a chosen time", at,
      `Your time zone. Not later than ${localTime(sb.max_expiry_time)}.`);
    const send = async (body, label) => {
      setFieldError(atField, "");
      msg.textContent = "Extending…";
      for (const b of form.querySelectorAll("button")) b.disabled = true;
      try {
        await patch(`/api/sandboxes/${enc(name)}`, body);
        close();
        flash(`${name} extended ${label}.`);
        if (opts.refresh) opts.refresh();
      } catch (e) {
        msg.textContent = "";
        if (e.field === "expiry_time") setFieldError(atField, e.message);
        else msg.textContent = e.message;
        for (const b of form.querySelectorAll("button")) b.disabled = false;
        updateQuick();
      }
    };
    const quick = (minutes, label) => {
      const b = h("button", { type: "button", "data-extend": String(minutes) }, label);
      b.addEventListener("click", () => send({ extend_minutes: minutes }, `by ${label.slice(1)}`));
      return b;
    };
    const b30 = quick(30, "+30 min");
    const b60 = quick(60, "+1 h");
    const updateQuick = () => {
      b30.disabled = room < 30 * MIN;
      b60.disabled = room < 60 * MIN;
    };
    updateQuick();
    const form = h("form", { novalidate: true },
      h("p", "Now expires ", h("strong", localTime(sb.expiry_time)),
        ". It cannot live past ", h("strong", localTime(sb.max_expiry_time)), "."),
      room <= 0
        ? h("p.notice", { "data-no-extend": "" }, "This sandbox has reached its latest possible expiry: it cannot be extended any more.")
        : room < 30 * MIN
          ? h("p.notice", `Only ${timeLeft(room)} of extension left before the limit.`)
          : null,
      h("div.actions", { role: "group", "aria-label": "Quick extensions" }, b30, b60),
      h("hr"),
      atField,
      msg,
      h("div.actions",
        h("button", { type: "button", onclick: close }, "Cancel"),
        h("button.primary", { type: "submit", disabled: room <= 0 }, "Extend to this time")));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const when = new Date(at.value);
      if (Number.isNaN(when.getTime())) {
        setFieldError(atField, "Choose a date and time.");
        return;
      }
      if (when.getTime() > max.getTime()) {
        setFieldError(atField, `Not later than ${localTime(sb.max_expiry_time)}.`);
        return;
      }
      send({ expiry_time: when.toISOString().replace(/\.\d{3}Z$/, "Z") }, `to ${localTime(when.toISOString())}`);
    });
    return form;
  });
}

// ------------------------------------------------------------ delete

export function deleteDialog(name, opts) {
  return confirmDialog({
    title: `Delete ${name}?`,
    body: h("p", "The stack of ", h("strong", name),
      " and everything in it will be deleted. This cannot be undone."),
    confirm: `Delete ${name}`,
    cancel: "Keep it",
    action: async () => {
      await del(`/api/sandboxes/${enc(name)}`);
      if (opts.flash) opts.flash(`${name} is being deleted.`);
      if (opts.refresh) opts.refresh();
    },
  });
}

// ------------------------------------------------------------ history

export function historyDialog(name) {
  return openDialog(`History of ${name}`, (close) => {
    const list = h("ol.events", h("li", "Loading…"));
    get(`/api/sandboxes/${enc(name)}/events`).then((events) => {
      clear(list);
      if (!events.length) list.append(h("li", "No events."));
      for (const ev of events) {
        list.append(h("li", { "data-action": ev.action },
          h("div.when", timeElement(ev.time), " · ", ev.actor),
          h("div", h("strong", ev.action),
            ev.from_status || ev.to_status
              ? ` (${ev.from_status || "—"} → ${ev.to_status || "—"})` : ""),
          ev.detail ? h("div.small", ev.detail) : null));
      }
    }, (e) => {
      clear(list).append(h("li", `Could not load the history: ${e.message}`));
    });
    return h("div", list, h("div.actions", h("button", { type: "button", onclick: close }, "Close")));
  });
}
