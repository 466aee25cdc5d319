// The administrators' views: every sandbox (owner and status filters),
// stuck sandboxes (retry, forget), the reaper's last runs, templates (add a
// version, disable) and users (disable, enable). The server checks the
// role on every call; these views are only a convenience.

import { get, getAll, post, put, del, enc } from "./api.js";
import {
  h, clear, field, setFieldError, timeElement, badge, openDialog, confirmDialog,
  showProblem, loader, table, cell, STATUSES,
} from "./dom.js";
import { sandboxList } from "./sandboxes.js";

// ------------------------------------------------------------ all sandboxes

export function adminSandboxesView(view, ctx) {
  view.append(h("h1", "All sandboxes"));
  const owner = h("input", { type: "search", name: "owner", autocomplete: "off", placeholder: "someone@example.com" });
  const status = h("select", { name: "status" },
    h("option", { value: "" }, "Any status"),
    STATUSES.map((s) => h("option", { value: s }, s)));
  const form = h("form.filters", { role: "search", "aria-label": "Filter sandboxes" },
    field("Owner (email)", owner), field("Status", status),
    h("button", { type: "submit" }, "Filter"));
  const holder = h("div");
  view.append(form, holder);
  let list = null;
  const start = () => {
    if (list) list.stop();
    clear(holder);
    const q = new URLSearchParams({ limit: "100" });
    if (owner.value.trim()) q.set("owner", owner.value.trim().toLowerCase());
    if (status.value) q.set("status", status.value);
    list = sandboxList(holder, () => getAll(`/api/sandboxes?${q}`, 300), {
      showOwner: true,
      flash: ctx.flash,
      empty: h("p.empty", "No sandbox matches."),
    });
  };
  form.addEventListener("submit", (ev) => { ev.preventDefault(); start(); });
  status.addEventListener("change", start);
  start();
  return () => { if (list) list.stop(); };
}

// ------------------------------------------------------------ stuck

export function adminStuckView(view, ctx) {
  view.append(h("h1", "Stuck sandboxes"),
    h("p.muted", "The reaper gave up on these after repeated failures. Fix the cause, then retry; ",
      "or delete the stack by hand and forget the sandbox."));
  const holder = h("div");
  view.append(holder);
  // Each stuck job names its sandbox ("sandbox"), the action the reaper
  // keeps failing at, how often it tried, and why.
  const part = loader(holder, () => get("/api/jobs/reaper?limit=1").then((d) => d.stuck || []),
    (stuck) => table(["Sandbox", "Owner", "Status", "Stuck at", "Attempts", "Reason", ""], stuck.map((job) => {
      const name = job.sandbox;
      const retry = h("button", { type: "button", "data-action": "retry", "aria-label": `Retry ${name} now` }, "Retry now");
      retry.addEventListener("click", async () => {
        retry.disabled = true;
        try {
          await post(`/api/sandboxes/${enc(name)}/retry`);
          ctx.flash(`${name}: retried now.`);
          part.load();
        } catch (e) {
          retry.disabled = false;
          ctx.flash(`${name}: ${e.message}`, "error");
        }
      });
      const forget = h("button.danger", { type: "button", "data-action": "forget", "aria-label": `Forget ${name}` }, "Forget…");
      forget.addEventListener("click", () => forgetDialog(name, ctx, part.load));
      return h("tr", { "data-name": name },
        cell("Sandbox", h("strong", name)),
        cell("Owner", job.owner || "—"),
        cell("Status", badge(job.status)),
        cell("Stuck at", job.action || "—"),
        cell("Attempts", String(job.attempts ?? "—")),
        cell("Reason", job.status_reason || "—"),
        cell("Actions", h("div.actions", retry, forget)));
    })), "Nothing is stuck.");
  return part.stop;
}

function forgetDialog(name, ctx, after) {
  openDialog(`Forget ${name}?`, (close) => {
    const reason = h("textarea", { name: "reason", rows: 3, required: true });
    const f = field("Why (kept in the history)", reason, "E.g. “stack deleted by hand in the console”.");
    const yes = h("button.danger", { type: "submit" }, "Mark as terminated");
    const form = h("form", { novalidate: true },
      h("p", "Only after the stack of ", h("strong", name),
        " has been deleted by hand: the sandbox is marked terminated without asking AWS."),
      f, h("div.actions", h("button", { type: "button", onclick: close }, "Cancel"), yes));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      setFieldError(f, "");
      yes.disabled = true;
      try {
        await post(`/api/sandboxes/${enc(name)}/forget`, { reason: reason.value.trim() });
        close();
        ctx.flash(`${name} forgotten.`);
        after();
      } catch (e) {
        yes.disabled = false;
        setFieldError(f, e.message);
      }
    });
    return form;
  });
}

