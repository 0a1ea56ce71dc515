/* The labeling page: one face, keyboard answers, prefetching, optimistic submits with retries.

Keys: the class keys answer at once; U switches to "unsure" where class keys toggle a
candidate set and Enter confirms it (Esc leaves); S skips; Z or Backspace undoes the last vote.
Votes carry a client id, so a retried submit after a lost response counts once.
*/
"use strict";

(function () {
  const { config, post, get, uuid, setMeter, preload } = window.FaceLoop;
  const PREFETCH = 3;
  const RETRY_DELAYS_MS = [500, 1500, 4000];

  const el = (id) => document.getElementById(id);
  const face = el("face");
  const status = el("face-status");
  const message = el("message");
  const buttons = new Map();
  const queue = []; // faces waiting to be shown, images preloaded
  const seen = new Set(); // item ids shown, queued or answered on this page
  let current = null;
  let shownAt = 0;
  let unsure = false;
  const candidates = new Set();
  let fetching = false;
  let exhausted = false;
  let pending = Promise.resolve();

  function buildButtons() {
    const container = el("classes");
    for (const cls of config.classes) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "class-button";
      button.style.setProperty("--class-color", cls.color);
      button.setAttribute("aria-keyshortcuts", cls.key);
      button.setAttribute("aria-label", `${cls.name} (key ${cls.key})`);
      button.innerHTML = `<kbd></kbd><span></span>`;
      button.querySelector("kbd").textContent = cls.key.toUpperCase();
      button.querySelector("span").textContent = cls.name;
      button.addEventListener("click", () => chooseClass(cls.index));
      container.appendChild(button);
      buttons.set(cls.index, button);
    }
    const hints = el("hints");
    const items = config.classes.map((c) => [c.key.toUpperCase(), c.name]);
    items.push(["U", "unsure: pick several classes"], ["Enter", "confirm the candidates"], ["Esc", "leave unsure"]);
    items.push(["S", "skip this face"], ["Z / ⌫", "undo your last vote"]);
    for (const [key, text] of items) {
      const li = document.createElement("li");
      li.innerHTML = "<kbd></kbd> <span></span>";
      li.querySelector("kbd").textContent = key;
      li.querySelector("span").textContent = text;
      hints.appendChild(li);
    }
  }

  async function refill() {
    if (fetching || exhausted || queue.length >= PREFETCH) return;
    fetching = true;
    try {
      const faces = await post("next-faces/", { count: PREFETCH + 1 });
      const fresh = faces.filter((f) => !seen.has(f.item));
      fresh.forEach((f) => seen.add(f.item));
      queue.push(...(await Promise.all(fresh.map(preload))));
      if (!faces.length && !current) exhausted = true;
    } catch (error) {
      showMessage(`Could not load faces: ${error.message}`);
    } finally {
      fetching = false;
    }
    if (!current) showNext();
  }

  function showNext() {
    current = queue.shift() || null;
    setUnsure(false);
    if (!current) {
      face.hidden = true;
      status.textContent = exhausted ? "No faces left for you in this batch. Thank you!" : "Loading faces…";
      if (exhausted) offerConfirmLink();
      else refill();
      return;
    }
    face.src = current.image_url;
    face.alt = `Face ${current.item}`;
    face.hidden = false;
    face.dataset.item = String(current.item);
    status.textContent = "";
    shownAt = performance.now();
    showSuggestion();
    refill();
  }

  function offerConfirmLink() {
    if (!config.offerConfirmations) return;
    const link = document.createElement("a");
    link.id = "confirm-link";
    link.href = config.confirmUrl;
    link.textContent = "Confirm the model's confident guesses";
    status.append(document.createElement("br"), link);
  }

  function showSuggestion() {
    const box = el("suggestion");
    const suggestion = current && current.suggestion;
    const on = el("show-suggestion").checked && suggestion !== null && suggestion !== undefined;
    box.hidden = !on;
    if (on) box.textContent = `Model suggests: ${config.classes[suggestion].name}`;
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
    if (!current) return;
    if (!unsure) return answer("label", [index]);
    const button = buttons.get(index);
    if (candidates.has(index)) candidates.delete(index);
    else candidates.add(index);
    button.classList.toggle("chosen", candidates.has(index));
    button.setAttribute("aria-pressed", String(candidates.has(index)));
  }

  function confirmUnsure() {
    if (candidates.size < 2) return showMessage("Pick at least two plausible classes, or press Esc.");
    answer("unsure", Array.from(candidates).sort((a, b) => a - b));
  }

  function answer(kind, classes) {
    if (!current) return;
    const vote = {
      client_id: uuid(),
      item: current.item,
      kind,
      classes,
      // The API refuses over an hour (its limit): a longer pause is sent as an hour, the vote kept.
      time_spent_ms: Math.min(Math.round(performance.now() - shownAt), 3600000),
    };
    showMessage("");
    showNext();
    pending = pending.then(() => submit(vote));
  }

  async function submit(vote, attempt = 0) {
    try {
      await post("votes/", vote);
      refreshProgress();
    } catch (error) {
      if (!error.status && attempt < RETRY_DELAYS_MS.length) {
        await new Promise((r) => setTimeout(r, RETRY_DELAYS_MS[attempt]));
        return submit(vote, attempt + 1);
      }
      showMessage(`Your answer for face ${vote.item} was not saved: ${error.message}`);
      if (error.code === "budget_spent" || error.code === "quota_reached") {
        exhausted = true;
        queue.length = 0;
        if (current) showNext();
      }
    }
  }

  async function undo() {
    await pending;
    try {
      const result = await post("votes/undo/");
      if (result.face) {
        if (current) queue.unshift(current);
        current = null;
        queue.unshift(result.face);
        exhausted = false;
        showNext();
      }
      showMessage("Your last vote was undone.");
      refreshProgress();
    } catch (error) {
      showMessage(error.message);
    }
  }

  function showMessage(text) {
    message.textContent = text;
  }

  async function refreshProgress() {
    try {
      const p = await get("progress/");
      el("budget-text").textContent = `${p.votes_spent} of ${p.budget_votes} spent · ${p.votes_left} left`;
      setMeter(el("budget-meter"), p.votes_spent, p.budget_votes);
      if (p.cycle) {
        el("cycle-text").textContent = `cycle ${p.cycle.number}: ${p.cycle.faces_complete} of ${p.cycle.faces} faces done`;
        setMeter(el("cycle-meter"), p.cycle.votes_received, p.cycle.votes_needed);
      } else {
        el("cycle-text").textContent = "labeling has not started";
      }
      el("own-count").textContent = p.quota_votes === null ? `${p.own_votes}` : `${p.own_votes} of ${p.quota_votes}`;
    } catch (error) {
      showMessage(`Could not load progress: ${error.message}`);
    }
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, select, textarea")) return;
    const key = event.key.toLowerCase();
    const cls = config.classes.find((c) => c.key === key);
    let handled = true;
    if (cls) chooseClass(cls.index);
    else if (key === "u") setUnsure(!unsure);
    else if (key === "enter" && unsure) confirmUnsure();
    else if (key === "escape" && unsure) setUnsure(false);
    else if (key === "s") answer("skip", []);
    else if (key === "z" || key === "backspace") undo();
    else handled = false;
    if (handled) event.preventDefault();
  }

  buildButtons();
  el("unsure").addEventListener("click", () => setUnsure(!unsure));
  el("confirm").addEventListener("click", confirmUnsure);
  el("skip").addEventListener("click", () => answer("skip", []));
  el("undo").addEventListener("click", undo);
  el("show-suggestion").addEventListener("change", showSuggestion);
  document.addEventListener("keydown", onKey);
  refreshProgress();
  refill();
})();
