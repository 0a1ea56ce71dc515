/* Dashboard blocks of the leases and the queue: who holds which faces now (owners, with a button to
give a holder's faces back to the team), and how the queued faces were chosen (the strategy, or
the fallbacks that keep labelers busy while no model has ranked them). */

import { get, poll, post } from "./api.js";
import { el, node } from "./dom.js";
import { plural } from "./format.js";

/** How the queued faces were chosen, overall and in the newest cycle (from the dashboard's `chosen_by`). */
function drawChosenBy(counts) {
  const list = el("chosen-by");
  if (!list || !counts) return;
  const newest = counts.cycles.at(-1);
  list.replaceChildren(
    ...Object.entries(counts.overall)
      .filter(([, count]) => count > 0)
      .map(([key, count]) => {
        const inNewest = newest?.counts[key] ? ` (${newest.counts[key]} in cycle ${newest.number})` : "";
        return node("li", { "data-chosen-by": key, text: `${counts.labels[key]}: ${plural(count, "face")}${inNewest}` });
      }),
  );
}

function holderRow(holder) {
  const freeIn = Math.max(0, Math.round((new Date(holder.expires_at) - Date.now()) / 1000));
  const held = [
    holder.faces.length ? `${plural(holder.faces.length, "face")} (${holder.faces.join(", ")})` : "",
    holder.offers ? plural(holder.offers, "offer") : "",
    holder.reviews ? `${holder.reviews} to review` : "",
  ].filter(Boolean);
  const cells = [holder.username, holder.tab ? holder.tab.slice(0, 8) : "default", held.join(", "), `${freeIn} s`];
  const button = node("button", {
    type: "button",
    className: "small",
    "aria-label": `Release what ${holder.username} holds in tab ${holder.tab || "default"}`,
    text: "Release",
  });
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const done = await post("leases/revoke/", { annotator: holder.annotator, tab: holder.tab });
      el("lease-status").textContent = `${done.released} given back to the queue from ${holder.username}.`;
    } catch (error) {
      el("lease-status").textContent = `Could not release: ${error.message}`;
    }
    holders.poke();
  });
  return node("tr", {}, ...cells.map((text) => node("td", { text })), node("td", {}, button));
}

async function drawHolders() {
  const list = await get("leases/");
  el("lease-holders").replaceChildren(...list.map(holderRow));
  el("lease-none").hidden = list.length > 0;
  return list.length > 0;
}

const holders = el("lease-holders") ? poll(drawHolders, { fastMs: 5000, slowMs: 30000 }) : null;

export { drawChosenBy };