// ------------------------------------------------------------ reaper runs

export function adminReaperView(view) {
  view.append(h("h1", "Reaper runs"),
    h("p.muted", "The last runs of the reaper, newest first, with what each one did."));
  const holder = h("div", h("p", "Loading…"));
  view.append(holder);
  const part = loader(holder, () => get("/api/jobs/reaper?limit=20"), (data) => {
    const runs = data.runs || [];
    const orphans = data.orphans || [];
    return h("div",
      runs.length ? table(["Started", "Took", "Result", "Did", "Error"], runs.map((r) => {
        const counts = Object.entries(r.counts || {}).filter(([, n]) => n);
        return h("tr",
          cell("Started", timeElement(r.started_at)),
          cell("Took", r.duration_ms == null ? "—" : `${r.duration_ms} ms`),
          cell("Result", r.ok ? "✓ ok" : "✕ failed", r.dry_run ? " (dry run)" : ""),
          cell("Did", counts.length
            ? counts.map(([k, n]) => `${k.replace(/_/g, " ")} ${n}`).join(", ") : "nothing to do"),
          cell("Error", r.error || "—"));
      })) : h("p.empty", "The reaper has not run yet."),
      h("h2", "Orphan stacks"),
      orphans.length
        ? h("ul", orphans.map((o) => h("li", h("code", typeof o === "string" ? o : (o.stack_name || JSON.stringify(o))))))
        : h("p.muted", "None: every tagged stack has its sandbox."));
  });
  return part.stop;
}

// ------------------------------------------------------------ templates

export function adminTemplatesView(view, ctx) {
  view.append(h("h1", "Templates"));
  const listHolder = h("div");
  view.append(listHolder);
  const part = loader(listHolder, () => get("/api/templates"),
    (templates) => table(["Name", "Version", "Description", "Lifetime", "Parameters", ""], templates.map((t) => {
      const off = h("button", { type: "button", "data-action": "disable", "aria-label": `Disable ${t.name}` }, "Disable…");
      off.addEventListener("click", () => disableDialog(t, ctx, part.load));
      const edit = h("button", { type: "button", "data-action": "new-version", "aria-label": `New version of ${t.name}` }, "New version");
      edit.addEventListener("click", () => { fill(t); nameIn.focus(); });
      return h("tr", { "data-template": t.name },
        cell("Name", h("strong", t.name), t.default ? " (default)" : ""),
        cell("Version", String(t.version)),
        cell("Description", t.description || "—"),
        cell("Lifetime", `${t.default_ttl_minutes} min, at most ${t.max_ttl_minutes}`),
        cell("Parameters", (t.parameters || []).map((p) => p.name).join(", ") || "none"),
        cell("Actions", h("div.actions", edit, off)));
    })), "No enabled template.");

  // Adding a version: PUT /api/templates/{name}.
  const nameIn = h("input", { name: "name", autocomplete: "off", spellcheck: "false", required: true });
  const descIn = h("input", { name: "description", maxlength: 1024 });
  const bodyIn = h("textarea", { name: "body", rows: 10, spellcheck: "false", required: true });
  const defTtl = h("input", { name: "default_ttl_minutes", type: "number", min: 1, step: 1 });
  const maxTtl = h("input", { name: "max_ttl_minutes", type: "number", min: 1, step: 1 });
  const isDefault = h("input", { name: "default", type: "checkbox" });
  const caps = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"].map(
    (c) => h("input", { type: "checkbox", name: "capabilities", value: c }));
  const fields = {
    name: field("Name", nameIn, "An existing name adds a version; a new one adds a template."),
    description: field("Description", descIn),
    body: field("CloudFormation template (JSON or YAML)", bodyIn,
      "Its Parameters become the fields users fill in; NoEcho ones are asked as secrets."),
    default_ttl_minutes: field("Default lifetime (minutes)", defTtl, "Empty: the service's default."),
    max_ttl_minutes: field("Longest lifetime (minutes)", maxTtl, "Empty: the service's limit."),
  };
  const capsSet = h("fieldset", h("legend", "Capabilities"),
    caps.map((c) => h("div.inline", c, h("label", { for: c.id = `cap-${c.value}` }, c.value))));
  const general = h("p.notice", { role: "alert", hidden: true });
  const submit = h("button.primary", { type: "submit" }, "Add version");
  const form = h("form.stack", { novalidate: true, "aria-label": "Add a template version" },
    fields.name, fields.description, fields.body, fields.default_ttl_minutes, fields.max_ttl_minutes,
    capsSet, h("div.field.inline", isDefault, h("label", { for: isDefault.id = "tpl-default" }, "Make it the default template")),
    general, h("div.actions", submit));
  view.append(h("h2", "Add a version"), form);

  const fill = (t) => {
    nameIn.value = t.name;
    descIn.value = t.description || "";
    defTtl.value = String(t.default_ttl_minutes);
    maxTtl.value = String(t.max_ttl_minutes);
    isDefault.checked = Boolean(t.default);
    for (const c of caps) c.checked = (t.capabilities || []).includes(c.value);
    get(`/api/templates/${enc(t.name)}`).then((full) => { bodyIn.value = full.body || ""; }, () => {});
  };

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    for (const f of Object.values(fields)) setFieldError(f, "");
    general.hidden = true;
    const name = nameIn.value.trim();
    if (!name) {
      setFieldError(fields.name, "A name is needed.");
      nameIn.focus();
      return;
    }
    const body = {
      body: bodyIn.value,
      capabilities: caps.filter((c) => c.checked).map((c) => c.value),
      default: isDefault.checked,
    };
    if (descIn.value.trim()) body.description = descIn.value.trim();
    for (const [k, el] of [["default_ttl_minutes", defTtl], ["max_ttl_minutes", maxTtl]]) {
      if (el.value.trim() !== "") body[k] = Number(el.value);
    }
    submit.disabled = true;
    try {
      const t = await put(`/api/templates/${enc(name)}`, body);
      ctx.flash(`Template ${t.name} version ${t.version} added.`);
      form.reset();
      part.load();
    } catch (e) {
      if (e.status !== 401) {
        showProblem(e, (name) => fields[name === "template" ? "body" : name], general);
      }
    } finally {
      submit.disabled = false;
    }
  });

  return part.stop;
}

