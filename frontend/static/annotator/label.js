/* The labeling page: one face, keyboard answers; the queue, the outbox and the key guards are
the shared face queue's (faces.js).

Keys: the class keys answer at once; U switches to "unsure" where class keys toggle a
candidate set and Enter confirms it (Esc leaves); S skips; Z or Backspace undoes the last vote.
Votes carry a client id, so a retried submit after a lost response counts once, and this tab's
id, so the server tells this tab's faces from another tab's of the same user.
*/

import { config, get, poll, post, setMeter, tab, uuid } from "./api.js";
import { el, node } from "./dom.js";
import { createFaceQueue, KEYS } from "./faces.js";
import { describeJob, labelName } from "./format.js";
import { keepLeases } from "./leases.js";

const buttons = new Map();
let unsure = false;
const candidates = new Set();
let lastSeen = null; // the cycle and model version the page saw last, to notice new ones
let waiting = ""; // the server's reason why no batch is open, if none is

const faces = createFaceQueue({
  name: "votes",
  fetchFaces: (count) => post("next-faces/", { count, tab }),
  keyOf: (f) => String(f.face),
  onShow,
  onSaved: () => progress.poke(),
  emptyText: () => `${waiting || "No faces for you right now."} New ones appear here on their own.`,
  loadingText: "Loading faces…",
  onEmpty: () => progress?.poke(), // ask the server why, so the page says it in a sentence
});

function buildButtons() {
  const container = el("classes");
  for (const cls of config.classes) {
    const button = node(
      "button",
      { type: "button", className: "class-button", "aria-keyshortcuts": cls.key, "aria-label": `${cls.name} (key ${cls.key})` },
      node("kbd", { text: cls.key.toUpperCase() }),
      node("span", { text: cls.name }),
    );
    button.style.setProperty("--class-color", cls.color);
    button.addEventListener("click", () => chooseClass(cls.index));
    container.appendChild(button);
    buttons.set(cls.index, button);
  }
  const hints = el("hints");
  const entries = config.classes.map((c) => [c.key.toUpperCase(), c.name]);
  entries.push([KEYS.unsure.toUpperCase(), "unsure: pick several classes"], ["Enter", "confirm the candidates"], ["Esc", "leave unsure"]);
  entries.push([KEYS.skip.toUpperCase(), "skip this face"], [`${KEYS.undo.toUpperCase()} / ⌫`, "undo your last vote"]);
  hints.append(...entries.map(([key, text]) => node("li", {}, node("kbd", { text: key }), " ", node("span", { text }))));
}

function onShow(current) {
  setUnsure(false);
  const open = Boolean(current) && !current.final;
  for (const button of [...buttons.values(), el("unsure"), el("skip")]) button.disabled = !open;
  showSuggestion();
  const confirmLink = el("confirm-link"); // rendered only where confirmations are offered
  if (confirmLink) confirmLink.hidden = Boolean(current) || faces.signedOut;
}

function showSuggestion() {
  const box = el("suggestion");
  const current = faces.current;
  const suggestion = current?.suggestion;
  const on = el("show-suggestion").checked && suggestion !== null && suggestion !== undefined;
  box.hidden = !on;
  if (on) box.textContent = `Model suggests: ${labelName(suggestion)}`;
}

function setUnsure(on) {
  unsure = on;
  candidates.clear();
  el("unsure").setAttribute("aria-pressed", String(on));
  el("confirm").hidden = !on;
  el("mode").textContent = on ? "Unsure: choose every plausible class, then press Enter." : "";
  for (const button of buttons.values()) {
    button.classList.remove("chosen");
    if (on) button.setAttribute("aria-pressed", "false");
    else button.removeAttribute("aria-pressed");
  }
}

function chooseClass(index) {
  if (!faces.current || faces.current.final) return;
  if (!unsure) return answer("label", [index]);
  const button = buttons.get(index);
  if (candidates.has(index)) candidates.delete(index);
  else candidates.add(index);
  button.classList.toggle("chosen", candidates.has(index));
  button.setAttribute("aria-pressed", String(candidates.has(index)));
}

