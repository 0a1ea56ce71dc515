/* New project: classes from a preset or by hand, settings with their bounds; one POST creates it
all (the server refuses it whole), then the import page. */

import { ApiError, config, get, post } from "./api.js";
import { el, node } from "./dom.js";
import { budgetPlanner, classEditor, prepare, SETTING_FIELDS, showFieldErrors, values } from "./project_form.js";

const form = el("project-form");
const classes = classEditor(el("classes"));

prepare(form, config);

async function loadPresets() {
  const presets = await get("/api/class-presets/");
  const group = el("presets");
  const buttons = presets.map((preset) => {
    const button = node("button", { type: "button", "aria-pressed": "false", "data-preset": preset.name, text: preset.title });
    button.addEventListener("click", () => {
      for (const b of buttons) b.setAttribute("aria-pressed", String(b === button));
      classes.set(preset.classes);
    });
    return button;
  });
  const custom = node("button", { type: "button", "aria-pressed": "false", "data-preset": "custom", text: "Custom" });
  custom.addEventListener("click", () => {
    for (const b of buttons) b.setAttribute("aria-pressed", "false");
    custom.setAttribute("aria-pressed", "true");
    classes.set([
      { name: "", key: "1" },
      { name: "", key: "2" },
    ]);
  });
  group.append(...buttons, custom);
  buttons[0].click();
}

el("add-class").addEventListener("click", () => classes.add({}));

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = el("form-error");
  error.textContent = "";
  const body = { ...values(form, SETTING_FIELDS), classes: classes.read() };
  try {
    const project = await post("/api/projects/", body);
    location.assign(`/projects/${project.id}/import/`);
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    const details = failure.body || {};
    classes.showErrors(details.classes);
    const classMessages = Array.isArray(details.classes) ? "" : (details.classes || []).join(" ");
    el("classes-error").textContent = classMessages;
    // A refusal that names its fields is shown beside them; nothing more to say under the form.
    const besideFields = failure.status === 400 && (details.fields || !details.detail);
    error.textContent = showFieldErrors(form, details) || (besideFields ? "" : failure.message);
  }
});

loadPresets();
budgetPlanner(form, "/api/budget-plan/")();
