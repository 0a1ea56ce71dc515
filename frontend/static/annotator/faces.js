/* The face queue the labeling and confirm pages share: one face on screen, the next ones
prefetched, answers sent in order, and guards so that no answer is lost and none is given by accident.

- Every answer goes to an outbox in sessionStorage before it is sent, and leaves it only once
  the server stored or refused it. A lost connection retries with back-off for as long as it
  takes; a reload or a sign-in sends what is left before any new face is asked for.
- A refused answer brings its face back on screen with the server's reason. When the face can
  take no answer any more (it has all its votes, the budget or the quota is spent), Esc or the
  "Go on" button moves on.
- A 401 or 403 means the session ended: the queue stops, the unsent answers stay in the outbox,
  and a sign-in link comes back to this page. The page also checks on its own, with back-off,
  whether the user signed in again in another tab, and then sends them.
- While no face is left, the page asks again with back-off, so a new batch (or the faces the
  server hands out while the next model trains) appears without a reload.
- A page that keeps leases (the labeling page, leases.js) can drop the faces the server took
  back (`dropLost`), and park the queue while its tab is away (`park`, `unpark`): a parked
  queue shows nothing and asks for nothing, so a hidden tab never holds faces.
- Keys: modifier chords, text fields and auto-repeat never answer; a face answers to a key only
  after it has been on screen for the project's `min_face_ms`; a mouse click leaves no focused
  button behind for Space or Enter to press again.
*/

import { config, get, poll, post, preload, signInUrl } from "./api.js";
import { el } from "./dom.js";

const PREFETCH = 3;
const RETRY_DELAYS_MS = [500, 1500, 4000, 10000];
const FINAL_CODES = new Set(["face_not_available", "budget_spent", "quota_reached", "conflict"]);
const STOP_CODES = new Set(["budget_spent", "quota_reached"]);
const MAX_TIME_SPENT_MS = 3600000;
/** The key for each action the server reserves ("unsure", "skip", "undo", ...), so no class takes it. */
const KEYS = Object.fromEntries(Object.entries(config.reservedKeys).map(([key, action]) => [action, key]));
const NON_TEXT_INPUTS = new Set(["checkbox", "radio", "button", "submit", "reset", "range", "color", "file", "image"]);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** True for controls where typed characters are text, so keys there never answer. */
function isTextField(target) {
  if (!(target instanceof Element)) return false;
  if (target.isContentEditable || target.closest("textarea, select")) return true;
  const input = target.closest("input");
  return Boolean(input) && !NON_TEXT_INPUTS.has(input.type);
}

/** Buttons in `container` never keep the focus from a mouse click, so Space or Enter can't press them again. */
function noFocusOnClick(container) {
  container.addEventListener("mousedown", (event) => {
    if (event.target.closest("button")) event.preventDefault();
  });
  container.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (button && event.detail > 0) button.blur();
  });
}

/**
 * @param {object} options
 * @param {string} options.name what the outbox holds ("votes", "offers"), part of its storage key.
 * @param {(count: number) => Promise<object[]>} options.fetchFaces the next faces (each with `image_url`).
 * @param {(face: object) => string} options.keyOf a face's identity, to never show one twice.
 * @param {(face: object|null) => void} options.onShow draws the page's own parts for `face`.
 * @param {(entry: object, stored: object) => void} options.onSaved after the server stored an answer.
 * @param {() => string} options.emptyText shown while no face is left.
 * @param {string} options.loadingText shown while faces load.
 * @param {() => void} [options.onEmpty] called when no face is left to show (the page may ask why).
 */
const ASK_AGAIN_MS = 250;

