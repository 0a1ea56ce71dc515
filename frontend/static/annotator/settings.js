/* Settings: what may still change is editable; what may not is read-only with the server's
reason; saving sends only the changed fields, so a refusal names exactly what was refused. */

import { ApiError, config, del, get, patch, put, upload } from "./api.js";
import { el } from "./dom.js";
import { percent } from "./format.js";
import { budgetPlanner, classEditor, prepare, SETTING_FIELDS, showFieldErrors, values } from "./project_form.js";

const form = el("settings-form");
let project = null;
let classes = null;

prepare(form, config);
const refreshPlan = budgetPlanner(form, "budget-plan/");

function fill(data, locks) {
  project = data;
  for (const field of SETTING_FIELDS) {
    const input = form.elements[field];
    if (input.type === "checkbox") input.checked = Boolean(data[field]);
    else input.value = data[field] === null ? "" : data[field];
    input.dispatchEvent(new Event("change"));
    const reason = locks.settings[field];
    input.disabled = Boolean(reason);
    input.closest(".field").classList.toggle("readonly", Boolean(reason));
    const slot = el(`${field}-locked`);
    if (slot) slot.textContent = reason ? `Fixed: ${reason}.` : "";
  }
  form.elements.budget_votes.min = Math.max(Number(form.elements.budget_votes.min), data.votes_spent);
  el("budget-status").textContent = `${data.budget.sentence} The budget cannot go below what is spent.`;
  classes = classEditor(el("classes"), { readOnly: Boolean(locks.classes) });
  classes.set(data.classes);
  el("classes-locked").textContent = locks.classes ? `Fixed: ${locks.classes}` : "";
  el("class-actions").hidden = Boolean(locks.classes);
  showWeights(data.backbone_weights_report, locks.settings.initial_selection);
}

/** The starting weights' report, and whether they may still change (not once labeling started). */
function showWeights(report, lockedBecause) {
  const given = report?.file;
  el("weights-status").textContent = given
    ? `${report.file}: ${report.loaded} tensors loaded; ${[...report.adapted, ...report.left_out.map((key) => `${key} left out`)].join("; ")}.`
    : "None: training starts from pre-training, or from scratch.";
  el("weights-locked").textContent = lockedBecause ? `Fixed: ${lockedBecause}.` : "";
  el("weights-actions").hidden = Boolean(lockedBecause);
  el("weights-remove").hidden = !given;
}

el("weights-upload").addEventListener("click", async () => {
  const file = el("weights-file").files[0];
  const error = el("weights-error");
  const progress = el("weights-progress");
  error.textContent = "";
  if (!file) {
    error.textContent = "Choose a .pt or .pth file first.";
    return;
  }
  const body = new FormData();
  body.append("file", file);
  try {
    await upload("backbone-weights/", body, (share) => (progress.textContent = `Sending… ${percent(share)}`));
    progress.textContent = "";
    await load();
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    progress.textContent = "";
    error.textContent = failure.message;
  }
});

el("weights-remove").addEventListener("click", async () => {
  const error = el("weights-error");
  error.textContent = "";
  try {
    await del("backbone-weights/");
    await load();
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    error.textContent = failure.message;
  }
});

async function load() {
  const [data, locks] = await Promise.all([get(""), get("locks/")]);
  fill(data, locks);
  refreshPlan();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = el("form-error");
  const saved = el("saved");
  error.textContent = saved.textContent = "";
  const changed = Object.fromEntries(Object.entries(values(form, SETTING_FIELDS)).filter(([field, value]) => value !== project[field]));
  if (!Object.keys(changed).length) {
    saved.textContent = "Nothing changed.";
    return;
  }
  try {
    await patch("", changed);
    saved.textContent = `Saved: ${Object.keys(changed).join(", ")}.`;
    await load();
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    const rest = showFieldErrors(form, failure.body);
    if (failure.status === 409 && "budget_votes" in changed) {
      el("budget_votes-error").textContent = failure.message;
    } else {
      error.textContent = rest || failure.message;
    }
  }
});

el("add-class").addEventListener("click", () => classes.add({}));
el("save-classes").addEventListener("click", async () => {
  const slot = el("classes-error");
  slot.textContent = "";
  try {
    await put("classes/", { classes: classes.read() });
    await load();
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    classes.showErrors(failure.body?.classes);
    slot.textContent = failure.body && Array.isArray(failure.body.classes) ? "" : failure.message;
  }
});

load();
