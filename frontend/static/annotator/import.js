/* The import page: upload with a progress bar, then the import job's progress, then a summary. */
"use strict";

(function () {
  const { base, csrf, get, post } = window.FaceLoop;
  const el = (id) => document.getElementById(id);
  let polling = null;

  function upload(formData) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", base + "imports/");
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable) el("upload-progress").value = event.loaded / event.total;
      };
      xhr.onload = () => {
        const body = xhr.responseText ? JSON.parse(xhr.responseText) : {};
        if (xhr.status >= 200 && xhr.status < 300) resolve(body);
        else reject(new Error(body.detail || JSON.stringify(body)));
      };
      xhr.onerror = () => reject(new Error("the upload failed (network error)"));
      xhr.send(formData);
    });
  }

  function showJob(job) {
    el("import-progress").value = job.progress;
    el("import-status").textContent = job.message || `${job.stage || job.state}: ${Math.round(job.progress * 100)}%`;
    const problems = (job.result && job.result.problems) || [];
    el("import-problems").replaceChildren(
      ...problems.slice(0, 50).map((p) => {
        const li = document.createElement("li");
        li.textContent = `${p.source}: ${p.reason}`;
        return li;
      })
    );
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
    polling = setInterval(async () => showJob(await get(`/api/jobs/${job.id}/`)), 700);
    try {
      showJob(await upload(data));
    } catch (error) {
      el("import-status").textContent = `Import failed: ${error.message}`;
    } finally {
      clearInterval(polling);
      el("upload-progress").value = 1;
    }
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
})();
