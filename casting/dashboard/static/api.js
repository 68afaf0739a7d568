// The one way this page talks to the API: JSON in, JSON out, the bearer token attached, and every
// failure turned into an ApiError that carries the API's status, message and per-field details.
//
// Writes are safe (docs/api.md, "Safe writes"): each carries an Idempotency-Key, so a write whose answer
// was lost is retried here, a few times, with the same key (the API replays the first answer instead of
// writing twice); changes carry the If-Match their caller gives (the ETag of the version the person is
// looking at), so a change made meanwhile by someone else is refused (412) rather than overwritten.
//
// Reads never go back in time: every answer says the catalogue version it was read or written at
// (Catalogue-Version), and every request sends back the highest seen, so that a deployment with read
// followers answers this page from a database that has its own writes and all it has shown (docs/deployment.md).

import { currentToken } from "./session.js";

/** Fired (as "unauthorized") when the API rejects the token: the page goes back to sign-in. */
export const sessionEvents = new EventTarget();

export class ApiError extends Error {
  constructor(status, message, { details = null, retryAfter = null, requestId = null, etag = null, body = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.details = details;
    this.retryAfter = retryAfter;
    this.requestId = requestId;
    this.etag = etag; // of the record as it is now, on a 412
    this.body = body; // the whole answer (an import's 422 carries its report in `import`)
  }
}

// A keyed write that got no answer (0), or "still in progress" / a collision (409), or a server or proxy
// in trouble, is sent again with the same key after these waits; then the error is the caller's.
export const RETRY_DELAYS_MS = [250, 750, 1500];
const RETRYABLE = new Set([0, 409, 502, 503, 504]);

/** True when a write that failed this way may or may not have been done: send it again with the same key. */
export function outcomeUnknown(error) {
  return error?.name === "ApiError" && RETRYABLE.has(error.status);
}

const etags = new WeakMap();
let catalogueVersion = 0; // the highest Catalogue-Version answered to this page

function noteVersion(response) {
  const version = Number(response.headers.get("Catalogue-Version"));
  if (Number.isSafeInteger(version) && version > catalogueVersion) catalogueVersion = version;
}

/** The ETag the API sent with this answer (a record's envelope), or null. */
export function etagOf(answer) {
  return etags.get(answer) ?? null;
}

/** A new Idempotency-Key: one per intended write, reused only to send that same write again. */
export function newKey() {
  return crypto.randomUUID();
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/** `settled(error)`: an async check the caller may give, true when it knows that sending the write again would
 * change nothing (a restore's 409 for a record that exists again): the error is then the caller's at once. */
/** `file` ({bytes, type}): a body sent as it is, under its own Content-Type (an import's CSV or NDJSON), rather than
 * `body` as JSON. `download`: answer the Response of a 2xx as it is (a file to save), not its JSON. */
export async function request(method, path, { body, file, download, accept, query, auth = true, signal, ifMatch, key,
  settled } = {}) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await send(method, path, { body, file, download, accept, query, auth, signal, ifMatch, key });
    } catch (error) {
      if (!key || !outcomeUnknown(error) || attempt >= RETRY_DELAYS_MS.length) throw error;
      if (settled && await settled(error)) throw error;
      await sleep(RETRY_DELAYS_MS[attempt]);
    }
  }
}

async function send(method, path, { body, file, download, accept, query, auth, signal, ifMatch, key }) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Accept: accept || "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (file) headers["Content-Type"] = file.type;
  if (ifMatch) headers["If-Match"] = ifMatch;
  if (key) headers["Idempotency-Key"] = key;
  if (catalogueVersion) headers["Catalogue-Version"] = String(catalogueVersion);
  if (auth) {
    const token = currentToken();
    if (!token) {
      const error = new ApiError(401, "your session has expired");
      sessionEvents.dispatchEvent(new CustomEvent("unauthorized", { detail: error }));
      throw error;
    }
    headers.Authorization = `Bearer ${token}`;
  }
  let response;
  try {
    response = await fetch(url, {
      method, headers, signal, body: file ? file.bytes : body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "the server cannot be reached");
  }
  noteVersion(response);
  if (download && response.ok) return response;
  let data = null;
  try {
    data = await response.json();
  } catch {
    // Not JSON (a proxy's error page, say): described by the status below.
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data?.message || response.statusText || "request failed", {
      details: data?.details || null,
      retryAfter: response.headers.get("Retry-After"),
      requestId: data?.request_id || response.headers.get("X-Request-ID"),
      etag: response.headers.get("ETag"),
      body: data,
    });
    if (response.status === 401 && auth) {
      sessionEvents.dispatchEvent(new CustomEvent("unauthorized", { detail: error }));
    }
    throw error;
  }
  if (data === null || typeof data !== "object") {
    throw new ApiError(response.status, "the server's answer could not be read");
  }
  const etag = response.headers.get("ETag");
  if (etag) etags.set(data, etag);
  return data;
}

// Every write carries an Idempotency-Key: the caller's (one per intended write, see forms.js), else a new
// one for this call, which covers the retries above. `ifMatch`: the ETag of the version the person saw.
export const api = {
  get: (path, query, signal) => request("GET", path, { query, signal }),
  post: (path, body, { key = newKey() } = {}) => request("POST", path, { body, key }),
  patch: (path, body, { ifMatch, key = newKey() } = {}) => request("PATCH", path, { body, ifMatch, key }),
  // A casting PUT takes no body (cast the actor) or a role; the cast PUT takes the whole cast.
  put: (path, { body, ifMatch, key = newKey() } = {}) => request("PUT", path, { body, ifMatch, key }),
  delete: (path, { ifMatch, key = newKey() } = {}) => request("DELETE", path, { ifMatch, key }),
};
