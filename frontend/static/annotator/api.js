/* FaceLoop: a small client for the REST API (session auth, CSRF header), shared by all pages as an
ES module, and the polling every live page uses. */
const config = JSON.parse(document.getElementById("page-config").textContent);
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const base = `/api/projects/${config.projectId}/`;

/** The CSRF token of the current session. Read from the cookie at each request, because signing
 * in again (in this tab or another) rotates it and the token the page was rendered with stops working. */
function csrfToken() {
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  return cookie ? decodeURIComponent(cookie.slice("csrftoken=".length)) : csrf;
}

/** This browser tab's client id, sent with next-faces and answers, so two tabs of one user get
 * different faces. Kept in sessionStorage: it survives reloads and signing in again in this tab,
 * and each new tab gets its own. (A duplicated tab copies sessionStorage and so shares the id;
 * it then shares leases too, and client ids on answers still keep each answer counted once.) */
const tab = (() => {
  const key = "faceloop.tab";
  let id = sessionStorage.getItem(key);
  if (!id) {
    id = uuid();
    sessionStorage.setItem(key, id);
  }
  return id;
})();

class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.detail || JSON.stringify(body))) || `HTTP ${status}`);
    this.status = status;
    this.body = body; // a 400's messages per field, for forms that show them beside each field
    this.code = body?.code;
  }

  /** 401 or 403 from the API: the session ended (signed out, expired, CSRF token rotated). */
  get signedOut() {
    return this.status === 401 || this.status === 403;
  }

  /** The server's reasons in one line: its `detail`, else every field's messages, else the status line. */
  get reasons() {
    const body = this.body || {};
    return (
      body.detail ||
      Object.values(body)
        .flat()
        .filter((m) => typeof m === "string")
        .join(" ") ||
      this.message
    );
  }
}

async function request(method, path, body) {
  const options = { method, credentials: "same-origin", headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path.startsWith("/") ? path : base + path, options);
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // An HTML page (a proxy's error, a login page) is no answer of the API.
    if (response.ok) throw new ApiError(response.status, { detail: "the server did not answer with JSON" });
  }
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

/**
 * Call `tick` again and again: soon while it reports activity, backing off while nothing changes.
 *
 * Pages learn about new batches, model versions and job progress by polling rather than
 * server-sent events: gunicorn's sync workers would each be held by one open event stream, so
 * a handful of open tabs would take every worker, while a poll is one short request. The
 * back-off keeps an idle page at one request per `slowMs`; a hidden tab polls at most that
 * often, and becoming visible again polls at once.
 *
 * @param {() => Promise<boolean>} tick resolves true when something is happening (a job runs,
 *   the data changed), which brings the next call back to `fastMs`.
 * @returns {{poke: () => void, stop: () => void}} poke polls now; stop ends the loop.
 */
function poll(tick, { fastMs = 2000, slowMs = 30000, factor = 1.6 } = {}) {
  let delay = fastMs;
  let timer = null;
  let running = false;
  let stopped = false;
  async function run() {
    clearTimeout(timer);
    if (stopped || running) return;
    running = true;
    let busy = false;
    try {
      busy = await tick();
    } catch {
      busy = false; // a failed poll backs off like an idle one; tick reports its own errors
    } finally {
      running = false;
    }
    delay = busy ? fastMs : Math.min(slowMs, delay * factor);
    const wait = document.hidden ? slowMs : delay;
    if (!stopped) timer = setTimeout(run, wait);
  }
  const poke = () => {
    delay = fastMs;
    run();
  };
  const onVisible = () => {
    if (!document.hidden) poke();
  };
  document.addEventListener("visibilitychange", onVisible);
  run();
  return {
    poke,
    stop() {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisible);
    },
  };
}

/** The sign-in page, coming back to this page afterwards. */
function signInUrl() {
  return `/accounts/login/?next=${encodeURIComponent(location.pathname + location.search)}`;
}

/** Whether a job still has work ahead (queued or running), so its page keeps polling fast. */
function isActive(job) {
  return job.state === "queued" || job.state === "running";
}

/**
 * POST `formData` (files) to `path` with upload progress, which `fetch` cannot report.
 *
 * @param {(fraction: number) => void} onProgress called with the share of bytes sent so far.
 * @returns {Promise<object>} the API's JSON answer; rejects with an ApiError like `post`.
 */
function upload(path, formData, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path.startsWith("/") ? path : base + path);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      let body = null;
      try {
        body = xhr.responseText ? JSON.parse(xhr.responseText) : {};
      } catch {
        body = { detail: "the server did not answer with JSON" };
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body));
    };
    xhr.onerror = () => reject(new ApiError(0, { detail: "the upload failed (network error)" }));
    xhr.send(formData);
  });
}

/**
 * POST `fields` as a form with `navigator.sendBeacon`, which the browser delivers even while the
 * page is closing. A beacon cannot set headers, so the CSRF token travels in the form's
 * `csrfmiddlewaretoken` field, where Django's CSRF check reads it. Falls back to a keepalive fetch.
 *
 * @returns {boolean} whether the browser queued the request.
 */
export function beacon(path, fields) {
  const body = new URLSearchParams({ ...fields, csrfmiddlewaretoken: csrfToken() });
  const url = path.startsWith("/") ? path : base + path;
  if (navigator.sendBeacon?.(url, body)) return true;
  fetch(url, { method: "POST", body, credentials: "same-origin", keepalive: true }).catch(() => {});
  return false;
}

const get = (path) => request("GET", path);
const post = (path, body) => request("POST", path, body === undefined ? {} : body);
const patch = (path, body) => request("PATCH", path, body);
const put = (path, body) => request("PUT", path, body);
const del = (path) => request("DELETE", path);

export { ApiError, config, del, get, isActive, patch, poll, post, preload, put, setMeter, signInUrl, tab, upload, uuid };