function disableDialog(t, ctx, after) {
  confirmDialog({
    title: `Disable ${t.name}?`,
    body: h("p", "New sandboxes can no longer use ", h("strong", t.name),
      ". Live sandboxes made from it are not touched."),
    confirm: `Disable ${t.name}`,
    action: async () => {
      await del(`/api/templates/${enc(t.name)}`);
      ctx.flash(`Template ${t.name} disabled.`);
      after();
    },
  });
}

// ------------------------------------------------------------ users

export function adminUsersView(view, ctx) {
  view.append(h("h1", "Users"));
  const holder = h("div", h("p", "Loading…"));
  view.append(holder);
  const part = loader(holder, () => get("/api/users"),
    (users) => table(["User", "Role", "State", "Last sign-in", "Live sandboxes", ""], users.map((u) => {
      const self = u.email === ctx.me.email;
      const verb = u.disabled ? "enable" : "disable";
      const b = h(u.disabled ? "button" : "button.danger", {
        type: "button", "data-action": verb, "aria-label": `${u.disabled ? "Enable" : "Disable"} ${u.email}`,
      }, u.disabled ? "Enable" : "Disable");
      b.addEventListener("click", async () => {
        b.disabled = true;
        try {
          await post(`/api/users/${enc(u.email)}/${verb}`);
          ctx.flash(u.disabled ? `${u.email} enabled.`
            : `${u.email} disabled: their sessions and tokens stop working now.`);
          part.load();
        } catch (e) {
          b.disabled = false;
          ctx.flash(`${u.email}: ${e.message}`, "error");
        }
      });
      return h("tr", { "data-email": u.email },
        cell("User", h("strong", u.name || u.email), h("div.small.muted", u.email)),
        cell("Role", u.role),
        cell("State", u.disabled ? h("span.badge.s-FAILED", "Disabled") : h("span.badge.s-ACTIVE", "Enabled")),
        cell("Last sign-in", u.last_login_at ? timeElement(u.last_login_at) : "never"),
        cell("Live sandboxes", String(u.live_sandboxes)),
        cell("Actions", self && !u.disabled ? h("span.small.muted", "you") : b));
    })), "Nobody has signed in yet.");
  return part.stop;
}
