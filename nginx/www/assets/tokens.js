// API tokens: create one (name, lifetime), see its secret once with a copy
// button, list them, revoke one. The secret is only in the creation answer
// and only in this view's memory until the user leaves it.

import { get, post, del, enc } from "./api.js";
import {
  h, clear, field, setFieldError, timeElement, copyButton, confirmDialog, showProblem,
  loader, table, cell,
} from "./dom.js";

const LIFETIMES = [[7, "7 days"], [30, "30 days"], [90, "90 days"], [180, "180 days"], [365, "1 year"]];

export function tokensView(view, ctx) {
  view.append(h("h1", "API tokens"),
    h("p.muted", "A token lets a script or a CI job call the API as you: send it as ",
      h("code", "Authorization: Bearer <token>"), ". Revoke it when it is no longer needed."));

  const name = h("input", { name: "name", maxlength: 64, autocomplete: "off", required: true });
  const nameField = field("Token name", name, "What it is for, e.g. “CI deploy”. 1 to 64 characters.");
  const life = h("select", { name: "expires_in_days" });
  for (const [d, label] of LIFETIMES) life.append(h("option", { value: String(d), selected: d === 90 }, label));
  const lifeField = field("Lifetime", life);
  const general = h("p.notice", { role: "alert", hidden: true });
  const submit = h("button.primary", { type: "submit" }, "Create token");
  const form = h("form.stack", { novalidate: true, "aria-label": "New API token" },
    nameField, lifeField, general, h("div.actions", submit));
  const reveal = h("div", { "aria-live": "polite" });
  const listHolder = h("div");
  view.append(h("h2", "New token"), form, reveal, h("h2", "Your tokens"), listHolder);

  const fields = { name: nameField, expires_in_days: lifeField };
  const part = loader(listHolder, () => get("/api/tokens"),
    (tokens) => table(["Name", "State", "Created", "Expires", "Last used", ""], tokens.map((t) => {
      const revoked = Boolean(t.revoked_at);
      const expired = !revoked && t.expires_at && new Date(t.expires_at).getTime() <= Date.now();
      const state = revoked ? "Revoked" : expired ? "Expired" : "Active";
      return h("tr", { "data-token-id": t.id },
        cell("Name", t.name),
        cell("State", h(`span.badge.s-${revoked || expired ? "TERMINATED" : "ACTIVE"}`, state)),
        cell("Created", timeElement(t.created_at)),
        cell("Expires", timeElement(t.expires_at)),
        cell("Last used", t.last_used_at ? timeElement(t.last_used_at) : "never"),
        cell("Actions", revoked || expired ? null : h("button", {
          type: "button", "data-action": "revoke", "aria-label": `Revoke ${t.name}`,
          onclick: () => confirmRevoke(t),
        }, "Revoke")));
    })), "You have no API tokens.");
  const load = part.load;

  function confirmRevoke(t) {
    confirmDialog({
      title: `Revoke ${t.name}?`,
      body: h("p", "Programs using ", h("strong", t.name), " will be refused from now on."),
      confirm: "Revoke token",
      action: async () => {
        await del(`/api/tokens/${enc(t.id)}`);
        ctx.flash(`Token ${t.name} revoked.`);
        load();
      },
    });
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    setFieldError(nameField, "");
    setFieldError(lifeField, "");
    general.hidden = true;
    submit.disabled = true;
    try {
      const t = await post("/api/tokens", { name: name.value.trim(), expires_in_days: Number(life.value) });
      name.value = "";
      showSecret(t);
      load();
    } catch (e) {
      if (e.status !== 401) showProblem(e, (name) => fields[name], general);
    } finally {
      submit.disabled = false;
    }
  });

  function showSecret(t) {
    const code = h("code", { "data-secret": "" }, t.token);
    const done = h("button", { type: "button" }, "I have copied it");
    done.addEventListener("click", () => { clear(reveal); name.focus(); });
    clear(reveal).append(h("div.notice", { role: "region", "aria-label": "New token" },
      h("p", h("strong", `Token ${t.name} created.`), " Copy it now: it is shown only once."),
      h("div.secret", code, copyButton(t.token, "the token")),
      h("p.small", "Expires ", timeElement(t.expires_at), "."),
      done));
    reveal.querySelector("button.copy").focus();
  }

  return () => { part.stop(); clear(reveal); };
}
