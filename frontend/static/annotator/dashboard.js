/* The dashboard: fetches one summary from the API and draws it; polls with back-off (fast while
jobs run or the numbers change), so new batches, model versions and job progress appear without a reload. */

import { get, isActive, poll } from "./api.js";
import { draw as drawComparison } from "./comparisons.js";
import { el, node } from "./dom.js";
import { percent, plural } from "./format.js";
import { drawChosenBy } from "./lease_holders.js";
import * as P from "./plots.js";

let last = "";

function draw(d) {
  P.budget(el("budget-plot"), d.budget.spent, d.budget.total);
  el("budget-sentence").textContent = d.budget.sentence;
  el("next-model").textContent = d.next_model.sentence;
  const classBars = (key, unsure) =>
    d.labels_per_class
      .map((c) => ({ label: c.name, value: c[key], color: c.color }))
      .concat(unsure ? [{ label: "no majority", value: unsure, color: "#bab0ac" }] : []);
  P.bars(el("class-plot"), classBars("labels", d.unsure_faces), "Labeled pool faces per class");
  if (d.test_size) P.bars(el("test-class-plot"), classBars("test_labels", d.unsure_test_faces), "Labeled test faces per class");
  else P.empty(el("test-class-plot"), "No test set.");
  el("curve-basis").textContent = d.learning_curve_basis.sentence;
  if (d.learning_curve_unavailable_reason) P.empty(el("curve-plot"), d.learning_curve_unavailable_reason);
  else
    P.line(
      el("curve-plot"),
      [
        { name: "accuracy", color: "#4e79a7", points: d.learning_curve.map((p) => ({ x: p.labels_used, y: p.accuracy })) },
        { name: "macro F1", color: "#f28e2b", points: d.learning_curve.map((p) => ({ x: p.labels_used, y: p.macro_f1 })) },
      ],
      "Test accuracy and macro F1 against labels used, one point per cycle",
    );
  drawClassQuality(d.confusion, d.labels_per_class);
  drawComparison(d.comparison, d.strategy);
  drawChosenBy(d.chosen_by);
  if (d.annotators.length)
    P.bars(
      el("annotator-plot"),
      d.annotators.map((a) => ({
        label: a.annotator,
        value: a.votes,
        note: `${a.votes} · ${a.median_seconds ?? "–"} s per vote · ${a.votes_last_hour} in the last hour`,
      })),
      "Votes per annotator (count · median seconds per vote, as on the team page · votes cast in the last 60 minutes)",
    );
  else P.empty(el("annotator-plot"), "No votes yet.");
  const g = d.agreement;
  el("agreement").textContent = g.faces
    ? `Agreement on ${g.faces} faces with several votes: ${(g.percent_agreement * 100).toFixed(1)}%` +
      (g.fleiss_kappa === null ? "" : ` · Fleiss' κ ${g.fleiss_kappa.toFixed(2)}`)
    : "Agreement appears once faces get two or more votes.";
  drawReliability(d.reliability);
  drawMargins(d.margins);
  drawOmniSupervision(d.omni_supervision, d.labels_per_class, d.auxiliary_size);
  drawConfirmations(d.confirmations);
  drawReviews(d.reviews);
  P.jobs(el("jobs-plot"), d.jobs);
  el("dashboard").setAttribute("aria-busy", "false");
  return d.jobs.some(isActive);
}

function drawClassQuality(q, labels) {
  const rates = el("confusion-mode").getAttribute("aria-pressed") === "true";
  if (q.matrix) P.heatmap(el("confusion-plot"), q.matrix, q.classes, `Confusion matrix of model v${q.version}`, rates);
  else P.empty(el("confusion-plot"), "No evaluated model yet.");
  const table = el("class-quality");
  table.replaceChildren();
  if (q.recall) {
    table.createCaption().textContent = `Test recall and precision per class, model v${q.version}`;
    const head = table.createTHead().insertRow();
    head.append(...["class", "labeled", "recall", "precision"].map((name) => node("th", { text: name })));
    const body = table.createTBody();
    q.classes.forEach((name, i) => {
      const row = body.insertRow();
      for (const value of [name, labels[i].labels, percent(q.recall[i]), percent((q.precision || [])[i])])
        row.insertCell().textContent = value;
    });
  }
  el("class-warnings").replaceChildren(...q.warnings.map((text) => node("li", { text: `⚠ ${text}` })));
}

