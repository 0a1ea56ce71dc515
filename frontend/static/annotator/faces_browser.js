/* Face browser: filters become the API's query as soon as one changes (no button to press); pages
follow the server's cursor (keyset), so "More faces" costs the same on page 1 and page 1,000. The
query lives in the address bar. After "More faces", focus moves to the first face it added. */

import { ApiError, config, get } from "./api.js";
import { el, node } from "./dom.js";
import { labelName, percent, plural } from "./format.js";

const form = el("filters");
const grid = el("grid");
const more = el("more");
let cursor = null;
let shown = 0;

for (const select of [form.elements.label, form.elements.predicted]) {
  select.append(...config.classes.map((c) => node("option", { value: c.index, text: c.name })));
}
const params = new URLSearchParams(location.search);
for (const [name, value] of params) if (form.elements[name]) form.elements[name].value = value;

function query() {
  const out = new URLSearchParams();
  for (const element of form.elements) if (element.name && element.value !== "") out.set(element.name, element.value);
  return out;
}

function cell(face) {
  const cls = face.final_label === null ? null : config.classes[face.final_label];
  const caption = node(
    "span",
    { className: "caption" },
    node("span", {}, cls ? node("span", { className: "swatch", style: `background:${cls.color}` }) : null, cls ? cls.name : "–"),
    node("span", { className: `tag state-${face.state}`, text: face.state }),
  );
  const title =
    `#${face.id} ${face.source_name || ""}\nvotes: ${face.vote_count}` +
    (face.predicted_class === null ? "" : `\nmodel: ${labelName(face.predicted_class)} (${percent(face.predicted_confidence)})`);
  return node(
    "li",
    { "data-id": face.id },
    node(
      "a",
      { href: `/projects/${config.projectId}/faces/${face.id}/`, title },
      node("img", { src: face.image_url, alt: `Face ${face.id}`, loading: "lazy" }),
      caption,
    ),
  );
}

async function load(reset) {
  const q = query();
  if (!reset && cursor) q.set("after", cursor);
  el("error").textContent = "";
  try {
    const page = await get(`faces/?${q}`);
    if (reset) {
      grid.replaceChildren();
      shown = 0;
    }
    const cells = page.results.map(cell);
    grid.append(...cells);
    shown += page.results.length;
    if (!reset && cells.length) cells[0].querySelector("a").focus();
    cursor = page.next;
    more.hidden = !cursor;
    el("count").textContent = `${plural(shown, "face")} shown${cursor ? "" : " (all)"}`;
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    const body = failure.body || {};
    el("error").textContent =
      body.detail ||
      Object.entries(body)
        .map(([k, v]) => `${k}: ${[].concat(v).join(" ")}`)
        .join("; ");
  }
}

let typing = null;
function apply() {
  clearTimeout(typing);
  history.replaceState(null, "", `?${query()}`);
  cursor = null;
  load(true);
}
form.addEventListener("submit", (event) => {
  event.preventDefault();
  apply();
});
form.addEventListener("change", apply);
// Number fields: follow the typing too, once it pauses.
form.addEventListener("input", (event) => {
  if (event.target.type !== "number") return;
  clearTimeout(typing);
  typing = setTimeout(apply, 400);
});
more.addEventListener("click", () => load(false));
load(true);
