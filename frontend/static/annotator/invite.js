/* Accepting an invite: a signed-in user joins as themselves; anyone else creates an account (username
and password, no e-mail address), joins and is signed in, by one request. Then the page of their role (reviewers review, others label). */

import { ApiError, config, post } from "./api.js";
import { el } from "./dom.js";

el("join-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const fields = event.target.elements;
  const error = el("error");
  error.textContent = "";
  const body = fields.username ? { username: fields.username.value.trim(), password: fields.password.value } : {};
  try {
    const joined = await post(`/api/invitations/${encodeURIComponent(config.token)}/`, body);
    location.assign(joined.next);
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    error.textContent = failure.reasons;
  }
});
