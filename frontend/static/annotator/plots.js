/* Small SVG plots for the dashboard: bars, a line, a heatmap, progress bars. No library needed. */

import { node } from "./dom.js";
import { describeJob, percent } from "./format.js";

const NS = "http://www.w3.org/2000/svg";

function svg(width, height, label) {
  const root = document.createElementNS(NS, "svg");
  root.setAttribute("viewBox", `0 0 ${width} ${height}`);
  root.setAttribute("role", "img");
  root.setAttribute("aria-label", label);
  root.classList.add("chart");
  const title = document.createElementNS(NS, "title");
  title.textContent = label;
  root.appendChild(title);
  return root;
}

function add(parent, tag, attributes, text) {
  const element = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  parent.appendChild(element);
  return element;
}

function mount(container, chart) {
  container.replaceChildren(chart);
}

function empty(container, text) {
  container.replaceChildren(node("p", { className: "muted", text }));
}

/** Horizontal bars: rows of {label, value, color, note}. */
function bars(container, rows, label) {
  const rowHeight = 26;
  const width = 420;
  const left = 110;
  const height = rows.length * rowHeight + 8;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const reserve = 12 + 7 * Math.max(3, ...rows.map((r) => (r.note || String(r.value)).length));
  const root = svg(width, height, label);
  rows.forEach((row, i) => {
    const y = 4 + i * rowHeight;
    const w = ((width - left - reserve) * row.value) / max;
    add(root, "text", { x: left - 8, y: y + 16, "text-anchor": "end", class: "axis-label" }, row.label);
    add(root, "rect", { x: left, y: y + 3, width: Math.max(w, 1), height: rowHeight - 8, rx: 3, fill: row.color || "#4e79a7" });
    add(root, "text", { x: left + w + 6, y: y + 16, class: "value-label" }, row.note || String(row.value));
  });
  mount(container, root);
}

/** A stacked bar of spent vs left, with the numbers. */
function budget(container, spent, total) {
  const width = 420;
  const root = svg(width, 70, `Budget: ${spent} of ${total} votes spent`);
  const w = total ? ((width - 20) * spent) / total : 0;
  add(root, "rect", { x: 10, y: 10, width: width - 20, height: 26, rx: 4, class: "track" });
  add(root, "rect", { x: 10, y: 10, width: w, height: 26, rx: 4, fill: "#4e79a7" });
  add(root, "text", { x: 10, y: 56, class: "value-label" }, `${spent} spent`);
  add(root, "text", { x: width - 10, y: 56, "text-anchor": "end", class: "value-label" }, `${total - spent} left of ${total}`);
  mount(container, root);
}

/** Lines through points {x, y}: y in [0, 1] (accuracy, a margin), x counts up from 0 (labels used, epoch).
 * A point's optional ``low`` and ``high`` draw a translucent band (the spread over seeds); ``yRange``
 * zooms the y axis (default 0 to 1). */
