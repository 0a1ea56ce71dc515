/* Team: members with their figures, roles and quotas; adding an existing account by its exact username; invite links. */

import { ApiError, config, del, get, patch, post } from "./api.js";
import { el, node } from "./dom.js";
import { percent } from "./format.js";

const ROLES = config.roles;
const number = (value) => (value === null ? "–" : String(value));

function report(id, failure) {
  if (!(failure instanceof ApiError)) throw failure;
  el(id).textContent = failure.reasons;
}

function spark(activity) {
  const top = Math.max(1, ...activity.map((d) => d.votes));
  const box = node("span", { className: "spark", title: activity.map((d) => `${d.day}: ${d.votes}`).join("\n") });
  box.append(...activity.map((d) => node("span", { style: `height:${Math.round((24 * d.votes) / top)}px` })));
  return box;
}

function memberRow(row) {
  const cells = [node("td", { text: row.username })];
  if (row.membership_id === null) {
    cells.push(node("td", { className: "muted", text: "removed" }), node("td"));
  } else {
    const role = node("select", { "aria-label": `Role of ${row.username}` });
    role.append(...ROLES.map((r) => node("option", { value: r, text: r, selected: r === row.role })));
    role.addEventListener("change", () => change(row, { role: role.value }));
    const quota = node("input", {
      type: "number",
      min: 0,
      "aria-label": `Quota of ${row.username}`,
      value: row.quota_votes === null ? "" : row.quota_votes,
      style: "width:90px",
    });
    quota.addEventListener("change", () => change(row, { quota_votes: quota.value === "" ? null : Number(quota.value) }));
    cells.push(node("td", {}, role), node("td", { className: "num" }, quota));
  }
  cells.push(
    node("td", { className: "num", text: row.votes }),
    node("td", { className: "num", text: row.skips }),
    node("td", { className: "num", text: percent(row.unsure_share) }),
    node("td", { className: "num", text: number(row.median_seconds) }),
    node("td", { className: "num", text: percent(row.agreement) }),
    node("td", { className: "num", text: row.reliability === null ? "–" : row.reliability.toFixed(2) }),
    node("td", { className: "num", text: row.reviews }),
    node("td", {}, spark(row.activity)),
  );
  if (row.membership_id !== null && row.role !== "owner") {
    const remove = node("button", { type: "button", text: "Remove", "aria-label": `Remove ${row.username}` });
    remove.addEventListener("click", async () => {
      if (!confirm(`Remove ${row.username}? Their votes are kept.`)) return;
      try {
        await del(`members/${row.membership_id}/`);
        await load();
      } catch (failure) {
        report("members-error", failure);
      }
    });
    cells.push(node("td", {}, remove));
  } else {
    cells.push(node("td"));
  }
  return node("tr", { "data-username": row.username }, ...cells);
}

async function change(row, body) {
  el("members-error").textContent = "";
  try {
    await patch(`members/${row.membership_id}/`, body);
  } catch (failure) {
    report("members-error", failure);
  }
  await load();
}

function inviteRow(invite) {
  const cells = [
    invite.role,
    invite.email || "–",
    new Date(invite.created_at).toLocaleString(),
    new Date(invite.expires_at).toLocaleString(),
    invite.used_by ? `used by ${invite.used_by}` : invite.state,
  ].map((text) => node("td", { text }));
  const action = node("td");
  if (invite.state === "open") {
    const revoke = node("button", { type: "button", text: "Revoke" });
    revoke.addEventListener("click", async () => {
      await del(`invites/${invite.id}/`);
      await load();
    });
    action.append(revoke);
  }
  return node("tr", {}, ...cells, action);
}

async function load() {
  const [figures, invites] = await Promise.all([get("team/"), get("invites/")]);
  document.querySelector("#members tbody").replaceChildren(...figures.map(memberRow));
  document.querySelector("#invites tbody").replaceChildren(...invites.results.map(inviteRow));
}

el("add-member").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  el("add-error").textContent = "";
  const quota = form.elements.quota_votes.value;
  try {
    await post("members/", {
      username: form.elements.username.value.trim(),
      role: form.elements.role.value,
      quota_votes: quota === "" ? null : Number(quota),
    });
    form.reset();
    await load();
  } catch (failure) {
    report("add-error", failure);
  }
});

el("invite-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  el("invite-error").textContent = "";
  try {
    const invite = await post("invites/", {
      role: form.elements.role.value,
      email: form.elements.email.value,
      days: Number(form.elements.days.value),
    });
    el("invite-url").textContent = invite.url;
    el("new-invite").hidden = false;
    await load();
  } catch (failure) {
    report("invite-error", failure);
  }
});

load();
