/* Accepting an invite: the account is created, the project joined and the user signed in by one
request; then the labeling page. */

import { ApiError, config, post } from "./api.js";

document.getElementById("join-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const error = document.getElementById("error");
  error.textContent = "";
  try {
    const joined = await post(`/api/invitations/${encodeURIComponent(config.token)}/`, {
      username: form.elements.username.value.trim(),
      password: form.elements.password.value,
      email: form.elements.email.value,
    });
    location.assign(joined.next);
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    const body = failure.body || {};
    error.textContent = body.detail || Object.values(body).flat().join(" ") || failure.message;
  }
});
