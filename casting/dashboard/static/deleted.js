// "Recently deleted": the movies (or the actors) deleted, newest first, for people who may delete them (and so
// restore them), each with a Restore button. POST /movies/{id}/restore brings the record back with its id, its
// fields and its castings to the records of the other side that still exist; the page names the others.
//
// The list is GET /history?type=movie&action=deleted, 20 entries at a time, less the records restored since:
// one more request per page, for the restores since the oldest delete on it (a restore's entry comes after its
// delete's, so their ids tell which of a record's deletes was undone, whatever the servers' clocks say).

import { api, newKey, request } from "./api.js";
import { byWhom, when, whom } from "./history.js";
import { changed, HISTORY, KINDS, open } from "./resources.js";
import { can } from "./session.js";
import {
  $, busy, clearAlert, closeDialog, formatDate, formatInstant, h, joinAnd, openDialog, plural, report, setChildren,
  showAlert, toast,
} from "./ui.js";

const dialog = $("#deleted-dialog");
const title = $("#deleted-title");
const body = $("#deleted-body");
const PAGE = 20;
const RESTORES_PAGE = 100;
const MAX_PAGES = 5; // read for one "Show more" while every delete on a page was undone since
const CLOCK_SLACK_MS = 5 * 60_000;

let view = null; // the list on screen: {resource, list, status, showMore, page, shown}

$("#deleted-close").addEventListener("click", () => closeDialog(dialog));
dialog.addEventListener("close", () => {
  view = null;
});

/** Restoring takes the permission that deleting does; the list of deletes is read from the history. */
export function mayRestore(resource) {
  return can(resource.can.delete) && can(HISTORY);
}

export function showDeleted(resource) {
  title.textContent = `Recently deleted ${resource.kind}`;
  const status = h("p", { class: "list-status", "aria-live": "polite" });
  const list = h("ul", { class: "deleted-list", "aria-labelledby": "deleted-title", "aria-busy": "false" });
  const showMore = h("button", { type: "button", class: "btn btn-secondary btn-small deleted-more", hidden: true },
    "Show more");
  const v = { resource, list, status, showMore, page: 0, shown: new Set() };
  showMore.addEventListener("click", async () => {
    const items = await busy(null, () => loadMore(v), { button: showMore, label: "Loading…" });
    if (view !== v) return;
    if (!showMore.hidden) {
      showMore.focus();
    } else if (items.length) {
      items[0].tabIndex = -1;
      items[0].focus();
    }
  });
  const explanation = resource.kind === "movies"
    ? "Newest first. Restoring a movie brings it back as it was, with the actors of its cast who still exist."
    : "Newest first. Restoring an actor brings them back as they were, cast again in those of their movies that " +
      "still exist.";
  setChildren(body, h("p", { class: "hint" }, explanation), status, list, showMore);
  clearAlert({ scope: dialog });
  view = v;
  openDialog(dialog, { fallback: () => $(`#${resource.kind}-heading`) });
  loadMore(v);
}

/** The next deletes not undone since (reading on while a whole page of them was undone); their list items. */
async function loadMore(v) {
  const { resource, list, status, showMore } = v;
  list.setAttribute("aria-busy", "true");
  status.hidden = false;
  status.classList.add("is-loading");
  setChildren(status, h("span", { class: "spinner", "aria-hidden": "true" }), ` Loading the deleted ${resource.kind}…`);
  try {
    let items = [];
    let more = true;
    for (let read = 0; more && !items.length && read < MAX_PAGES; read += 1) {
      const next = await deletes(resource, v.page + 1);
      if (view !== v) return [];
      v.page += 1;
      more = next.more;
      items = next.entries.filter((entry) => !v.shown.has(entry.record.id)).map((entry) => {
        v.shown.add(entry.record.id);
        return item(v, entry);
      });
    }
    clearAlert({ cause: "deleted-list" });
    list.append(...items);
    status.classList.remove("is-loading");
    setChildren(status, v.shown.size ? null : `No deleted ${resource.kind}.`);
    status.hidden = Boolean(v.shown.size);
    showMore.hidden = !more;
    return items;
  } catch (error) {
    if (view !== v) return [];
    report(error, { scope: dialog, cause: "deleted-list" });
    status.classList.remove("is-loading");
    setChildren(status, `The deleted ${resource.kind} could not be loaded. `,
      h("button", { type: "button", class: "btn btn-ghost btn-small", onclick: () => {
        title.focus(); // the button goes with the message
        loadMore(v);
      } }, "Try again"));
    return [];
  } finally {
    list.setAttribute("aria-busy", "false");
  }
}

/** Page `page` of the `deleted` entries about `resource`'s records, without those undone since. */
async function deletes(resource, page) {
  const type = resource.noun;
  const data = await api.get("/history", { type, action: "deleted", page, per_page: PAGE });
  const more = page * data.per_page < data.total;
  if (!data.history.length) return { entries: [], more };
  const since = new Date(Date.parse(data.history.at(-1).at) - CLOCK_SLACK_MS).toISOString();
  const lastRestore = new Map(); // record id -> the id of its newest `restored` entry
  for (let restoresPage = 1; restoresPage <= MAX_PAGES; restoresPage += 1) {
    const restores = await api.get("/history", { type, action: "restored", since, page: restoresPage,
      per_page: RESTORES_PAGE });
    for (const entry of restores.history) {
      lastRestore.set(entry.record.id, Math.max(lastRestore.get(entry.record.id) ?? 0, entry.id));
    }
    if (restoresPage * restores.per_page >= restores.total) break;
  }
  return { entries: data.history.filter((entry) => !((lastRestore.get(entry.record.id) ?? 0) > entry.id)), more };
}

