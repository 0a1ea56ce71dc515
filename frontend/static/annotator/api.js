/* FaceLoop: a small client for the REST API (session auth, CSRF header), shared by all pages. */
"use strict";

window.FaceLoop = (function () {
  const config = JSON.parse(document.getElementById("page-config").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const base = `/api/projects/${config.projectId}/`;

  class ApiError extends Error {
    constructor(status, body) {
      super((body && (body.detail || JSON.stringify(body))) || `HTTP ${status}`);
      this.status = status;
      this.code = body && body.code;
    }
  }

  async function request(method, path, body) {
    const options = { method, credentials: "same-origin", headers: { "X-CSRFToken": csrf, Accept: "application/json" } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path.startsWith("/") ? path : base + path, options);
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  function setMeter(element, value, max) {
    element.setAttribute("aria-valuemax", String(max));
    element.setAttribute("aria-valuenow", String(value));
    element.firstElementChild.style.width = `${max ? Math.min(100, (100 * value) / max) : 0}%`;
  }

  /** Resolves with `face` once its `image_url` is loaded (or failed), so showing it never waits. */
  function preload(face) {
    return new Promise((resolve) => {
      const image = new Image();
      image.onload = image.onerror = () => resolve(face);
      image.src = face.image_url;
    });
  }

  return {
    config,
    csrf,
    base,
    ApiError,
    uuid,
    setMeter,
    preload,
    get: (path) => request("GET", path),
    post: (path, body) => request("POST", path, body === undefined ? {} : body),
  };
})();
