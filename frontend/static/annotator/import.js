/* The import page: upload with a progress bar, then the import job's progress, then a summary. */

import { get, poll, post, upload } from "./api.js";
import { el, node } from "./dom.js";
import { percent } from "./format.js";

const JOB_POLL = { fastMs: 700, slowMs: 700 };

function showJob(job) {
  el("import-progress").value = job.progress;
  el("import-status").textContent = job.message || `${job.stage || job.state}: ${percent(job.progress)}`;
  const problems = job.result?.problems || [];
  el("import-problems").replaceChildren(...problems.slice(0, 50).map((p) => node("li", { text: `${p.source}: ${p.reason}` })));
}

/** What starting labeling sets off: pre-training's steps and, at this machine's measured speed, its length. */
async function showPretraining() {
  el("pretraining-estimate").textContent = (await get("budget-plan/")).pretraining.sentence;
}

el("import-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const files = el("files").files;
  if (!files.length) return;
  const job = await post("imports/job/");
  const data = new FormData();
  for (const file of files) data.append("files", file);
  data.append("split", el("split").value);
  data.append("job", String(job.id));
  el("upload-progress").value = 0;
  el("import-progress").value = 0;
  // The upload's answer comes only once the import ran, so the job's progress is polled meanwhile;
  // a poll answering after the upload's own answer is older than it and is dropped.
  let uploading = true;
  const progress = poll(async () => {
    const now = await get(`/api/jobs/${job.id}/`);
    if (uploading) showJob(now);
    return true;
  }, JOB_POLL);
  try {
    showJob(
      await upload("imports/", data, (fraction) => {
        el("upload-progress").value = fraction;
      }),
    );
  } catch (error) {
    el("import-status").textContent = `Import failed: ${error.message}`;
  } finally {
    uploading = false;
    progress.stop();
    el("upload-progress").value = 1;
  }
  await showPretraining(); // the pool changed
});

el("start").addEventListener("click", async () => {
  try {
    await post("start/"); // idempotent: once started, it answers with cycle 0, so ask where labeling is now
    const now = (await get("progress/")).cycle;
    el("start-status").textContent =
      now.state === "labeling"
        ? `Labeling is open: cycle ${now.number}, ${now.faces_complete} of ${now.faces} faces done.`
        : `Labeling is under way: cycle ${now.number} is done and the project is ${now.state_label.toLowerCase()}.`;
  } catch (error) {
    el("start-status").textContent = error.message;
  }
});

showPretraining();
