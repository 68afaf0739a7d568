// Small DOM helpers: building elements (text only, never HTML strings), alerts and toasts,
// native dialogs that give focus back, field errors, and words for what went wrong.

import { roleLabel } from "./session.js";

/** h("button", {class: "btn", onclick}, "Save") -> an element; strings become text nodes. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      element.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, value);
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Like element.replaceChildren(), minus the null / false children that it would show as text ("null"). */
export function setChildren(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

// --- dialogs ---------------------------------------------------------------------------------

const openDialogs = [];

/** showModal() a native <dialog>; on close, focus goes back where it was (or to `fallback()`). */
export function openDialog(dialog, { fallback } = {}) {
  if (dialog.open) return;
  const opener = document.activeElement;
  openDialogs.push(dialog);
  dialog.addEventListener("close", () => {
    const index = openDialogs.indexOf(dialog);
    if (index >= 0) openDialogs.splice(index, 1);
    clearAlert({ scope: dialog });
    $(".status-region", dialog)?.replaceChildren();
    const target = opener && opener.isConnected && !opener.closest("[hidden]") ? opener : fallback?.();
    target?.focus?.();
  }, { once: true });
  $("#toast").replaceChildren(); // a page toast would sit under the dialog's backdrop
  dialog.showModal();
}

export function closeDialog(dialog, value = "") {
  if (dialog.open) dialog.close(value);
}

export function topDialog() {
  // `open` turns false as soon as close() runs; the "close" event that updates the stack comes later.
  return openDialogs.findLast((dialog) => dialog.open) || null;
}

export function closeAllDialogs() {
  for (const dialog of [...openDialogs].reverse()) closeDialog(dialog);
}

// --- alerts and toasts -----------------------------------------------------------------------

// An alert names its cause ("movies-list", "casting"...): a newer message for the same cause replaces it,
// and clearAlert({cause}) removes it once the cause is gone (the list loaded, the casting went through).
// The same message for two causes is shown once, and stays until both are gone.
const ACTION = "action";

function alertRegion(scope) {
  if (scope === "page") return $("#page-alert");
  const root = scope || topDialog();
  return (root && $(".alert-region", root)) || $("#page-alert");
}

function causes(box) {
  return box.dataset.causes.split(" ");
}

function forget(region, cause) {
  for (const box of region.querySelectorAll(".alert")) {
    const left = causes(box).filter((other) => other !== cause);
    if (left.length) box.dataset.causes = left.join(" ");
    else box.remove();
  }
}

/** A message in the visible alert region (role="alert") of `scope`: a dialog, "page", or (by default) the
 * open dialog if any, else the page. */
export function showAlert(message, { tone = "error", scope, cause = ACTION } = {}) {
  const region = alertRegion(scope);
  forget(region, cause);
  const same = [...region.querySelectorAll(".alert")].find((box) => box.firstChild.textContent === message);
  if (same) {
    same.dataset.causes = [...causes(same), cause].join(" ");
    return;
  }
  const dismiss = h("button", { type: "button", class: "alert-dismiss", "aria-label": "Dismiss this message" }, "×");
  const box = h("div", { class: ["alert", `alert-${tone}`], dataset: { causes: cause } }, h("p", {}, message), dismiss);
  dismiss.addEventListener("click", () => {
    box.remove();
    (topDialog() || $("#main")).focus?.();
  });
  region.append(box);
}

/** Show what went wrong (options as showAlert's); a 401 is left to the sign-in screen, which says it once. */
export function report(error, options) {
  if (error?.name === "AbortError" || error?.status === 401) return;
  showAlert(describeError(error), options);
}

/** With `cause`: take that cause's message away, wherever it is. Without: empty `scope`'s region (the page's). */
export function clearAlert({ scope, cause } = {}) {
  if (cause) {
    for (const region of document.querySelectorAll(".alert-region")) forget(region, cause);
    return;
  }
  const region = scope ? $(".alert-region", scope) : $("#page-alert");
  region?.replaceChildren();
}

let toastTimer = null;

/** A short confirmation ("Movie created."), announced politely, in the open dialog's status line (under its
 * scrolling body: it covers nothing) or the page's (under the header, in the flow). It goes after a few seconds;
 * with `linger` (news worth reading in full: what a save merged) it stays, with a button to dismiss it, until
 * the next one or until the dialog closes. */
export function toast(message, { linger = false } = {}) {
  const region = (topDialog() && $(".status-region", topDialog())) || $("#toast");
  for (const other of document.querySelectorAll(".status-region")) if (other !== region) other.replaceChildren();
  clearTimeout(toastTimer);
  const dismiss = linger ? h("button", { type: "button", class: "alert-dismiss", "aria-label": "Dismiss this message",
    onclick: () => {
      region.replaceChildren();
      (topDialog() || $("#main")).focus?.();
    } }, "×") : null;
  setChildren(region, h("div", { class: ["toast", linger && "toast-lingering"] }, h("p", {}, message), dismiss));
  if (!linger) toastTimer = setTimeout(() => region.replaceChildren(), 6000);
}

// --- errors in words people understand --------------------------------------------------------

export function sentence(text) {
  const trimmed = String(text || "").trim().replace(/[.\s]+$/, "");
  return trimmed ? trimmed[0].toUpperCase() + trimmed.slice(1) + "." : "";
}

function seconds(error) {
  const value = Number.parseInt(error.retryAfter, 10);
  return Number.isFinite(value) && value > 0 ? `${value} second${value === 1 ? "" : "s"}` : "a few seconds";
}

export function describeError(error) {
  if (!error || error.name !== "ApiError") {
    return `Something went wrong in this page: ${error?.message || error}. Reload the page and try again.`;
  }
  switch (error.status) {
    case 0:
      return "The server cannot be reached. Check your connection and try again.";
    case 401:
      return `You are no longer signed in (${error.message}). Please sign in again.`;
    case 403:
      return `Not allowed: you are signed in as ${roleLabel() || "a user"}, and that role cannot do this ` +
        `(${error.message}). Ask an Executive Producer if it needs doing.`;
    case 404:
      return `${sentence(error.message)} It may have just been deleted by someone else; the lists are refreshed.`;
    case 409:
      if (error.message.includes("still in progress")) {
        return "The server is still working on your earlier attempt. Wait a moment and try again: " +
          "it will not be done twice.";
      }
      return "Someone else changed this record at the same moment, so nothing was saved. " +
        "Look at the refreshed record and try again.";
    case 412:
      return "Someone else changed this record after this page showed it, so nothing was saved. " +
        "Open it again to see it as it is now, and redo your change.";
    case 413:
      return "That is too much data to send at once.";
    case 422:
      return `Some fields need attention: ${error.message}.`;
    case 429:
      return `Too many requests in a short time. Please wait ${seconds(error)} and try again.`;
    case 503:
      return `The service is temporarily unavailable (${error.message}). Please try again in ${seconds(error)}.`;
    default:
      if (error.status >= 500) {
        return "Something went wrong on the server. If it keeps happening, quote this reference: " +
          `${error.requestId || "none"}.`;
      }
      return `The request was refused: ${sentence(error.message)}`;
  }
}

// --- forms ------------------------------------------------------------------------------------

// The dates the API takes (YYYY-MM-DD): this also keeps the browser's date control to a four-digit year.
const DATE_RANGE = { min: "0001-01-01", max: "9999-12-31" };

/** A labelled input with a hint and a (hidden) error line, wired with aria-describedby. */
export function field({ id, name, label, type = "text", value = "", hint, required = false, attrs = {}, options, list }) {
  const hintId = hint ? `${id}-hint` : null;
  const control = options
    ? h("select", { id, name, ...attrs }, options.map(([optionValue, text]) =>
      h("option", { value: optionValue, selected: String(optionValue) === String(value) }, text)))
    : h("input", { id, name, type, value, required, "aria-required": required ? "true" : null,
      list: list ? `${id}-list` : null, ...(type === "date" ? DATE_RANGE : {}), ...attrs });
  if (hintId) control.setAttribute("aria-describedby", hintId);
  control.dataset.hint = hintId || "";
  return h("div", { class: "field", dataset: { field: name } },
    h("label", { for: id }, label, required ? h("span", { class: "required", "aria-hidden": "true" }, " *") : null),
    control,
    list ? h("datalist", { id: `${id}-list` }, list.map((option) => h("option", { value: option }))) : null,
    hint ? h("p", { id: hintId, class: "hint" }, hint) : null,
    h("p", { id: `${id}-error`, class: "field-error", hidden: true }));
}

/** What the browser already knows is wrong before anything is sent, in showFieldErrors' shape: an empty
 * required field, a date or a number typed only in part (its value is then empty). One wording for a field,
 * whichever form it is in, and in the words of the control people see, not of the API's YYYY-MM-DD. */
export function fieldProblems(root) {
  const problems = {};
  for (const control of root.querySelectorAll("input, select")) {
    let problem = null;
    if (control.validity.badInput) {
      problem = control.type === "date" ? `is not a whole date: fill in ${datePartsInOrder()} (four digits)`
        : "must be a number";
    } else if (control.required && !control.value.trim()) {
      problem = "is required";
    }
    if (problem) problems[control.name] = [problem];
  }
  return problems;
}

export function clearFieldErrors(root) {
  for (const control of root.querySelectorAll("[aria-invalid]")) {
    control.removeAttribute("aria-invalid");
    if (control.dataset.hint) control.setAttribute("aria-describedby", control.dataset.hint);
    else control.removeAttribute("aria-describedby");
  }
  for (const line of root.querySelectorAll(".field-error")) {
    line.hidden = true;
    line.textContent = "";
  }
}

/** Put each `details` message beside the control named by its key (focused, the first one, unless `focus` is
 * false); return the keys with no control. */
export function showFieldErrors(root, details, { focus = true } = {}) {
  clearFieldErrors(root);
  const unplaced = [];
  let first = null;
  for (const [name, messages] of Object.entries(details || {})) {
    const control = root.querySelector(`[name="${CSS.escape(name)}"]`);
    const line = control && root.querySelector(`#${CSS.escape(control.id)}-error`);
    if (!line) {
      unplaced.push(name);
      continue;
    }
    line.textContent = `${labelText(root, control)} ${messages.join("; ")}.`;
    line.hidden = false;
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", [line.id, control.dataset.hint].filter(Boolean).join(" "));
    first ??= control;
  }
  if (focus) first?.focus();
  return unplaced;
}

function labelText(root, control) {
  const label = root.querySelector(`label[for="${CSS.escape(control.id)}"]`);
  return (label?.firstChild?.textContent || control.name).trim();
}

/** aria-busy on `region` and a disabled, relabelled `button` while `work` runs. */
export async function busy(region, work, { button, label } = {}) {
  region?.setAttribute("aria-busy", "true");
  const original = button?.textContent;
  if (button) {
    button.disabled = true;
    if (label) button.textContent = label;
  }
  try {
    return await work();
  } finally {
    region?.setAttribute("aria-busy", "false");
    if (button) {
      button.disabled = false;
      button.textContent = original;
    }
  }
}

// --- formatting -------------------------------------------------------------------------------

// Dates and times are written in the viewer's own locale (the browser's language), as the browser's date
// control orders its day, month and year: "12 March 2027" in en-GB, "March 12, 2027" in en-US.
const longDate = new Intl.DateTimeFormat(undefined, { dateStyle: "long", timeZone: "UTC" });

function utcDate(iso) {
  const [year, month, day] = iso.split("-").map(Number);
  return new Date(Date.UTC(year, month - 1, day));
}

export function formatDate(iso) {
  return iso ? longDate.format(utcDate(iso)) : "";
}

/** The order in which the viewer's locale writes a date's parts, in words: "the day, the month and the year"
 * (en-GB), "the month, the day and the year" (en-US); the browser's date control asks for them in that order. */
export function datePartsInOrder() {
  const parts = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "numeric", year: "numeric" })
    .formatToParts(new Date(Date.UTC(2003, 1, 1)));
  const order = parts.map((part) => part.type).filter((type) => ["day", "month", "year"].includes(type));
  return joinAnd((order.length === 3 ? order : ["day", "month", "year"]).map((type) => `the ${type}`));
}

// Instants (the history's, in UTC) are shown in the viewer's own time zone, which the page names.
const day = new Intl.DateTimeFormat(undefined, { dateStyle: "long" });
const clock = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });

/** "2026-11-28T13:05:09.123Z" -> "28 November 2026, 13:05" in the viewer's time zone (en-GB), "November 28,
 * 2026, 1:05 PM" (en-US). */
export function formatInstant(iso) {
  const moment = new Date(iso);
  return `${day.format(moment)}, ${clock.format(moment)}`;
}

/** The viewer's time zone, as the browser names it ("Europe/Paris"). */
export function timeZone() {
  return day.resolvedOptions().timeZone;
}

/** ["a", "b", "c"] -> "a, b and c". */
export function joinAnd(items) {
  return items.length < 2 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

export function initials(text) {
  const words = String(text).split(/\s+/).filter((word) => /^[\p{L}\p{N}]/u.test(word));
  const significant = words.filter((word) => !/^(the|a|an|of|and|to|in)$/i.test(word));
  return ((significant.length ? significant : words).slice(0, 2).map((word) => word[0]).join("") || "?")
    .toUpperCase();
}

export function hue(id) {
  return `hue-${Number(id) % 8}`;
}

export function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}
