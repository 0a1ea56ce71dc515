/* How the pages write values in words: a class by its name, a share as a percent, a count with its
noun, a job's state in one line. */

import { config } from "./api.js";

/** The name of the project's class `index`, or "none" for no class (null or undefined). */
function labelName(index) {
  return index === null || index === undefined ? "none" : config.classes[index].name;
}

/** A share in 0..1 as a whole percent ("42%"), or "–" for no value (null or undefined). */
function percent(share) {
  return share === null || share === undefined ? "–" : `${Math.round(share * 100)}%`;
}

/** One line about a job: what it is doing, or what a queued job waits for (the server says). */
function describeJob(job, name = `${config.jobKinds?.[job.kind] || job.kind} #${job.id}`) {
  if (job.state === "queued") return `${name}: queued · ${job.waiting_for || "waiting for a worker"}`;
  const parts = [job.state];
  if (job.state === "running") {
    if (job.stage) parts.push(job.stage);
    if (job.epoch) parts.push(`epoch ${job.epoch}`);
    parts.push(percent(job.progress));
  } else if (job.state === "succeeded" && job.epoch) {
    parts.push(plural(job.epoch, "epoch"));
  }
  if (job.loss !== null && job.loss !== undefined) parts.push(`loss ${job.loss.toFixed(3)}`);
  if (job.state === "failed" && job.message) parts.push(job.message);
  return `${name}: ${parts.join(" · ")}`;
}

/** A count with its noun, which takes an "s" unless the count is one: plural(2, "face") is "2 faces". */
function plural(count, noun) {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

export { describeJob, labelName, percent, plural };
