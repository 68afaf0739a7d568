// The one way this page talks to the API: JSON in, JSON out, the bearer token attached, and every
// failure turned into an ApiError that carries the API's status, message and per-field details.

import { currentToken } from "./session.js";

/** Fired (as "unauthorized") when the API rejects the token: the page goes back to sign-in. */
export const sessionEvents = new EventTarget();

export class ApiError extends Error {
  constructor(status, message, { details = null, retryAfter = null, requestId = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.details = details;
    this.retryAfter = retryAfter;
    this.requestId = requestId;
  }
}

export async function request(method, path, { body, query, auth = true, signal } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
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
      method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "the server cannot be reached");
  }
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
    });
    if (response.status === 401 && auth) {
      sessionEvents.dispatchEvent(new CustomEvent("unauthorized", { detail: error }));
    }
    throw error;
  }
  if (data === null) throw new ApiError(response.status, "the server's answer could not be read");
  return data;
}

export const api = {
  get: (path, query, signal) => request("GET", path, { query, signal }),
  post: (path, body) => request("POST", path, { body }),
  patch: (path, body) => request("PATCH", path, { body }),
  put: (path) => request("PUT", path),
  delete: (path) => request("DELETE", path),
};
