/* A face's record: votes with their annotators, the model's probabilities, similar faces and
near-duplicates, its history; reviewers and owners exclude it or bring it back, and set its label. */

import { ApiError, config, del, get, post } from "./api.js";
import { el, node } from "./dom.js";
import { labelName, percent, plural } from "./format.js";

const id = config.faceId;

function answer(vote) {
  if (vote.kind === "skip") return "skipped";
  const names = vote.classes.map(labelName).join(" or ");
  return vote.kind === "unsure" ? `unsure: ${names}` : names;
}

async function report(action) {
  el("error").textContent = "";
  try {
    await action();
    await load();
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    el("error").textContent = failure.message;
  }
}

async function load() {
  const record = await get(`faces/${id}/`);
  const face = record.face;
  el("title").textContent = `Face ${face.id}${face.source_name ? ` · ${face.source_name}` : ""}`;
  el("face").src = face.image_url;
  el("labels").replaceChildren(
    node("span", { className: `tag state-${face.state}`, text: face.state }),
    ` label: ${labelName(face.final_label)}` +
      (face.reviewed_label !== null ? ` (reviewed; votes said ${labelName(face.label_index)})` : "") +
      (record.imported_label !== null ? ` · imported: ${labelName(record.imported_label)}` : ""),
  );
  el("candidates").textContent =
    `Candidate set: ${record.candidate_set.map(labelName).join(", ") || "none"} · votes per class: ${record.class_votes.join(" / ") || "none"}`;
  el("votes").tBodies[0].replaceChildren(
    ...record.votes.map((v) =>
      node(
        "tr",
        { className: v.retracted_at ? "muted" : "" },
        node("td", { text: v.annotator }),
        node("td", { text: answer(v) + (v.retracted_at ? " (undone)" : "") }),
        node("td", { className: "num", text: (v.time_spent_ms / 1000).toFixed(1) }),
        node("td", { text: new Date(v.created_at).toLocaleString() }),
      ),
    ),
  );
  el("probabilities").replaceChildren(
    ...(record.probabilities || []).map((p, index) =>
      node(
        "li",
        {},
        node("span", { text: labelName(index) }),
        node("span", { className: "bar" }, node("span", { style: `width:${100 * p}%;background:${config.classes[index].color}` })),
        node("span", { className: "num", text: percent(p) }),
      ),
    ),
  );
  el("model-note").textContent = record.probabilities ? `Model version ${record.model_version}.` : "No model has scored this face yet.";
  el("history").replaceChildren(
    ...record.history.map((e) =>
      node("li", {
        text: `${new Date(e.at).toLocaleString()} · ${e.event}${e.who ? ` by ${e.who}` : ""}${e.detail ? ` · ${e.detail}` : ""}`,
      }),
    ),
  );
  if (el("exclude-form")) {
    el("exclude-form").hidden = face.excluded;
    el("include").hidden = !face.excluded;
  }
  const select = el("set-label");
  if (!select.options.length) select.append(...config.classes.map((c) => node("option", { value: c.index, text: c.name })));
  if (face.final_label !== null) select.value = face.final_label;
}

async function loadSimilar() {
  const similar = await get(`faces/${id}/similar/?k=12`);
  el("similar-note").textContent = similar.detail;
  const duplicates = similar.faces.filter((f) => f.near_duplicate && !f.excluded);
  const button = el("exclude-duplicates");
  if (button) {
    button.hidden = !duplicates.length;
    button.textContent = `Exclude its ${plural(duplicates.length, "near-duplicate")}, keep this face`;
    button.onclick = () =>
      report(async () => {
        for (const f of duplicates) await post(`faces/${f.face}/exclusion/`, { reason: "duplicate", note: `near-duplicate of face ${id}` });
        await loadSimilar();
      });
  }
  el("similar").replaceChildren(
    ...similar.faces.map((f) =>
      node(
        "li",
        { className: f.near_duplicate ? "near-duplicate" : "" },
        node(
          "a",
          { href: `/projects/${config.projectId}/faces/${f.face}/`, title: `similarity ${f.similarity}` },
          node("img", { src: f.image_url, alt: `Face ${f.face}`, loading: "lazy" }),
          node(
            "span",
            { className: "caption" },
            node("span", { text: labelName(f.final_label) }),
            node("span", { text: f.near_duplicate ? "near-duplicate" : f.similarity.toFixed(2) }),
          ),
        ),
      ),
    ),
  );
}

if (el("exclude-form")) {
  el("exclude-form").addEventListener("submit", (event) => {
    event.preventDefault();
    report(() => post(`faces/${id}/exclusion/`, { reason: el("exclude-reason").value, note: el("exclude-note").value }));
  });
  el("include").addEventListener("click", () => report(() => del(`faces/${id}/exclusion/`)));
}
el("review").addEventListener("click", () => report(() => post("reviews/", { face: id, label: Number(el("set-label").value) })));

load();
loadSimilar();
