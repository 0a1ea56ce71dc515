/* The confirm page: the model's confident pseudo-labels, one face at a time, one key each.

Keys: Y or Enter confirms the model's class, N rejects it, Z or Backspace undoes the last
answer. Offers are prefetched; answers are sent in order, each with a client id, so a retried
submit after a lost response counts once. The server holds the offers it sends for this
annotator for the lease time; when someone else answered one first anyway (after the hold ran
out), the face is simply passed.
*/
"use strict";

(function () {
  const { config, post, get, uuid, preload } = window.FaceLoop;
  const PREFETCH = 3;
  const RETRY_DELAYS_MS = [500, 1500, 4000];
  const NONE_YET = "No confident pseudo-labels yet: they appear after a semi-supervised training.";
  const NONE_LEFT = "No confident pseudo-labels left for you. New ones appear after the next semi-supervised training.";

  const el = (id) => document.getElementById(id);
  const face = el("face");
  const status = el("face-status");
  const message = el("message");
  const queue = []; // offers waiting to be shown, images preloaded
  const seen = new Set(); // offer ids shown, queued or answered on this page
  const counts = { confirmed: 0, rejected: 0 };
  let current = null;
  let shownAt = 0;
  let fetching = false;
  let exhausted = false;
  let answered = 0;
  let pending = Promise.resolve();

  async function refill() {
    if (fetching || exhausted || queue.length >= PREFETCH) return;
    fetching = true;
    try {
      await pending; // answers sent so far are no longer open, so the server leaves them out
      const offers = await get(`offers/next/?count=${PREFETCH + 1}`);
      const fresh = offers.filter((o) => !seen.has(o.id));
      fresh.forEach((o) => seen.add(o.id));
      queue.push(...(await Promise.all(fresh.map(preload))));
      if (!fresh.length && !current && !queue.length) exhausted = true;
    } catch (error) {
      showMessage(`Could not load the model's guesses: ${error.message}`);
    } finally {
      fetching = false;
    }
    if (!current) showNext();
  }

  function showNext() {
    current = queue.shift() || null;
    el("accept").disabled = el("reject").disabled = !current;
    el("claim").hidden = !current;
    if (!current) {
      face.hidden = true;
      delete face.dataset.offer;
      status.textContent = exhausted ? (answered ? NONE_LEFT : NONE_YET) : "Loading the model's guesses…";
      if (!exhausted) refill();
      return;
    }
    face.src = current.image_url;
    face.alt = `Face ${current.item}`;
    face.hidden = false;
    face.dataset.offer = String(current.id);
    face.dataset.item = String(current.item);
    status.textContent = "";
    const cls = config.classes[current.class_index];
    el("claim").style.setProperty("--class-color", cls ? cls.color : "");
    el("claim-class").textContent = current.class_name;
    el("claim-confidence").textContent = `${Math.round(100 * current.confidence)}%`;
    shownAt = performance.now();
    refill();
  }

  function answer(accept) {
    if (!current) return;
    // The API refuses over an hour (its limit): a longer pause is sent as an hour, the answer kept.
    const spent = Math.min(Math.round(performance.now() - shownAt), 3600000);
    const body = { client_id: uuid(), accept, time_spent_ms: spent };
    const offer = current;
    pending = pending.then(() => submit(offer, body));
    showMessage("");
    showNext();
  }

  async function submit(offer, body, attempt = 0) {
    try {
      const stored = await post(`offers/${offer.id}/answer/`, body);
      answered += 1;
      count(stored.state, 1);
    } catch (error) {
      if (!error.status && attempt < RETRY_DELAYS_MS.length) {
        await new Promise((r) => setTimeout(r, RETRY_DELAYS_MS[attempt]));
        return submit(offer, body, attempt + 1);
      }
      const passed = error.status === 409 ? "it was passed" : "it was not saved";
      showMessage(`Face ${offer.item}: ${error.message}; ${passed}.`);
    }
  }

  function count(state, delta) {
    if (!(state in counts)) return;
    counts[state] = Math.max(0, counts[state] + delta);
    el(`${state}-count`).textContent = String(counts[state]);
  }

  async function undo() {
    await pending;
    try {
      const result = await post("offers/undo/");
      count(result.undone, -1);
      answered = Math.max(0, answered - 1);
      if (current) queue.unshift(current);
      queue.unshift(result.offer);
      seen.add(result.offer.id);
      exhausted = false;
      showNext();
      showMessage(`Your last answer (${result.undone}) was undone.`);
    } catch (error) {
      showMessage(error.message);
    }
  }

  function showMessage(text) {
    message.textContent = text;
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, select, textarea")) return;
    const key = event.key.toLowerCase();
    let handled = true;
    if (key === "y" || key === "enter") answer(true);
    else if (key === "n") answer(false);
    else if (key === "z" || key === "backspace") undo();
    else handled = false;
    if (handled) event.preventDefault();
  }

  el("accept").addEventListener("click", () => answer(true));
  el("reject").addEventListener("click", () => answer(false));
  el("undo").addEventListener("click", undo);
  document.addEventListener("keydown", onKey);
  refill();
})();
