/* The dashboard: fetches one summary from the API and draws it; refreshes while jobs run. */
"use strict";

(function () {
  const { get } = window.FaceLoop;
  const P = window.Plots;
  const el = (id) => document.getElementById(id);
  const REFRESH_MS = 4000;

  function draw(d) {
    P.budget(el("budget-plot"), d.budget.spent, d.budget.total);
    P.bars(
      el("class-plot"),
      d.labels_per_class.map((c) => ({ label: c.name, value: c.labels, color: c.color })).concat(
        d.unsure_faces ? [{ label: "no majority", value: d.unsure_faces, color: "#bab0ac" }] : []
      ),
      "Labels per class"
    );
    if (!d.test_size) P.empty(el("curve-plot"), "No test set: import labeled test faces to see how well the model does.");
    else if (!d.learning_curve.length) P.empty(el("curve-plot"), "No model trained yet: the first point appears after the first batch.");
    else
      P.line(
        el("curve-plot"),
        [
          { name: "accuracy", color: "#4e79a7", points: d.learning_curve.map((p) => ({ x: p.labels_used, y: p.accuracy })) },
          { name: "macro F1", color: "#f28e2b", points: d.learning_curve.map((p) => ({ x: p.labels_used, y: p.macro_f1 })) },
        ],
        "Test accuracy and macro F1 against labels used, one point per cycle"
      );
    if (d.confusion && d.confusion.matrix) P.heatmap(el("confusion-plot"), d.confusion.matrix, d.confusion.classes, `Confusion matrix of model v${d.confusion.version}`);
    else P.empty(el("confusion-plot"), "No evaluated model yet.");
    if (d.annotators.length)
      P.bars(
        el("annotator-plot"),
        d.annotators.map((a) => ({ label: a.annotator, value: a.votes, note: `${a.votes} · ${a.seconds_per_vote} s · ${a.votes_last_hour}/h` })),
        "Votes per annotator (count · seconds per vote · votes in the last hour)"
      );
    else P.empty(el("annotator-plot"), "No votes yet.");
    const g = d.agreement;
    el("agreement").textContent = g.items
      ? `Agreement on ${g.items} faces with several votes: ${(g.percent_agreement * 100).toFixed(1)}%` +
        (g.fleiss_kappa === null ? "" : ` · Fleiss' κ ${g.fleiss_kappa.toFixed(2)}`)
      : "Agreement appears once faces get two or more votes.";
    P.jobs(el("jobs-plot"), d.jobs);
    el("dashboard").setAttribute("aria-busy", "false");
    return d.jobs.some((j) => j.state === "queued" || j.state === "running");
  }

  async function refresh() {
    try {
      const running = draw(await get("dashboard/"));
      setTimeout(refresh, running ? REFRESH_MS : REFRESH_MS * 4);
    } catch (error) {
      P.empty(el("budget-plot"), `Could not load the dashboard: ${error.message}`);
      setTimeout(refresh, REFRESH_MS * 4);
    }
  }

  refresh();
})();
