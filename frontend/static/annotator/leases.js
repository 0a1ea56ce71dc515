/* A labeling tab's leases: kept while the tab is in use, given back as soon as it is not.

The server holds each face this tab shows or prefetched under a short lease (the project's
`lease_seconds`, 90 s by default). This module renews them every third of that while the page is
open (a heartbeat), and learns from each renewal which faces the server still holds for the tab:
one it took back (the lease lapsed and another tab or annotator got it, or an owner released it)
leaves the screen, so one face never shows in two tabs. A tab hidden for a third of a lease, or
closed, gives its faces back at once with `navigator.sendBeacon` (the CSRF token in the form,
since a beacon cannot set headers), so an idle tab never stalls the team; back in view, it asks
for faces again. A visible tab nobody touched (no key, click or pointer movement) for the server's
`idle_release_seconds` was left open by someone who walked away: it gives its faces back too, and
asks again at the next touch. Signing out gives back all of the user's faces on the server's side.
*/

import { beacon, config, post, tab } from "./api.js";

const HIDDEN_TEXT = "This tab was away, so it gave its faces back to the team. New ones come as soon as you return.";
const CLOSED_TEXT = "This tab gave its faces back.";
const IDLE_TEXT = "You were away, so this tab gave its faces back to the team. Press any key to go on.";
const ACTIVITY_EVENTS = ["keydown", "pointerdown", "pointermove", "wheel", "touchstart"];

/**
 * Keep `faces`' leases (a queue from faces.js) alive while the tab is in use.
 *
 * @param {object} faces the page's face queue.
 * @param {(faceId: number) => string} keyOf the queue's key of a face id.
 */
function keepLeases(faces, keyOf) {
  const timing = { ...config.lease };
  let heartbeat = null;
  let hiddenTimer = null;
  let released = false;
  let lastActivity = Date.now();

  function schedule() {
    clearTimeout(heartbeat);
    heartbeat = setTimeout(renew, timing.heartbeat_seconds * 1000);
  }

  async function renew() {
    clearTimeout(heartbeat);
    if (!released && Date.now() - lastActivity > timing.idle_release_seconds * 1000) {
      release(IDLE_TEXT);
    }
    if (!released && !faces.signedOut) {
      const sent = faces.heldKeys();
      try {
        const held = await post("leases/renew/", { tab });
        timing.heartbeat_seconds = held.heartbeat_seconds;
        timing.hidden_release_seconds = held.hidden_release_seconds;
        timing.idle_release_seconds = held.idle_release_seconds;
        if (!released) faces.dropLost(sent, new Set(held.faces.map(keyOf)));
      } catch {
        // A lost heartbeat: the lease outlives two of them, and the next one tries again.
      }
    }
    schedule();
  }

  function giveBack() {
    beacon("leases/release/", { tab });
  }

  function release(reason) {
    clearTimeout(hiddenTimer);
    if (released) return;
    released = true;
    giveBack();
    faces.park(reason, giveBack);
  }

  function comeBack() {
    if (released) {
      released = false;
      faces.unpark();
    }
    renew();
  }

  document.addEventListener("visibilitychange", () => {
    clearTimeout(hiddenTimer);
    if (document.hidden) hiddenTimer = setTimeout(() => release(HIDDEN_TEXT), timing.hidden_release_seconds * 1000);
    else comeBack();
  });
  for (const type of ACTIVITY_EVENTS) {
    document.addEventListener(
      type,
      () => {
        lastActivity = Date.now();
        if (released && !document.hidden) comeBack();
      },
      { passive: true, capture: true },
    );
  }
  window.addEventListener("pagehide", () => release(CLOSED_TEXT));
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) comeBack(); // restored from the back-forward cache after a pagehide
  });
  schedule();
}

export { keepLeases };