function item(v, entry) {
  const { resource } = v;
  const kept = entry.before;
  const label = kept[resource.labelField];
  const cast = kept[resource.castField].length;
  const facts = resource.kind === "movies"
    ? `Released ${formatDate(kept.release_date)} · ${cast ? `${plural(cast, "actor")} in its cast` : "no cast"}`
    : `${kept.age} years old · ${kept.gender} · ${cast ? `in ${plural(cast, "movie")}` : "in no movie"}`;
  const key = newKey(); // this record's one restore, however often it is sent
  const button = h("button", { type: "button", class: "btn btn-secondary btn-small", "aria-label": `Restore ${label}`,
    onclick: () => restore(v, entry, key, button) }, "Restore");
  return h("li", {},
    h("div", { class: "deleted-main" },
      h("h3", { class: "deleted-name" }, label),
      h("p", { class: "card-meta" }, facts),
      h("p", { class: "card-meta" }, "Deleted by ", byWhom(entry), " on ", when(entry))),
    button);
}

/** A movie's title in quotes, an actor's name as it is. */
function named(resource, label) {
  return resource.kind === "movies" ? `“${label}”` : label;
}

async function exists(resource, id) {
  try {
    await api.get(`${resource.path}/${id}`);
    return true;
  } catch {
    return false;
  }
}

async function restore(v, entry, key, button) {
  const { resource } = v;
  const id = entry.record.id;
  const label = entry.before[resource.labelField];
  let back = false; // the record exists again: a 409 that sending again would not change
  let outcome;
  try {
    outcome = await busy(v.list, async () => {
      const data = await request("POST", `${resource.path}/${id}/restore`, { key,
        settled: async (error) => error.status === 409 && (back = await exists(resource, id)) });
      const missing = data[`${resource.other}_not_restored`] || [];
      return { record: data[resource.noun], lost: await deletedNames(resource.other, missing) };
    }, { button, label: "Restoring…" });
  } catch (error) {
    if (view !== v) return;
    if (error.status === 409 && (back || await exists(resource, id))) {
      await restoredAlready(v, id, label);
      return;
    }
    if (error.status === 404) { // its deletion is no longer in the history (purged)
      showAlert(`${named(resource, label)} can no longer be restored: its deletion is ` +
        "no longer in the history.", { scope: dialog, cause: "restore" });
      refresh(v);
      return;
    }
    report(error, { scope: dialog, cause: "restore" });
    return;
  }
  clearAlert({ cause: "restore" });
  closeDialog(dialog);
  changed();
  open(resource.kind, outcome.record.id);
  const shown = named(resource, label);
  toast(`${resource.Noun} ${shown} restored.`);
  if (outcome.lost.length) {
    const one = outcome.lost.length === 1;
    const message = resource.kind === "movies"
      ? `${shown} is back without ${joinAnd(outcome.lost)} in its cast: ${one ? "that actor was" : "those actors were"} ` +
        "deleted meanwhile."
      : `${shown} is back, but not in ${joinAnd(outcome.lost)}: ${one ? "that movie was" : "those movies were"} ` +
        "deleted meanwhile.";
    showAlert(message, { tone: "notice", scope: $("#detail-dialog"), cause: "restore" });
  }
}

/** The names that records of `kind` had when they were deleted (their `deleted` entries), or "movie #3". */
async function deletedNames(kind, ids) {
  const other = KINDS[kind];
  return Promise.all(ids.map(async (id) => {
    try {
      const data = await api.get(`${other.path}/${id}/history`, { action: "deleted", per_page: 1 });
      const name = data.history[0]?.before?.[other.labelField];
      if (name) return kind === "movies" ? `“${name}”` : name;
    } catch {
      // Unnamed: said by its id.
    }
    return `${other.noun} #${id}`;
  }));
}

/** A 409: someone restored the record first. Say who and when, and show the lists as they are now. */
async function restoredAlready(v, id, label) {
  const { resource } = v;
  let by = "";
  try {
    const data = await api.get(`${resource.path}/${id}/history`, { action: "restored", per_page: 1 });
    const last = data.history[0];
    if (last) by = ` by ${whom(last)} on ${formatInstant(last.at)}`;
  } catch {
    // Said without who and when.
  }
  showAlert(`${named(resource, label)} was restored already${by}, so there is nothing to restore: it is back in the list of ` +
    `${resource.kind}.`, { tone: "notice", scope: dialog, cause: "restore" });
  changed();
  title.focus();
  refresh(v);
}

function refresh(v) {
  v.page = 0;
  v.shown.clear();
  setChildren(v.list);
  v.showMore.hidden = true;
  loadMore(v);
}