function confirmUnsure() {
  if (candidates.size < 2) return faces.showMessage("Pick at least two plausible classes, or press Esc.");
  answer(
    "unsure",
    Array.from(candidates).sort((a, b) => a - b),
  );
}

function answer(kind, classes) {
  const current = faces.current;
  if (!current) return;
  faces.answer("votes/", {
    client_id: uuid(),
    face: current.face,
    kind,
    classes,
    tab,
    time_spent_ms: faces.timeSpentMs(),
  });
}

async function undo() {
  const result = await faces.undo("votes/undo/", { tab }, (undone) => undone.face);
  if (!result) return;
  faces.showMessage("Your last vote was undone.");
  progress.poke();
}

/** The side panel: budget, the batch (or what happens between batches), the model, running jobs. */
function drawProgress(p) {
  el("budget-text").textContent = p.budget.sentence;
  setMeter(el("budget-meter"), p.votes_spent, p.budget_votes);
  const c = p.cycle;
  if (!c) el("cycle-text").textContent = "labeling has not started";
  else if (c.state === "labeling")
    el("cycle-text").textContent =
      `cycle ${c.number}: ${c.faces_complete} of ${c.faces} faces done` +
      (c.selected_by ? ` · chosen by model ${c.selected_by}` : "") +
      (c.provisional ? " (the model in training takes over the faces nobody started)" : "");
  else el("cycle-text").textContent = `cycle ${c.number}: all ${c.faces} faces done · ${c.state_label.toLowerCase()}`;
  setMeter(el("cycle-meter"), c ? c.votes_received : 0, c ? c.votes_needed : 0);
  el("model-text").textContent = p.model_version ? `version ${p.model_version}` : "none trained yet";
  el("jobs-text").textContent = (p.jobs || []).map((job) => describeJob(job)).join("\n") || "none running";
  el("own-count").textContent = p.quota_votes === null ? `${p.own_votes}` : `${p.own_votes} of ${p.quota_votes}`;
  waiting = p.waiting ? p.waiting.message : "";
  el("face-status").dataset.waiting = p.waiting ? p.waiting.reason : "";
  faces.refreshStatus();
  const seenNow = `${c ? c.number : ""}/${c ? c.state : ""}/${p.model_version}`;
  const changed = lastSeen !== null && lastSeen !== seenNow;
  lastSeen = seenNow;
  if (changed) faces.reopen(); // a new batch or model: ask for faces now rather than at the next back-off
  // While faces are held elsewhere, keep the "free in N s" of the sentence current.
  return changed || (p.jobs || []).length > 0 || Boolean(p.waiting?.free_in_seconds);
}

const progress = poll(async () => {
  if (faces.signedOut) return false;
  try {
    return drawProgress(await get(`progress/?tab=${encodeURIComponent(tab)}`));
  } catch (error) {
    if (!error.signedOut) faces.showMessage(`Could not load progress: ${error.message}`);
    return false;
  }
});

/** The answer a key gives: a class, the unsure set (Enter, in unsure mode), or a skip. */
function answerFor(key) {
  const cls = config.classes.find((c) => c.key === key);
  if (cls) return () => chooseClass(cls.index);
  if (key === "enter" && unsure) return confirmUnsure;
  if (key === KEYS.skip) return () => answer("skip", []);
  return null;
}

function actionFor(key) {
  if (key === KEYS.unsure) return () => setUnsure(!unsure);
  if (key === "escape" && unsure) return () => setUnsure(false);
  return null;
}

buildButtons();
el("unsure").addEventListener("click", () => setUnsure(!unsure));
el("confirm").addEventListener("click", confirmUnsure);
el("skip").addEventListener("click", () => answer("skip", []));
el("undo").addEventListener("click", undo);
el("show-suggestion").addEventListener("change", showSuggestion);
// A control pressed from the keyboard hands the keys back to the face: left focused, the next Enter
// or Space would press it again instead of answering (a mouse click already leaves no focus).
const stage = document.querySelector(".stage");
stage.tabIndex = -1;
stage.addEventListener("click", (event) => event.detail === 0 && event.target.closest("button") && stage.focus());
el("show-suggestion").addEventListener("change", () => stage.focus());
faces.bindKeys({ answerFor, actionFor, undo });
keepLeases(faces, String);
faces.start();
