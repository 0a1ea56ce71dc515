/* Dashboard blocks of the leases and the queue: who holds which faces now (owners, with a button to
give a holder's faces back to the team), and how the queued faces were chosen (the strategy, or
the fallbacks that keep labelers busy while no model has ranked them). */

import { get, poll, post } from "./api.js";
import { el } from "./dom.js";

/** How the queued faces were chosen, overall and in the newest cycle (from the dashboard's `chosen_by`). */
function drawChosenBy(counts) {
  const list = el("chosen-by");
  if (!list || !counts) return;
  const newest = counts.cycles.at(-1);
  list.replaceChildren(
    ...Object.entries(counts.overall)
      .filter(([, count]) => count > 0)
      .map(([key, count]) => {
        const item = document.createElement("li");
        item.dataset.chosenBy = key;
        const inNewest = newest?.counts[key] ? ` (${newest.counts[key]} in cycle ${newest.number})` : "";
        item.textContent = `${counts.labels[key]}: ${count} face${count === 1 ? "" : "s"}${inNewest}`;
        return item;
      }),
  );
}

function holderRow(holder) {
  const row = document.createElement("tr");
  const freeIn = Math.max(0, Math.round((new Date(holder.expires_at) - Date.now()) / 1000));
  const held = [
    holder.faces.length ? `${holder.faces.length} face${holder.faces.length === 1 ? "" : "s"} (${holder.faces.join(", ")})` : "",
    holder.offers ? `${holder.offers} offer${holder.offers === 1 ? "" : "s"}` : "",
    holder.reviews ? `${holder.reviews} to review` : "",
  ].filter(Boolean);
  for (const text of [holder.username, holder.tab ? holder.tab.slice(0, 8) : "default", held.join(", "), `${freeIn} s`]) {
    const cell = document.createElement("td");
    cell.textContent = text;
    row.appendChild(cell);
  }
  const cell = document.createElement("td");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "small";
  button.textContent = "Release";
  button.setAttribute("aria-label", `Release what ${holder.username} holds in tab ${holder.tab || "default"}`);
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
  cell.appendChild(button);
  row.appendChild(cell);
  return row;
}

async function drawHolders() {
  const list = await get("leases/");
  el("lease-holders").replaceChildren(...list.map(holderRow));
  el("lease-none").hidden = list.length > 0;
  return list.length > 0;
}

const holders = el("lease-holders") ? poll(drawHolders, { fastMs: 5000, slowMs: 30000 }) : null;

export { drawChosenBy };
