/* Owner actions on the dashboard: retrain now, cancel a job, export labels or the model, download. */

import { config, get, isActive, poll, post } from "./api.js";
import { el, node } from "./dom.js";
import { describeJob } from "./format.js";

const JOB_POLL = { fastMs: 3000, slowMs: 15000 };
let exportsPoll = null;
let jobActionsPoll = null;

function say(text) {
  el("action-status").textContent = text;
}

async function act(action, done) {
  try {
    say(done(await action()));
  } catch (error) {
    say(error.message);
  }
  exportsPoll.poke();
  jobActionsPoll.poke();
}

function exportLabel(job) {
  // An export's result names what and which format only once it has run.
  const what = [job.result.what, job.result.format].filter(Boolean).join(" · ") || `export #${job.id}`;
  if (job.state === "succeeded") return `${what}: ${job.message}`;
  if (job.state === "failed") return `${what}: failed: ${job.message}`;
  return describeJob(job, what);
}

/** Draws the newest exports; resolves true while one of them still runs. */
async function refreshExports() {
  const list = el("export-list");
  let jobs = [];
  try {
    jobs = await get("exports/");
  } catch (error) {
    list.textContent = `Could not load exports: ${error.message}`;
    return false;
  }
  list.replaceChildren(
    ...jobs
      .slice(0, 10)
      .map((job) =>
        job.state === "succeeded"
          ? node("li", {}, node("a", { href: `/api/jobs/${job.id}/download/`, text: exportLabel(job) }))
          : node("li", { text: exportLabel(job) }),
      ),
  );
  return jobs.some(isActive);
}

/** A cancel button per queued or running job; resolves true while there is one. */
async function refreshJobActions() {
  const list = el("job-actions");
  const jobs = (await get("jobs/")).results || [];
  const active = jobs.filter(isActive);
  list.replaceChildren(
    ...active.map((job) => {
      const button = node("button", {
        type: "button",
        "aria-label": `Cancel ${job.kind} job ${job.id}`,
        text: `Cancel ${job.kind} #${job.id}`,
      });
      button.addEventListener("click", () =>
        act(
          () => post(`/api/jobs/${job.id}/cancel/`),
          () => `Cancelling job ${job.id}.`,
        ),
      );
      return node("li", {}, button);
    }),
  );
  return active.length > 0;
}

function start() {
  el("retrain").addEventListener("click", () =>
    act(
      () => post("retrain/"),
      (job) => `Training job ${job.id} queued: the dashboard shows its progress.`,
    ),
  );
  for (const [formId, what] of [
    ["export-labels", "labels"],
    ["export-model", "model"],
  ]) {
    el(formId).addEventListener("submit", (event) => {
      event.preventDefault();
      const form = new FormData(event.target);
      const format = form.get("format");
      // Label sets also say which faces they hold (every split either way); model exports ignore it.
      const faces = form.get("faces");
      act(
        () => post("exports/", faces ? { what, format, faces } : { what, format }),
        (job) => `Export job ${job.id} queued.`,
      );
    });
  }
  exportsPoll = poll(refreshExports, JOB_POLL);
  jobActionsPoll = poll(async () => {
    try {
      return await refreshJobActions();
    } catch (error) {
      say(error.message);
      return false;
    }
  }, JOB_POLL);
}

if (config.role === "owner") start();