function drawReliability(r) {
  if (!r) {
    P.empty(el("reliability-plot"), "Appears after a training once some faces have votes from two or more annotators.");
    return;
  }
  P.bars(
    el("reliability-plot"),
    r.annotators.map((a) => ({
      label: a.annotator,
      value: a.reliability,
      color: a.reliability < 0.6 ? "#e15759" : "#59a14f",
      note:
        `${(a.reliability * 100).toFixed(0)}% · ${a.votes} votes` +
        (a.top_confusion ? ` · ${a.top_confusion.true}→${a.top_confusion.answered} ${(a.top_confusion.rate * 100).toFixed(0)}%` : ""),
    })),
    `Dawid-Skene reliability per annotator (model v${r.version}, ${r.shared_faces} faces with several annotators)`,
  );
}

function drawMargins(m) {
  if (!m) {
    P.empty(el("margin-plot"), "Appears after a semi-supervised (Ada-CM) training: the per-class confidence margins, epoch by epoch.");
    return;
  }
  P.line(
    el("margin-plot"),
    m.classes.map(([name, color], c) => ({ name, color, points: m.margins.map((epoch, t) => ({ x: t + 1, y: epoch[c] })) })),
    `Ada-CM margin per class after each epoch of model v${m.model_version}`,
    "epoch",
  );
}

function drawOmniSupervision(history, classes, auxiliary) {
  const latest = history[history.length - 1];
  const summary = el("omni-summary");
  if (!latest || latest.skipped) {
    P.empty(
      el("omni-plot"),
      latest
        ? `Model v${latest.version} kept none: ${latest.skipped}.`
        : `${auxiliary} auxiliary faces imported. With a margin δ set, each model after the first pseudo-labels them (and unvoted pool faces) for the next training.`,
    );
    summary.textContent = "";
    return;
  }
  P.bars(
    el("omni-plot"),
    classes.map((c, i) => ({ label: c.name, value: latest.per_class[i] || 0, color: c.color })),
    `Pseudo-labeled faces kept per class for model v${latest.version} (margin δ ${latest.delta})`,
  );
  summary.textContent =
    `${latest.kept} of ${latest.candidates} candidates kept, ${latest.from_auxiliary} of them auxiliary; ` +
    `kept by model version: ${history.map((h) => `v${h.version} ${h.kept ?? 0} (δ ${h.delta})`).join(" · ")}. They spend no budget.`;
}

function drawReviews(r) {
  el("review-summary").textContent =
    `${plural(r.faces_reviewed, "face")} reviewed (${plural(r.labels_changed, "label")} changed, ` +
    `${plural(r.undone, "review")} undone) · ${plural(r.excluded_faces, "face")} excluded`;
}

function drawConfirmations(c) {
  const answered = c.confirmed + c.rejected;
  el("confirmation-summary").textContent = c.enabled
    ? `${c.offered} open · ${c.confirmed} confirmed · ${c.rejected} rejected` +
      (answered ? ` · ${((c.confirmed / answered) * 100).toFixed(1)}% of answered pseudo-labels held up` : "") +
      ". Confirmations are counted apart from votes and spend no budget."
    : "Off for this project (an owner can turn it on for semi-supervised training).";
  if (c.annotators.length)
    P.bars(
      el("confirmation-plot"),
      c.annotators.map((a) => ({
        label: a.annotator,
        value: a.confirmed + a.rejected,
        color: "#76b7b2",
        note: `${a.confirmed} confirmed · ${a.rejected} rejected`,
      })),
      "Pseudo-label answers per annotator",
    );
  else P.empty(el("confirmation-plot"), "No pseudo-label answered yet.");
}

let shown = null;
el("confusion-mode").addEventListener("click", (event) => {
  const rates = event.currentTarget.getAttribute("aria-pressed") !== "true";
  event.currentTarget.setAttribute("aria-pressed", String(rates));
  event.currentTarget.textContent = rates ? "Show counts" : "Show rates per true class";
  if (shown) drawClassQuality(shown.confusion, shown.labels_per_class);
});

async function refresh() {
  let data;
  try {
    data = await get("dashboard/");
  } catch (error) {
    P.empty(
      el("budget-plot"),
      error.signedOut ? "You are signed out: reload the page to sign in again." : `Could not load the dashboard: ${error.message}`,
    );
    return false;
  }
  const text = JSON.stringify(data);
  if (text === last) return data.jobs.some(isActive);
  last = text;
  shown = data;
  draw(data);
  return true;
}

poll(refresh, { fastMs: 2000, slowMs: 30000 });
