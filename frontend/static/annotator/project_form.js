/* Shared by the new-project and settings pages: the class editor, setting fields with their
bounds and one-sentence help, and showing the API's refusals next to the field at fault. */

import { ApiError, config, get } from "./api.js";
import { el, node } from "./dom.js";

/** The project's settings fields, as the API names them, that the new-project and settings forms send
 * (the server's services.project_settings.FORM_SETTINGS). */
const SETTING_FIELDS = config.settingFields;

/** A class editor in `table`: rows of name, key, colour, each with its error line. */
function classEditor(table, { readOnly = false } = {}) {
  const body = table.tBodies[0] || table.appendChild(document.createElement("tbody"));
  function addRow(spec = {}) {
    const index = body.rows.length;
    const row = node("tr");
    const textInput = (field, maxlength) =>
      node("input", {
        "aria-label": `Class ${index + 1} ${field}`,
        className: field,
        value: spec[field] || "",
        maxlength,
        readonly: readOnly,
      });
    const name = textInput("name", 64);
    const key = textInput("key", 1);
    const color = node("input", {
      type: "color",
      "aria-label": `Class ${index + 1} colour`,
      className: "color",
      value: spec.color || config.palette[index % config.palette.length],
      disabled: readOnly,
    });
    const remove = readOnly
      ? null
      : node("button", { type: "button", className: "remove", "aria-label": `Remove class ${index + 1}`, text: "Remove" });
    if (remove) remove.addEventListener("click", () => row.remove());
    key.addEventListener("input", () => {
      const reason = config.reservedKeys[key.value.toLowerCase()];
      row.querySelector(".key-error").textContent = reason ? `This key is reserved: the labeling page uses it for ${reason}.` : "";
    });
    row.append(
      node("td", {}, name, node("p", { className: "error name-error", role: "alert" })),
      node("td", {}, key, node("p", { className: "error key-error", role: "alert" })),
      node("td", {}, color),
      node("td", {}, remove),
    );
    body.append(row);
  }
  return {
    set(specs) {
      body.replaceChildren();
      specs.forEach(addRow);
    },
    add: addRow,
    read() {
      return Array.from(body.rows, (row) => ({
        name: row.querySelector(".name").value.trim(),
        key: row.querySelector(".key").value,
        color: row.querySelector(".color").value,
      }));
    },
    showErrors(errors) {
      Array.from(body.rows).forEach((row, i) => {
        const problem = (Array.isArray(errors) && errors[i]) || {};
        row.querySelector(".name-error").textContent = (problem.name || []).join(" ");
        row.querySelector(".key-error").textContent = (problem.key || problem.color || []).join(" ");
      });
    },
  };
}

/** Fill the numeric inputs' min and max from the project bounds, and selects from choices, each set to
 * the model's default (its data-default; the settings page then shows the project's own values). */
function prepare(form, config) {
  for (const [field, bounds] of Object.entries(config.bounds)) {
    const input = form.elements[field];
    if (input) {
      input.min = bounds.min;
      input.max = bounds.max;
    }
  }
  for (const [field, choices] of Object.entries(config.choices)) {
    const select = form.elements[field];
    if (!select) continue;
    select.replaceChildren(...choices.map((c) => node("option", { value: c.value, text: c.label })));
    if (select.dataset.default) select.value = select.dataset.default;
    const help = el(`${field}-help`);
    const explain = () => (help.textContent = choices.find((c) => c.value === select.value)?.help || "");
    select.addEventListener("change", explain);
    explain();
  }
}

/** Put each field error of a 400 next to its field; returns the errors no field took. A service's
 * refusal ({code, detail, fields}) names its fields under `fields`. */
