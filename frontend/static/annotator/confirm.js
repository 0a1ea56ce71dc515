/* The confirm page: the model's confident pseudo-labels, one face at a time, one key each.

Keys: Y or Enter confirms the model's class, N rejects it, Z or Backspace undoes the last
answer. The queue, the outbox and the key guards are the shared face queue's (faces.js); answers
carry a client id, so a retried submit after a lost response counts once. The server holds the
offers it sends for this annotator for the lease time; when someone else answered one first
anyway (after the hold ran out), the face comes back with the reason and Esc moves on.
*/

import { config, get, uuid } from "./api.js";
import { el } from "./dom.js";
import { createFaceQueue } from "./faces.js";
import { percent } from "./format.js";

const NONE_YET = "No confident pseudo-labels yet: they appear after a semi-supervised training, here, without a reload.";
const NONE_LEFT = "No confident pseudo-labels left for you. New ones appear here after the next semi-supervised training.";

const counts = { confirmed: 0, rejected: 0 };
let answered = 0;

const faces = createFaceQueue({
  name: "offers",
  // answers sent so far are no longer open, so the server leaves them out
  fetchFaces: async (count) => {
    await faces.settled();
    return get(`offers/next/?count=${count}`);
  },
  keyOf: (offer) => `offer-${offer.id}`,
  onShow,
  onSaved: (_entry, stored) => {
    answered += 1;
    count(stored.state, 1);
  },
  emptyText: () => (answered ? NONE_LEFT : NONE_YET),
  loadingText: "Loading the model's guesses…",
});

function onShow(current) {
  const open = Boolean(current) && !current.final;
  el("accept").disabled = el("reject").disabled = !open;
  el("claim").hidden = !current;
  if (!current) {
    delete el("face").dataset.offer;
    return;
  }
  el("face").dataset.offer = String(current.id);
  const cls = config.classes[current.class_index];
  el("claim").style.setProperty("--class-color", cls ? cls.color : "");
  el("claim-class").textContent = current.class_name;
  el("claim-confidence").textContent = percent(current.confidence);
}

function answer(accept) {
  const offer = faces.current;
  if (!offer) return;
  faces.answer(`offers/${offer.id}/answer/`, { client_id: uuid(), accept, time_spent_ms: faces.timeSpentMs() });
}

function count(state, delta) {
  if (!(state in counts)) return;
  counts[state] = Math.max(0, counts[state] + delta);
  el(`${state}-count`).textContent = String(counts[state]);
}

async function undo() {
  const result = await faces.undo("offers/undo/", undefined, (undone) => undone.offer);
  if (!result) return;
  count(result.undone, -1);
  answered = Math.max(0, answered - 1);
  faces.showMessage(`Your last answer (${result.undone}) was undone.`);
}

/** Y or Enter confirms the model's class, N rejects it. */
function answerFor(key) {
  if (key === "y" || key === "enter") return () => answer(true);
  if (key === "n") return () => answer(false);
  return null;
}

el("accept").addEventListener("click", () => answer(true));
el("reject").addEventListener("click", () => answer(false));
el("undo").addEventListener("click", undo);
faces.bindKeys({ answerFor, undo });
faces.start();
