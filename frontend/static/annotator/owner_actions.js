/* Owner actions on the dashboard: retrain now, cancel a job, export labels or the model, download. */
"use strict";

(function () {
  const { config, get, post } = window.FaceLoop;
  const el = (id) => document.getElementById(id);
  const REFRESH_MS = 3000;

  function say(text) {
    el("action-status").textContent = text;
  }

  async function act(action, done) {
    try {
      say(done(await action()));
    } catch (error) {
      say(error.message);
    }
    refreshExports();
  }

  function exportLabel(job) {
    // An export's result names what and which format only once it has run.
    const what = [job.result.what, job.result.format].filter(Boolean).join(" · ") || `export #${job.id}`;
    if (job.state === "succeeded") return `${what}: ${job.message}`;
    if (job.state === "failed") return `${what}: failed: ${job.message}`;
    return window.FaceLoop.describeJob(job, what);
  }

  async function refreshExports() {
    const list = el("export-list");
    let jobs = [];
    try {
      jobs = await get("exports/");
    } catch (error) {
      list.textContent = `Could not load exports: ${error.message}`;
      return;
    }
    list.replaceChildren(
      ...jobs.slice(0, 10).map((job) => {
        const item = document.createElement("li");
        if (job.state === "succeeded") {
          const link = document.createElement("a");
          link.href = `/api/jobs/${job.id}/download/`;
          link.textContent = exportLabel(job);
          item.append(link);
        } else item.textContent = exportLabel(job);
        return item;
      })
    );
    if (jobs.some((job) => job.state === "queued" || job.state === "running")) setTimeout(refreshExports, REFRESH_MS);
  }

  async function refreshJobActions() {
    const list = el("job-actions");
    const jobs = (await get("jobs/")).results || [];
    const active = jobs.filter((job) => job.state === "queued" || job.state === "running");
    list.replaceChildren(
      ...active.map((job) => {
        const item = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = `Cancel ${job.kind} #${job.id}`;
        button.setAttribute("aria-label", `Cancel ${job.kind} job ${job.id}`);
        button.addEventListener("click", () => act(() => post(`/api/jobs/${job.id}/cancel/`), () => `Cancelling job ${job.id}.`));
        item.append(button);
        return item;
      })
    );
    setTimeout(refreshJobActions, active.length ? REFRESH_MS : REFRESH_MS * 5);
  }

  if (config.role !== "owner") return;
  el("retrain").addEventListener("click", () =>
    act(() => post("retrain/"), (job) => `Training job ${job.id} queued: the dashboard shows its progress.`)
  );
  for (const [formId, what] of [["export-labels", "labels"], ["export-model", "model"]]) {
    el(formId).addEventListener("submit", (event) => {
      event.preventDefault();
      const format = new FormData(event.target).get("format");
      act(() => post("exports/", { what, format }), (job) => `Export job ${job.id} queued.`);
    });
  }
  refreshExports();
  refreshJobActions().catch((error) => say(error.message));
})();