function showFieldErrors(form, body) {
  for (const p of form.querySelectorAll(".field .error")) p.textContent = "";
  const rest = [];
  const perField = body?.fields || (body?.code ? {} : body);
  if (body?.code && !body.fields) rest.push(body.detail);
  for (const [field, messages] of Object.entries(perField || {})) {
    const slot = form.querySelector(`#${field}-error`);
    const text = Array.isArray(messages) ? messages.filter((m) => typeof m === "string").join(" ") : String(messages);
    if (slot) slot.textContent = text;
    else if (field !== "classes") rest.push(text);
  }
  return rest.join(" ");
}

function values(form, fields) {
  const out = {};
  for (const field of fields) {
    const input = form.elements[field];
    if (!input || input.disabled) continue;
    if (input.type === "checkbox") out[field] = input.checked;
    else if (input.type === "number") out[field] = input.value === "" ? null : Number(input.value);
    else out[field] = input.value;
  }
  return out;
}

/** The settings the budget plan depends on (the server's budget_plan.PLAN_FIELDS). */
const PLAN_FIELDS = ["budget_votes", "votes_per_face", "batch_size", "initial_set_size", "test_sample_size"];

function duration(seconds) {
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** Render the server's plan (no arithmetic here: /api/budget-plan/ computes it) in the planner card. */
function showPlan(plan) {
  const v = plan.votes_per_face;
  const b = plan.batches;
  const rows = [
    ["Test sample", `${plan.test_sample.faces} faces x ${v} votes`, plan.test_sample.votes, plan.test_sample.source],
    ["Initial set", `${plan.initial_set.faces} faces x ${v} votes`, plan.initial_set.votes, "labeled first; the first model trains on it"],
    ["Batches", `${b.full} x ${b.size} faces x ${v} votes`, b.full * b.votes_each, "each picked by the newest model"],
  ];
  if (b.last_faces)
    rows.push(["Last batch", `${b.last_faces} faces x ${v} votes`, b.last_faces * v, "smaller: what the budget still pays for"]);
  rows.push(["Remainder", "", plan.remainder_votes, "pays for no whole face"]);
  rows.push(["Budget", "", plan.budget_votes, ""]);
  const body = el("budget-plan-rows");
  body.replaceChildren(
    ...rows.map(([name, split, votes, note]) =>
      node(
        "tr",
        {},
        node("th", { scope: "row", text: name }),
        node("td", { text: split }),
        node("td", { className: "num", text: `${votes} votes` }),
        node("td", { className: "muted small", text: note }),
      ),
    ),
  );
  const r = plan.retrain;
  el("budget-plan-retrain").textContent =
    `${plan.trainings} training${plan.trainings === 1 ? "" : "s"}. A retrain takes about ${duration(r.first_seconds)} after the initial set and ${duration(r.last_seconds)} at the end (${r.speed.source}).`;
  el("budget-plan-pretraining").textContent = plan.pretraining.sentence;
  const problems = Object.values(plan.problems).flat();
  document
    .getElementById("budget-plan-problems")
    .replaceChildren(...[...new Set(problems)].slice(0, 1).map((text) => node("li", { text })));
  el("budget-plan").dataset.runs = String(!problems.length);
}

/** Ask the server for the plan of the form's settings whenever one of them changes. */
function budgetPlanner(form, path) {
  let timer = null;
  let asked = 0;
  async function refresh() {
    const query = new URLSearchParams();
    for (const field of PLAN_FIELDS) query.set(field, form.elements[field].value);
    const mine = ++asked;
    try {
      const plan = await get(`${path}?${query}`);
      if (mine === asked) showPlan(plan);
    } catch (failure) {
      if (!(failure instanceof ApiError) || mine !== asked) throw failure;
      const fields = Object.keys(failure.body || {}).join(", ");
      el("budget-plan-problems").replaceChildren(node("li", { text: `No plan: check ${fields || failure.message}.` }));
      el("budget-plan").dataset.runs = "false";
    }
  }
  for (const field of PLAN_FIELDS)
    form.elements[field].addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, 200);
    });
  return refresh;
}

export { budgetPlanner, classEditor, prepare, SETTING_FIELDS, showFieldErrors, values };