function createFaceQueue(options) {
  const face = el("face");
  const status = el("face-status");
  const message = el("message");
  const storageKey = `faceloop.outbox.${config.projectId}.${options.name}`;
  const outbox = JSON.parse(sessionStorage.getItem(storageKey) || "[]");
  const queue = []; // faces waiting to be shown, images preloaded
  const seen = new Set(outbox.map((entry) => options.keyOf(entry.face)));
  let current = null;
  let shownAt = 0;
  let fetching = false;
  let empty = false;
  let stopped = ""; // why no face is asked for any more (budget spent, quota reached)
  let signedOut = false;
  let flushing = false;
  let waiting = null; // the poll asking for faces while none is left
  let signInCheck = null; // the poll checking for a new session after a sign-out
  let parked = ""; // why this tab holds no face (it was away and gave them back); "" while active
  let onLateFaces = null; // gives back faces a request in flight got after the tab parked

  const save = () => sessionStorage.setItem(storageKey, JSON.stringify(outbox));

  function showMessage(text) {
    message.textContent = text;
  }

  function show(next) {
    current = next || null;
    el("dismiss").hidden = !current?.final;
    if (!current) {
      face.hidden = true;
      delete face.dataset.face;
      status.textContent = signedOut ? "" : parked || (empty || stopped ? stopped || options.emptyText() : options.loadingText);
      options.onShow(null);
      if (!signedOut && !stopped && !parked) empty ? waitForFaces() : refill();
      if (empty && !parked) options.onEmpty?.();
      return;
    }
    face.src = current.image_url;
    face.alt = `Face ${current.face}`;
    face.hidden = false;
    face.dataset.face = String(current.face);
    status.textContent = "";
    shownAt = performance.now();
    if (current.refusal) showMessage(current.refusal);
    options.onShow(current);
    refill();
  }

  async function refill() {
    if (fetching || signedOut || stopped || parked || queue.length >= PREFETCH) return;
    fetching = true;
    const answersInFlight = outbox.length > 0;
    let askAgain = false;
    try {
      const faces = await options.fetchFaces(PREFETCH + 1);
      if (parked) {
        // The tab gave its faces back while this request was on its way: give these back too.
        if (faces.length) onLateFaces?.();
        return;
      }
      const fresh = faces.filter((f) => !seen.has(options.keyOf(f)));
      for (const f of fresh) seen.add(options.keyOf(f));
      queue.push(...(await Promise.all(fresh.map(preload))));
      // The server still holds this tab's faces whose answers are on their way: those are
      // not "none left", so ask again shortly instead of telling the labeler to wait.
      askAgain = !fresh.length && faces.length > 0 && answersInFlight;
      empty = !current && !queue.length && !askAgain;
    } catch (error) {
      if (error.signedOut) return signOut();
      showMessage(`Could not load faces: ${error.message}`);
      empty = !current && !queue.length;
    } finally {
      fetching = false;
    }
    if (askAgain && !current && !queue.length) {
      setTimeout(refill, ASK_AGAIN_MS);
      return;
    }
    if (!current && !signedOut && !parked) show(queue.shift());
  }

  /** Ask for faces again and again, with back-off, until some come (a new batch, a new model's batch). */
  function waitForFaces() {
    if (waiting) return;
    waiting = poll(
      async () => {
        if (current || signedOut || stopped || parked) {
          waiting.stop();
          waiting = null;
          return false;
        }
        await refill();
        if (current) {
          waiting.stop();
          waiting = null;
        }
        return false;
      },
      { fastMs: 1000, slowMs: 10000, factor: 1.5 },
    );
  }

  /** Record an answer for the face on screen and show the next face at once. */
  function answer(path, body) {
    if (!current || current.final || signedOut) return false;
    const answered = { ...current };
    delete answered.refusal;
    outbox.push({ path, body, face: answered });
    save();
    showMessage("");
    show(queue.shift());
    flush();
    return true;
  }

  /** Send the outbox in order; never drop an answer the server did not store or refuse. */
  async function flush() {
    if (flushing) return;
    flushing = true;
    let attempt = 0;
    try {
      while (outbox.length && !signedOut) {
        const entry = outbox[0];
        try {
          const stored = await post(entry.path, entry.body);
          outbox.shift();
          save();
          attempt = 0;
          options.onSaved(entry, stored);
        } catch (error) {
          if (error.signedOut) {
            signOut();
            break;
          }
          // No answer, or 429 (answers faster than the server's rate limit): keep it and send again.
          if (!error.status || error.status === 429) {
            const delay = RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length - 1)];
            attempt += 1;
            const why = error.status ? "Too many answers at once" : "Connection lost";
            if (attempt > 2) showMessage(`${why}: ${outbox.length} answer(s) kept here, sending again in ${delay / 1000} s.`);
            await sleep(delay);
            continue;
          }
          outbox.shift();
          save();
          refuse(entry, error);
        }
      }
    } finally {
      flushing = false;
    }
    if (!signedOut && queue.length < PREFETCH) refill();
  }

  /** Put a refused answer's face back on screen with the reason. */
  function refuse(entry, error) {
    const final = FINAL_CODES.has(error.code) || error.status === 409;
    const back = {
      ...entry.face,
      final,
      refusal:
        `Your answer for face ${entry.face.face} was not saved: ${error.message}.` +
        (final ? " Press Esc or Go on to continue." : " Please answer it again."),
    };
    if (STOP_CODES.has(error.code)) {
      stopped =
        error.code === "budget_spent"
          ? "The budget is spent: labeling is over. Thank you!"
          : "You reached your vote quota for this project. Thank you!";
      queue.length = 0;
    } else if (current) queue.unshift(current);
    show(back);
  }

  /** Leave a face that can take no answer (Esc or "Go on"). */
  function dismiss() {
    if (!current?.final) return false;
    showMessage("");
    show(queue.shift());
    return true;
  }

  function signOut() {
    if (signedOut) return;
    signedOut = true;
    if (current) queue.unshift(current);
    current = null;
    face.hidden = true;
    el("dismiss").hidden = true;
    showMessage("");
    const notice = el("signed-out");
    notice.querySelector("a").href = signInUrl();
    notice.querySelector("[data-count]").textContent = outbox.length
      ? `${outbox.length} answer${outbox.length === 1 ? " is" : "s are"} kept in this tab and sent once you are back.`
      : "No answer of yours is lost.";
    notice.hidden = false;
    status.textContent = "";
    options.onShow(null);
    signInCheck = poll(
      async () => {
        await get(""); // throws while still signed out
        resume();
        return false;
      },
      { fastMs: 3000, slowMs: 15000, factor: 1.5 },
    );
  }

  function resume() {
    signInCheck.stop();
    signedOut = false;
    el("signed-out").hidden = true;
    flush();
    show(queue.shift());
  }

  /** Undo's face comes back to the front (the one on screen goes behind it). */
  function putBack(face) {
    if (current) queue.unshift(current);
    seen.add(options.keyOf(face));
    empty = false;
    show(face);
  }

  /** Resolves once every answer given so far was stored or refused (undo waits for this). */
  async function settled() {
    while ((outbox.length || flushing) && !signedOut) await sleep(50);
  }

  /**
   * Undo this annotator's last answer once every answer before it is settled, and show its face again.
   *
   * @param {string} path the page's undo endpoint.
   * @param {(result: object) => object} faceOf the face to show again, from the server's answer.
   * @returns {Promise<object|null>} the server's answer, or null when it refused (its reason is shown).
   */
  async function undo(path, body, faceOf) {
    await settled();
    let result;
    try {
      result = await post(path, body);
    } catch (error) {
      showMessage(error.message);
      return null;
    }
    const face = faceOf(result);
    if (face) putBack(face);
    return result;
  }

  /** Milliseconds the face on screen has been shown. The API refuses over an hour (its limit):
   * a longer pause is sent as an hour, and the answer kept. */
  function timeSpentMs() {
    return Math.min(Math.round(performance.now() - shownAt), MAX_TIME_SPENT_MS);
  }

  /** Modifier chords, text fields and auto-repeat never count as answers. */
  function keyAllowed(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || isTextField(event.target)) return false;
    if (event.repeat) {
      event.preventDefault();
      return false;
    }
    return true;
  }

  /** Whether the face on screen was shown long enough for a key to answer it (`min_face_ms`). */
  function shownLongEnough() {
    return performance.now() - shownAt >= (config.minFaceMs || 0);
  }

  /**
   * The page's keys, with the guards every face page shares.
   *
   * An answer key runs only once the face was on screen for `min_face_ms` (earlier, it is a
   * double press or a key held over from the last face, and does nothing). Esc leaves a face
   * that takes no answer, and the undo key or Backspace runs `undo`, unless the page's own
   * action for that key did something.
   *
   * @param {object} keys
   * @param {(key: string) => (() => void)|null} keys.answerFor the answer `key` gives, if any.
   * @param {(key: string) => (() => boolean)|null} [keys.actionFor] another page action for `key`;
   *   it returns false when it did nothing.
   * @param {() => void} keys.undo undoes the last answer.
   */
  function bindKeys({ answerFor, actionFor = () => null, undo: undoLast }) {
    document.addEventListener("keydown", (event) => {
      if (!keyAllowed(event)) return;
      const key = event.key.toLowerCase();
      const answerNow = answerFor(key);
      if (answerNow) {
        event.preventDefault();
        if (shownLongEnough()) answerNow();
        return;
      }
      const action = actionFor(key);
      let handled = action ? action() !== false : false;
      if (!handled && key === "escape") handled = dismiss();
      else if (!handled && (key === KEYS.undo || key === "backspace")) {
        undoLast();
        handled = true;
      }
      if (handled) event.preventDefault();
    });
  }

  /** Keys of the faces this tab shows or will show, which the server should still hold for it. */
  function heldKeys() {
    const faces = current && !current.final ? [current, ...queue] : [...queue];
    return faces.map((f) => options.keyOf(f));
  }

  /**
   * Stop showing the faces of `sent` the server no longer holds for this tab (`held`): their
   * lease lapsed and another tab or annotator has them, or an owner released them. Faces that
   * came or were answered after `sent` was taken are left alone.
   */
  function dropLost(sent, held) {
    const lost = new Set(sent.filter((key) => !held.has(key)));
    if (!lost.size) return 0;
    const before = queue.length;
    const kept = queue.filter((f) => !lost.has(options.keyOf(f)));
    queue.length = 0;
    queue.push(...kept);
    for (const key of lost) seen.delete(key);
    let dropped = before - kept.length;
    if (current && !current.final && lost.has(options.keyOf(current))) {
      dropped += 1;
      showMessage(`Face ${current.face} went back to the queue while this tab was away; here is the next one.`);
      show(queue.shift());
    } else if (!current && !signedOut) refill();
    return dropped;
  }

  /**
   * The tab gave its faces back (it was hidden a while): show none and ask for none until `unpark`.
   *
   * @param {string} reason shown instead of a face.
   * @param {() => void} giveBack gives back faces a request already on its way still gets.
   */
  function park(reason, giveBack) {
    parked = reason;
    onLateFaces = giveBack;
    for (const f of [current, ...queue]) if (f && !f.final) seen.delete(options.keyOf(f));
    queue.length = 0;
    current = null;
    empty = false;
    waiting?.stop();
    waiting = null;
    show(null);
  }

  /** The tab is back: ask for faces again. */
  function unpark() {
    if (!parked) return;
    parked = "";
    if (!current) show(queue.shift());
  }

  el("dismiss").addEventListener("click", dismiss);
  noFocusOnClick(document.querySelector(".stage"));

  async function start() {
    await flush();
    if (!signedOut) show(queue.shift());
  }

  return {
    start,
    answer,
    dismiss,
    settled,
    undo,
    timeSpentMs,
    bindKeys,
    refill,
    showMessage,
    get current() {
      return current;
    },
    get signedOut() {
      return signedOut;
    },
    get stopped() {
      return stopped;
    },
    get parked() {
      return Boolean(parked);
    },
    heldKeys,
    dropLost,
    park,
    unpark,
    /** A new batch or model version: ask for faces now rather than at the next back-off. */
    reopen() {
      if (!current && !signedOut && !stopped) refill();
    },
    /** Redraw the "no face" text (the page learned why none is open). */
    refreshStatus() {
      if (!current && !signedOut && !parked && (empty || stopped)) status.textContent = stopped || options.emptyText();
    },
  };
}

export { createFaceQueue, KEYS };
