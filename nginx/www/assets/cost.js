// Money on the page: the month's spend against the budget at
// the top of "My sandboxes" (GET /api/costs), and each card's live cost
// (the sandbox's "cost": null until the reaper has estimated it).

import { get } from "./api.js";
import { h, clear } from "./dom.js";

export function usd(n) {
  if (typeof n !== "number") return "–";
  return "$" + (n < 1 ? n.toFixed(4) : n.toFixed(2));
}

// A card's "Cost" value: "$0.0113/h · $0.0021 so far" or "not known yet".
export function costText(cost) {
  if (!cost) return "not known yet";
  const parts = [];
  parts.push(typeof cost.hourly === "number" ? `${usd(cost.hourly)}/h` : "rate unknown");
  parts.push(`${usd(cost.accrued)} so far`);
  if (cost.unpriced && cost.unpriced.length) parts.push(`unpriced: ${cost.unpriced.join(", ")}`);
  return parts.join(" · ");
}

// The month against the budget: "December 2026: $0.42 spent, $0.80
// committed of $10.00 (8 %)". Refreshes with refresh(); a failure leaves
// the line hidden rather than showing something wrong.
export function spendLine() {
  // One line from the start, so that nothing below it moves when the
  // figures arrive or change.
  const text = h("span", "This month: …");
  const bar = h("progress.spend-bar", { max: "100", value: "0", hidden: true });
  const root = h("p.spend", { "aria-live": "polite" }, bar, " ", text);
  async function refresh() {
    let r;
    try {
      r = await get("/api/costs");
    } catch {
      clear(text).append("This month: not available");
      bar.hidden = true;
      return;
    }
    const [y, m] = r.month.split("-").map(Number);
    const name = new Date(Date.UTC(y, m - 1, 1)).toLocaleString(undefined,
      { month: "long", year: "numeric", timeZone: "UTC" });
    let line = `${name}: ${usd(r.accrued)} spent, ${usd(r.projected)} committed`;
    if (typeof r.budget_usd === "number") {
      const pct = r.budget_usd > 0 ? Math.round((r.projected / r.budget_usd) * 100) : 100;
      line += ` of ${usd(r.budget_usd)} (${pct} %)`;
      bar.value = Math.min(pct, 100);
      bar.hidden = false;
      root.classList.toggle("over", pct >= 80);
    } else {
      line += " (no budget)";
      bar.hidden = true;
    }
    clear(text).append(line);
  }
  return { root, refresh };
}
