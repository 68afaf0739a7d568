// Who is signed in: the access token (kept in memory and sessionStorage, never in a cookie), its
// permissions, and the two ways to get one: Auth0 (Authorization Code with PKCE) or the local issuer.

import { listsQuery } from "./address.js";

const TOKEN_KEY = "casting-agency.token";
const PKCE_KEY = "casting-agency.pkce";
// The name last typed at the development sign-in: the one thing the page keeps in localStorage (the token stays in
// the tab's sessionStorage).
const NAME_KEY = "casting-agency.name";
// The claim that names the person (casting/tokens/claims.py: Auth0's post-login Action, or the local issuer).
const NAME_CLAIM = "https://casting-agency/name";

let settings = null;
let token = null;
let claims = null;

export class SignInError extends Error {}

export function configure(config) {
  settings = config;
}

export function mode() {
  return settings?.mode;
}

// The JWT payload, not verified: the page only uses it to choose which buttons to show;
// the API verifies every request.
export function decodePayload(jwt) {
  const part = String(jwt).split(".")[1];
  if (!part) throw new SignInError("The sign-in service returned something that is not a token.");
  const base64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

export function setToken(jwt) {
  const payload = decodePayload(jwt);
  if (!Array.isArray(payload.permissions)) {
    throw new SignInError("This token carries no permissions: ask an administrator to give your account a role.");
  }
  token = jwt;
  claims = payload;
  sessionStorage.setItem(TOKEN_KEY, jwt);
}

export function clearToken() {
  token = null;
  claims = null;
  sessionStorage.removeItem(TOKEN_KEY);
}

/** The token from an earlier page load of this tab, if it is still valid. */
export function restore() {
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (!saved) return false;
  try {
    setToken(saved);
  } catch {
    clearToken();
    return false;
  }
  if (expired()) {
    clearToken();
    return false;
  }
  return true;
}

export function expiresAt() {
  return claims && typeof claims.exp === "number" ? claims.exp * 1000 : Infinity;
}

export function expired() {
  return Date.now() >= expiresAt();
}

export function currentToken() {
  return token && !expired() ? token : null;
}

export function can(permission) {
  return Boolean(claims) && claims.permissions.includes(permission);
}

/** The token's subject (`sub`): who the history says made a change. */
export function subject() {
  return claims?.sub ?? null;
}

/** The name the token carries for its bearer ("Dana Whitfield"), or null. */
export function personName() {
  const name = claims?.[NAME_CLAIM];
  return typeof name === "string" && name.trim() ? name.trim() : null;
}

export function roleLabel() {
  if (!claims) return "";
  const roles = settings?.roles || [];
  const held = [...claims.permissions].sort().join(" ");
  const known = roles.find((role) => [...role.permissions].sort().join(" ") === held);
  if (known) return known.label;
  if (can("post:movies") && can("delete:movies")) return "Executive Producer";
  if (can("post:actors")) return "Casting Director";
  if (can("get:movies") || can("get:actors")) return "Casting Assistant";
  return "No role";
}

// --- the local issuer (development) ---------------------------------------------------------

/** The name last typed at the development sign-in, or "". */
export function lastName() {
  try {
    return localStorage.getItem(NAME_KEY) || "";
  } catch {
    return ""; // storage may be off: the field then starts empty
  }
}

/** Sign in as `name` (each name is a person of their own in the history) in `role`; the name is remembered for next
 * time when the person typed one (`typed`), forgotten when they emptied the field. */
export async function signInLocally(role, name, typed, request) {
  const body = await request("POST", "/dev/token", { body: { role, name }, auth: false });
  setToken(body.access_token);
  try {
    if (typed) localStorage.setItem(NAME_KEY, name);
    else localStorage.removeItem(NAME_KEY);
  } catch {
    // Not remembered: the person types it again next time.
  }
}

// --- Auth0: Authorization Code with PKCE ------------------------------------------------------

function base64url(bytes) {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(size) {
  return base64url(crypto.getRandomValues(new Uint8Array(size)));
}

function redirectUri() {
  return new URL("/", window.location.href).href;
}

function auth0(path, params) {
  return `https://${settings.domain}${path}?${new URLSearchParams(params)}`;
}

export function auth0Ready() {
  return Boolean(settings?.domain && settings?.client_id && settings?.audience);
}

export async function beginLogin() {
  if (!window.crypto?.subtle) {
    throw new SignInError("Logging in needs a secure page: open the dashboard over HTTPS (or on localhost).");
  }
  const verifier = randomString(32);
  const state = randomString(16);
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  // The lists' part of the address (a search someone shared, say) comes back after the sign-in.
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state, lists: listsQuery() }));
  window.location.assign(auth0("/authorize", {
    response_type: "code",
    client_id: settings.client_id,
    redirect_uri: redirectUri(),
    audience: settings.audience,
    scope: "openid profile email",
    code_challenge: challenge,
    code_challenge_method: "S256",
    state,
  }));
}

/** True when this page load is Auth0 sending the browser back (?code=&state= or ?error=). */
export function isCallback(params) {
  return mode() === "auth0" && params.has("state") && (params.has("code") || params.has("error"));
}

export async function completeLogin(params) {
  const saved = JSON.parse(sessionStorage.getItem(PKCE_KEY) || "null");
  sessionStorage.removeItem(PKCE_KEY);
  window.history.replaceState(null, "", window.location.pathname + listsQuery(String(saved?.lists || "")));
  if (params.has("error")) {
    throw new SignInError(`Auth0 did not sign you in: ${params.get("error_description") || params.get("error")}.`);
  }
  if (!saved || saved.state !== params.get("state")) {
    throw new SignInError("The sign-in answer does not match a request from this tab. Please log in again.");
  }
  let response;
  try {
    response = await fetch(`https://${settings.domain}/oauth/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: settings.client_id,
        code_verifier: saved.verifier,
        code: params.get("code"),
        redirect_uri: redirectUri(),
      }),
    });
  } catch {
    throw new SignInError("Auth0 cannot be reached to finish signing in. Check your connection and try again.");
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok || typeof body.access_token !== "string") {
    throw new SignInError(`Auth0 refused to finish signing in: ${body.error_description || body.error || response.status}.`);
  }
  setToken(body.access_token);
}

/** Forget the token; with Auth0 also end the Auth0 session (the browser leaves the page). */
export function logout() {
  clearToken();
  if (mode() === "auth0" && auth0Ready()) {
    window.location.assign(auth0("/v2/logout", { client_id: settings.client_id, returnTo: redirectUri() }));
    return true;
  }
  return false;
}