function line(container, series, label, xLabel = "labels used", yRange = [0, 1]) {
  const width = 640;
  const height = 260;
  const pad = { left: 48, right: 16, top: 12, bottom: 36 };
  // The legend sits above the plot, its entries as wide as their names, wrapping into rows.
  const legend = [];
  let lx = pad.left + 10;
  let ly = pad.top;
  for (const s of series) {
    const w = 40 + 7 * s.name.length;
    if (lx + w > width - pad.right && legend.length) [lx, ly] = [pad.left + 10, ly + 18];
    legend.push({ s, x: lx, y: ly });
    lx += w;
  }
  pad.top = ly + 24;
  const all = series.flatMap((s) => s.points);
  const maxX = Math.max(1, ...all.map((p) => p.x));
  const sx = (x) => pad.left + ((width - pad.left - pad.right) * x) / maxX;
  const [y0, y1] = yRange;
  const sy = (y) => height - pad.bottom - (height - pad.top - pad.bottom) * ((y - y0) / (y1 - y0 || 1));
  const root = svg(width, height, label);
  for (const tick of [0, 0.25, 0.5, 0.75, 1].map((t) => y0 + t * (y1 - y0))) {
    add(root, "line", { x1: pad.left, x2: width - pad.right, y1: sy(tick), y2: sy(tick), class: "grid" });
    add(root, "text", { x: pad.left - 6, y: sy(tick) + 4, "text-anchor": "end", class: "axis-label" }, percent(tick));
  }
  add(root, "text", { x: width / 2, y: height - 6, "text-anchor": "middle", class: "axis-label" }, xLabel);
  add(root, "text", { x: pad.left, y: height - 20, class: "axis-label" }, "0");
  add(root, "text", { x: width - pad.right, y: height - 20, "text-anchor": "end", class: "axis-label" }, String(maxX));
  series.forEach((s) => {
    const points = s.points.filter((p) => p.y !== null && p.y !== undefined);
    if (!points.length) return;
    if (points[0].low !== undefined) {
      const band = [...points.map((p) => `${sx(p.x)},${sy(p.high)}`), ...points.reverse().map((p) => `${sx(p.x)},${sy(p.low)}`)];
      points.reverse();
      add(root, "polygon", { points: band.join(" "), fill: s.color, "fill-opacity": 0.15, stroke: "none" });
    }
    add(root, "polyline", {
      points: points.map((p) => `${sx(p.x)},${sy(p.y)}`).join(" "),
      fill: "none",
      stroke: s.color,
      "stroke-width": 2.5,
    });
    points.forEach((p) => {
      const dot = add(root, "circle", { cx: sx(p.x), cy: sy(p.y), r: 4, fill: s.color });
      add(dot, "title", {}, `${s.name}: ${(p.y * 100).toFixed(1)}% at ${p.x} ${xLabel}`);
    });
  });
  for (const { s, x, y } of legend) {
    add(root, "rect", { x, y, width: 12, height: 12, fill: s.color });
    add(root, "text", { x: x + 16, y: y + 11, class: "axis-label" }, s.name);
  }
  mount(container, root);
}

/** A confusion-matrix heatmap, rows = true class, columns = predicted; shaded by row share,
 * labeled with counts or (``rates``) with each row's shares, so a rare class's row reads as its recall. */
function heatmap(container, matrix, names, label, rates = false) {
  const n = names.length;
  const cell = Math.min(44, Math.floor(340 / n));
  const left = 90;
  const top = 80;
  const root = svg(left + n * cell + 50, top + n * cell + 24, label); // room for the last rotated name
  root.classList.add("heatmap");
  matrix.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    row.forEach((value, j) => {
      const share = value / total;
      const rect = add(root, "rect", {
        x: left + j * cell,
        y: top + i * cell,
        width: cell - 1,
        height: cell - 1,
        fill: `rgba(78,121,167,${0.08 + 0.92 * share})`,
      });
      add(rect, "title", {}, `true ${names[i]}, predicted ${names[j]}: ${value} (${percent(share)} of the row)`);
      const text = rates ? (row.some(Boolean) ? percent(share) : "–") : String(value);
      add(
        root,
        "text",
        {
          x: left + j * cell + cell / 2,
          y: top + i * cell + cell / 2 + 4,
          "text-anchor": "middle",
          class: share > 0.5 ? "cell-label light" : "cell-label",
        },
        text,
      );
    });
    add(root, "text", { x: left - 6, y: top + i * cell + cell / 2 + 4, "text-anchor": "end", class: "axis-label" }, names[i]);
  });
  names.forEach((name, j) => {
    const x = left + j * cell + cell / 2;
    add(root, "text", { x, y: top - 6, transform: `rotate(-45 ${x} ${top - 6})`, class: "axis-label" }, name);
  });
  add(root, "text", { x: 4, y: 14, class: "axis-label" }, `rows: true · columns: predicted${rates ? " · % of each row" : ""}`);
  mount(container, root);
}

/** One row per job: its name, a progress bar and a line of text (what it does, or what it waits for).
 * HTML, not SVG, so the text keeps the page's font size however many jobs there are and however
 * narrow the screen (a scaled SVG shrank it to 9 px). */
function jobs(container, list) {
  if (!list.length) return empty(container, "No jobs yet.");
  const rows = list.map((job) => {
    const bar = node("progress", { max: 1, "aria-label": `${job.kind} job ${job.id} progress` });
    bar.value = job.progress;
    return node("li", { className: `job job-${job.state}` }, bar, node("span", { text: describeJob(job) }));
  });
  container.replaceChildren(node("ul", { className: "job-list", "aria-label": "Worker jobs and their progress" }, ...rows));
}

export { bars, budget, empty, heatmap, jobs, line };
