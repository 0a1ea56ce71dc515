/* The dashboard's strategy comparison: the newest result's curves and sentence (drawn by the
dashboard's refresh through Comparisons.draw), and for owners the form that asks for one and the
button that switches the project to the strategy chosen. */

import { post } from "./api.js";
import { el, node } from "./dom.js";
import * as P from "./plots.js";

const COLORS = ["#7f7f7f", "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7"];

function say(text) {
  const status = el("comparison-status");
  if (status) status.textContent = text;
}

/** Mean over seeds, and the lowest and highest seed, at each label count. */
function series(curve, color) {
  const points = curve.labels.map((x, k) => {
    const values = curve.accuracy.map((run) => run[k]);
    return { x, y: values.reduce((a, b) => a + b, 0) / values.length, low: Math.min(...values), high: Math.max(...values) };
  });
  return { name: curve.title, color, points };
}

/** The strategies an owner may compare, once (the dashboard's data lists them); true when offered now. */
function offerStrategies(choices) {
  const box = el("comparison-strategies");
  if (!box || box.querySelector("input")) return false;
  for (const [value, title] of choices) {
    if (value === "random") continue;
    const input = node("input", { type: "checkbox", name: "strategy", value, checked: value === "least_confidence" });
    box.append(node("label", { className: "check" }, input, ` ${title}`));
  }
  return true;
}

function minutes(seconds) {
  return seconds < 90 ? `${Math.round(seconds)} s` : `${Math.round(seconds / 60)} min`;
}

/** Which model a finished comparison trained: the project's own (and how it started), or the stand-in. */
function replayed(c) {
  const model = `${c.model} at ${c.image_size} px, ${c.epochs} epochs`;
  if (c.replay === "project") {
    const warm = c.warm_start_epochs ? `warm starts of ${c.warm_start_epochs} epochs` : "every training afresh";
    const took = c.seconds && c.estimated_seconds ? `, took ${minutes(c.seconds)} (estimated ${minutes(c.estimated_seconds)})` : "";
    return `your model: ${model}, from ${c.started_from}, ${c.initial_selection} first batch, ${warm}${took}`;
  }
  if (c.replay === "proxy") return `a stand-in, not your model: ${model}, from scratch`;
  return model; // a comparison finished before replays had a plan
}

function draw(c, current) {
  if (offerStrategies(current.choices)) showPlan(el("comparison-form"));
  if (!c) {
    el("comparison-sentence").textContent = "No comparison yet.";
    P.empty(
      el("comparison-plot"),
      "An owner can replay the labeling loop on the faces labeled so far: each strategy against random sampling, over several seeds.",
    );
    el("comparison-sizes").textContent = "";
    return;
  }
  el("comparison-sentence").textContent = c.sentence;
  const all = c.curves.flatMap((curve) => curve.accuracy.flat());
  // A y range of whole 4-point steps from just below the lowest seed, so the grid reads 30%, 34%, ...
  const low = Math.max(0, Math.floor(Math.min(...all) * 50) / 50);
  const range = [low, Math.min(1, low + Math.ceil((Math.max(...all) - low + 0.01) * 25) / 25)];
  P.line(
    el("comparison-plot"),
    c.curves.map((curve, i) => series(curve, COLORS[i % COLORS.length])),
    `Test accuracy against labels per strategy: mean over ${c.seeds.length} seeds, band from the lowest to the highest seed`,
    "labels used",
    range,
  );
  el("comparison-sizes").textContent =
    `Run on ${c.labeled_faces} labeled faces (test: ${c.test_faces}) · ${replayed(c)}, ${c.device} · ` +
    `initial ${c.initial}, ${c.cycles} trainings up to ${c.budget} labels · seeds ${c.seeds.join(", ")} · finished ${new Date(c.finished_at).toLocaleString()}`;
  const select = el("adopt-strategy");
  if (!select) return;
  const now = current.name + (current.class_balanced ? "+balanced" : "");
  select.replaceChildren(
    ...c.curves.map((curve) => node("option", { value: curve.strategy, text: curve.title + (curve.strategy === now ? " (in use)" : "") })),
  );
  select.value = c.best || now;
  el("adopt-form").hidden = false;
}

function request(form) {
  return {
    strategies: [...form.querySelectorAll("input[name=strategy]:checked")].map((box) => box.value),
    seeds: Number(el("comparison-seeds").value),
    class_balanced: el("comparison-balanced").checked,
    model: el("comparison-model").value,
  };
}

/** What the form's settings would replay and how long the project's model takes, asked again on each change. */
let planAsked = 0;
async function showPlan(form) {
  const asked = ++planAsked;
  const body = request(form);
  if (!body.strategies.length) {
    el("comparison-plan").textContent = "Choose at least one strategy.";
    return;
  }
  try {
    const plan = await post("comparisons/plan/", body);
    if (asked === planAsked) el("comparison-plan").textContent = plan.sentence;
  } catch (error) {
    if (asked === planAsked) el("comparison-plan").textContent = error.message;
  }
}

function bind() {
  const form = el("comparison-form");
  if (!form) return;
  form.addEventListener("change", () => showPlan(form));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const job = await post("comparisons/", request(form));
      say(
        `Comparison #${job.id} queued: ${job.result.request.strategies.join(", ")} on ${job.result.request.labeled_faces} labeled faces, ` +
          (job.result.request.plan.replay === "project" ? "replaying your model." : "replaying the small-CNN stand-in."),
      );
    } catch (error) {
      say(error.message);
    }
  });
  el("adopt-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const project = await post("comparisons/adopt/", { strategy: el("adopt-strategy").value });
      say(`This project now selects with ${project.strategy}${project.class_balanced ? ", class-balanced" : ""}.`);
    } catch (error) {
      say(error.message);
    }
  });
}

bind();

export { draw };
