/* Review: one doubtful face at a time (held for this reviewer by the server), its votes and the
model's guess; one key sets its final label. After every action (a review, an undo, a new reason
to show) the focus goes back to the face, where the keys work: never left in the reason menu,
which takes the keys for itself, nor on a button that Enter would press again. */

import { ApiError, config, get, post } from "./api.js";
import { el, node } from "./dom.js";
import { labelName, percent } from "./format.js";

const classes = config.classes;
const REASONS = {
  disagreement: "votes disagree",
  model_disagrees: "model contradicts the label",
  low_reliability: "voted by a low-reliability annotator",
  unsure: "voted unsure",
};
let queue = [];
const skipped = new Set();
let busy = false;

/** Give the keys back to the face. */
function refocus() {
  el("review-stage").focus({ preventScroll: true });
}

function renderClasses() {
  el("classes").replaceChildren(
    ...classes.map((c) => {
      const button = node(
        "button",
        { type: "button", className: "class-button", "data-index": c.index, style: `border-left: 6px solid ${c.color}` },
        node("kbd", { text: c.key }),
        ` ${c.name}`,
      );
      button.addEventListener("click", () => {
        refocus();
        review(c.index);
      });
      return button;
    }),
  );
}

function show() {
  const current = queue[0];
  el("face").hidden = !current;
  el("empty").hidden = Boolean(current);
  if (!current) {
    el("votes").replaceChildren();
    el("summary").textContent = el("why").textContent = "";
    return;
  }
  const face = current.face;
  el("face").src = face.image_url;
  el("why").textContent = REASONS[current.reason];
  el("face-link").href = `/projects/${config.projectId}/faces/${face.id}/`;
  const total = current.class_votes.reduce((a, b) => a + b, 0) || 1;
  el("votes").replaceChildren(
    ...classes.map((c) => {
      const count = current.class_votes[c.index] || 0;
      return node(
        "li",
        {},
        node("span", { text: `${c.key} · ${c.name}` }),
        node("span", { className: "bar" }, node("span", { style: `width:${(100 * count) / total}%;background:${c.color}` })),
        node("span", { className: "num", text: String(count) }),
      );
    }),
  );
  const guess =
    face.predicted_class === null
      ? "no model guess yet"
      : `model: ${labelName(face.predicted_class)} (${percent(face.predicted_confidence)})`;
  el("summary").textContent = `Current label: ${labelName(face.final_label)} · top-vote share ${percent(face.top_vote_share)} · ${guess}`;
}

async function refill() {
  const reason = el("reason").value;
  const found = await get(`review/next/?count=5${reason ? `&reason=${reason}` : ""}`);
  const held = new Set(queue.map((c) => c.face.id));
  queue = queue.concat(found.filter((c) => !held.has(c.face.id) && !skipped.has(c.face.id)));
  show();
}

async function review(label) {
  const current = queue[0];
  if (!current || busy) return;
  busy = true;
  el("error").textContent = "";
  try {
    await post("reviews/", { face: current.face.id, label });
    el("status").textContent = `Face ${current.face.id}: ${labelName(current.face.final_label)} → ${labelName(label)}.`;
    queue.shift();
    if (queue.length < 2) await refill();
    else show();
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    el("error").textContent = failure.message;
  } finally {
    busy = false;
  }
}

async function undo() {
  if (busy) return;
  busy = true;
  try {
    const undone = await post("reviews/undo/");
    el("status").textContent = `Undone: face ${undone.face} is back to ${labelName(undone.label_before)}.`;
    skipped.delete(undone.face);
    queue = queue.filter((c) => c.face.id !== undone.face);
    const again = await get(`faces/${undone.face}/`);
    queue.unshift({ reason: "disagreement", face: again.face, class_votes: again.class_votes, candidate_set: again.candidate_set });
    show();
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    el("error").textContent = failure.message;
  } finally {
    busy = false;
  }
}

document.addEventListener("keydown", (event) => {
  if (event.target.closest("select, input") || event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key.toLowerCase();
  const chosen = classes.find((c) => c.key === key);
  if (chosen) review(chosen.index);
  else if (event.key === "Enter" && queue[0] && queue[0].face.final_label !== null) review(queue[0].face.final_label);
  else if (key === "z") undo();
  else if (key === "n" && queue[0]) {
    skipped.add(queue.shift().face.id);
    if (queue.length < 2) refill();
    else show();
  } else return;
  event.preventDefault();
});
el("reason").addEventListener("change", async () => {
  queue = [];
  await refill();
  refocus();
});

renderClasses();
refill();
