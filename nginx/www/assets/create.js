// New sandbox: a name, a template (from /api/templates, with its
// description), a lifetime within the template's bounds and the
// template's declared parameters (NoEcho ones as password fields). The
// server checks everything again; its problem+json detail is shown at the
// field it names ("name", "template", "ttl_minutes", "parameters.<Name>"),
// or above the buttons when it names none.

import { get, request } from "./api.js";
import { h, clear, field, setFieldError, showProblem } from "./dom.js";

function newKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export function createView(view, ctx) {
  view.append(h("h1", "New sandbox"));
  const holder = h("div", h("p", "Loading the templates…"));
  view.append(holder);
  let stopped = false;
  get("/api/templates").then((templates) => {
    if (!stopped) clear(holder).append(buildForm(templates, ctx));
  }, (e) => {
    if (!stopped && e.status !== 401) clear(holder).append(h("p.notice", `Could not load the templates: ${e.message}`));
  });
  return () => { stopped = true; };
}

function buildForm(templates, ctx) {
  if (!templates.length) {
    return h("p.empty", "No template is enabled yet: an administrator must add one.");
  }
  const fields = new Map();
  const name = h("input", {
    name: "name", autocomplete: "off", spellcheck: "false", required: true,
    autocapitalize: "none", maxlength: 63,
  });
  fields.set("name", field("Name", name,
    "3 to 63 characters: lower-case letters, digits and hyphens, starting with a letter. Unique among live sandboxes."));

  const tpl = h("select", { name: "template", required: true });
  for (const t of templates) {
    tpl.append(h("option", { value: t.name, selected: t.default }, t.name));
  }
  const tplField = field("Template", tpl);
  fields.set("template", tplField);
  const desc = h("p.hint", { id: `${tpl.id}-desc` });
  tplField.insertBefore(desc, tplField.error);
  tpl.setAttribute("aria-describedby", `${tpl.id}-desc ${tpl.getAttribute("aria-describedby")}`);

  const ttl = h("input", { name: "ttl_minutes", type: "number", inputmode: "numeric", step: 1, min: 1 });
  const ttlField = field("Lifetime (minutes)", ttl);
  fields.set("ttl_minutes", ttlField);
  const ttlHint = h("p.hint", { id: `${ttl.id}-bounds` });
  ttlField.insertBefore(ttlHint, ttlField.error);
  ttl.setAttribute("aria-describedby", `${ttl.id}-bounds ${ttl.getAttribute("aria-describedby")}`);

  const params = h("div");
  const general = h("p.notice", { role: "alert", hidden: true });
  const submit = h("button.primary", { type: "submit" }, "Create sandbox");
  const form = h("form.stack", { novalidate: true, "aria-label": "New sandbox" },
    fields.get("name"), tplField, ttlField, params, general,
    h("div.actions", submit, h("a.button", { href: "#/" }, "Cancel")));

  const paramFields = new Map();
  const showTemplate = () => {
    const t = templates.find((x) => x.name === tpl.value) || templates[0];
    desc.textContent = t.description || "";
    ttl.max = String(t.max_ttl_minutes);
    ttl.value = String(t.default_ttl_minutes);
    ttlHint.textContent = `From 1 to ${t.max_ttl_minutes} minutes; ${t.default_ttl_minutes} if you leave the default.`;
    clear(params);
    paramFields.clear();
    for (const k of [...fields.keys()]) if (k.startsWith("parameters.")) fields.delete(k);
    const decl = Array.isArray(t.parameters) ? t.parameters : [];
    if (!decl.length) return;
    const fs = h("fieldset", h("legend", "Template parameters"));
    for (const p of decl) {
      let control;
      if (Array.isArray(p.allowed_values) && p.allowed_values.length) {
        control = h("select", { name: `parameters.${p.name}` });
        for (const v of p.allowed_values) {
          control.append(h("option", { value: String(v), selected: String(v) === String(p.default) }, String(v)));
        }
      } else {
        control = h("input", {
          name: `parameters.${p.name}`,
          type: p.no_echo ? "password" : "text",
          autocomplete: p.no_echo ? "new-password" : "off",
          spellcheck: "false",
          maxlength: p.max_length || undefined,
        });
        if (p.default !== undefined && p.default !== null && !p.no_echo) {
          control.placeholder = String(p.default);
        }
      }
      const hint = [p.description, p.default !== undefined && !p.no_echo ? `Default: ${p.default}` : null,
        p.no_echo ? "Secret: not shown, not stored in the page." : null].filter(Boolean).join(". ");
      const f = field(p.name, control, hint || null);
      fields.set(`parameters.${p.name}`, f);
      paramFields.set(p.name, { control, decl: p });
      fs.append(f);
    }
    params.append(fs);
  };
  tpl.addEventListener("change", showTemplate);
  showTemplate();

  // One key per filled-in form: a double submit or a retry after a lost
  // answer creates one sandbox.
  let idemKey = newKey();
  let lastBody = null;

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    for (const f of fields.values()) setFieldError(f, "");
    general.hidden = true;
    const body = { name: name.value.trim(), template: tpl.value };
    if (ttl.value.trim() !== "") {
      const n = Number(ttl.value);
      body.ttl_minutes = Number.isInteger(n) ? n : ttl.value;
    }
    const values = {};
    for (const [pname, { control }] of paramFields) {
      if (control.value !== "") values[pname] = control.value;
    }
    if (paramFields.size) body.parameters = values;
    const bodyText = JSON.stringify(body);
    if (bodyText !== lastBody) {
      idemKey = newKey();
      lastBody = bodyText;
    }
    submit.disabled = true;
    submit.textContent = "Creating…";
    try {
      await requestWithKey(body, idemKey);
      for (const { control } of paramFields.values()) if (control.type === "password") control.value = "";
      ctx.flash(`${body.name} is being created.`);
      ctx.go("#/");
    } catch (e) {
      if (e.status !== 401) showProblem(e, (name) => fields.get(name), general);
      lastBody = null;
    } finally {
      submit.disabled = false;
      submit.textContent = "Create sandbox";
    }
  });
  queueMicrotask(() => name.focus());
  return form;
}

function requestWithKey(body, key) {
  return request("POST", "/api/sandboxes", body, { headers: { "Idempotency-Key": key } });
}
