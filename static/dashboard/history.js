// A record's history in plain words: the "History" section of each profile, for people with get:history
// ("Dev Patel was cast by auth0|64f1… on 28 November 2026, 13:05"), newest first, 20 at a time.
//
// The history names the records of the other side by id (its snapshots keep a cast as ids). Their names come
// from the records as they are now: the profile's own cast first, then one GET per other id still unnamed,
// remembered while the profile window stays open; an id whose record no longer exists reads "actor #12".

import { api } from "./api.js";
import { KINDS } from "./resources.js";
import { subject } from "./session.js";
import {
  busy, clearAlert, formatDate, formatInstant, h, joinAnd, report, setChildren, timeZone,
} from "./ui.js";

export const HISTORY_PAGE = 20;

// "movies:7" -> "Raids of the Ice" (or null: no such record now). Emptied when the profile window closes.
const names = new Map();

export function forgetNames() {
  names.clear();
}

/** Remember the names a record shows of the other side (its cast, or its movies): they are current. */
function learn(kind, items) {
  const labelField = KINDS[kind].labelField;
  for (const item of items) names.set(`${kind}:${item.id}`, item[labelField]);
}

/** Fetch the names of `ids` (records of `kind`) not known yet, at once; a record that is gone stays unnamed. */
export async function fetchNames(kind, ids) {
  const resource = KINDS[kind];
  const unknown = [...new Set(ids)].filter((id) => !names.has(`${kind}:${id}`));
  await Promise.all(unknown.map(async (id) => {
    try {
      const data = await api.get(`${resource.path}/${id}`);
      names.set(`${kind}:${id}`, data[resource.noun][resource.labelField]);
    } catch (error) {
      if (error.status === 404) names.set(`${kind}:${id}`, null);
      // Anything else (a rate limit, say): unnamed this time, asked again next time.
    }
  }));
}

/** An actor's name, a movie's title in quotes, or "actor #12" / "movie #3" when there is no such record now. */
export function nameOf(kind, id) {
  const resource = KINDS[kind];
  const name = names.get(`${kind}:${id}`);
  if (!name) return `${resource.noun} #${id}`;
  return kind === "movies" ? `“${name}”` : name;
}

function listOf(kind, ids) {
  return joinAnd(ids.map((id) => nameOf(kind, id)));
}

function capitalised(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

function without(ids = [], others = []) {
  const drop = new Set(others);
  return ids.filter((id) => !drop.has(id));
}

/** The ids of the other side an entry names (those it changes, and a created or restored record's cast). */
function idsNamed(entry, castField) {
  const before = entry.before?.[castField] || [];
  const after = entry.after?.[castField] || [];
  if (entry.action === "created" || entry.action === "restored") return after;
  return [...without(after, before), ...without(before, after)];
}

const FIELD_WORDS = {
  movies: [["title", "title", (v) => `“${v}”`], ["release_date", "release date", formatDate]],
  actors: [["name", "name", (v) => `“${v}”`], ["age", "age", String], ["gender", "gender", (v) => `“${v}”`]],
};

/** What an entry about a record of `kind` says happened, as [what, more]: the sentence is `what` by whom on
 * when, then `more` ("Created" … ", with Dev Patel in the cast"). */
export function change(kind, entry) {
  const resource = KINDS[kind];
  const other = resource.other;
  const field = resource.castField;
  const before = entry.before?.[field] || [];
  const after = entry.after?.[field] || [];
  const added = without(after, before);
  const removed = without(before, after);
  const isMovie = kind === "movies";
  switch (entry.action) {
    case "created":
    case "restored": {
      const verb = entry.action === "created" ? "Created" : "Restored";
      const again = entry.action === "restored" ? " again" : "";
      if (!after.length) return [verb, ""];
      return [verb, isMovie ? `, with ${listOf(other, after)} in the cast${again}`
        : `, cast${again} in ${listOf(other, after)}`];
    }
    case "deleted":
      return ["Deleted", ""];
    case "cast":
      return [isMovie ? capitalised(`${listOf(other, added)} ${added.length === 1 ? "was" : "were"} cast`)
        : `Cast in ${listOf(other, added)}`, ""];
    case "uncast":
      return [isMovie ? capitalised(`${listOf(other, removed)} ${removed.length === 1 ? "was" : "were"} removed from the cast`)
        : `Removed from ${listOf(other, removed)}`, ""];
    case "updated": {
      const clauses = [];
      for (const [name, words, shown] of FIELD_WORDS[kind]) {
        const was = entry.before?.[name];
        const now = entry.after?.[name];
        if (was !== now) clauses.push(`${words} changed from ${shown(was)} to ${shown(now)}`);
      }
      const moves = [
        ...added.map((id) => isMovie ? `${nameOf(other, id)} added` : `cast in ${nameOf(other, id)}`),
        ...removed.map((id) => isMovie ? `${nameOf(other, id)} removed` : `removed from ${nameOf(other, id)}`),
      ];
      if (moves.length) clauses.push(`${isMovie ? "cast" : "movies"} changed: ${moves.join(", ")}`);
      return [capitalised(joinAnd(clauses)) || "Changed", ""];
    }
    default:
      return [capitalised(entry.action), ""];
  }
}

/** Who made a change: "you" for the signed-in person's own, else the token subject the history keeps. */
export function whom(entry) {
  return entry.subject === subject() ? "you" : entry.subject;
}

/** whom(), with a long subject free to break anywhere on a narrow screen. */
export function byWhom(entry) {
  return entry.subject === subject() ? "you" : h("span", { class: "subject" }, entry.subject);
}

export function when(entry) {
  return h("time", { datetime: entry.at }, formatInstant(entry.at));
}

/** The profile's "History" section for `record` (of `kind`), which fills itself in; its alerts go to `scope`. */
export function historySection(kind, record, { scope }) {
  const resource = KINDS[kind];
  learn(resource.other, record[resource.other]);
  const headingId = "history-heading";
  const heading = h("h3", { id: headingId, tabindex: "-1" }, "History");
  const status = h("p", { class: "list-status", "aria-live": "polite" });
  const list = h("ul", { class: "history-list", "aria-labelledby": headingId, "aria-busy": "false", hidden: true });
  const showMore = h("button", { type: "button", class: "btn btn-secondary btn-small", hidden: true }, "Show more");
  const section = h("section", { class: "history", "aria-labelledby": headingId }, heading,
    h("p", { class: "hint" }, `Newest first. Times are in your time zone (${timeZone()}).`), status, list, showMore);
  const shown = new Set(); // entry ids: a change made meanwhile moves the older ones down a page
  let page = 0;

  async function load() {
    list.setAttribute("aria-busy", "true");
    status.classList.add("is-loading");
    setChildren(status, h("span", { class: "spinner", "aria-hidden": "true" }), " Loading the history…");
    try {
      const data = await api.get(`${resource.path}/${record.id}/history`, { page: page + 1, per_page: HISTORY_PAGE });
      const entries = data.history.filter((entry) => !shown.has(entry.id));
      await fetchNames(resource.other, entries.flatMap((entry) => idsNamed(entry, resource.castField)));
      if (!section.isConnected) return []; // another profile, or this one drawn again meanwhile
      page += 1;
      clearAlert({ cause: "history" });
      const items = entries.map((entry) => {
        shown.add(entry.id);
        const [what, rest] = change(kind, entry);
        return h("li", {}, what, " by ", byWhom(entry), " on ", when(entry), rest);
      });
      list.append(...items);
      list.hidden = !shown.size;
      status.classList.remove("is-loading");
      setChildren(status, shown.size ? null : `No changes to this ${resource.noun} have been recorded.`);
      status.hidden = Boolean(shown.size);
      showMore.hidden = page * data.per_page >= data.total;
      return items;
    } catch (error) {
      if (!section.isConnected || error.name === "AbortError") return [];
      report(error, { scope, cause: "history" });
      status.classList.remove("is-loading");
      status.hidden = false;
      setChildren(status, "The history could not be loaded. ",
        h("button", { type: "button", class: "btn btn-ghost btn-small", onclick: () => {
          heading.focus(); // the button goes with the message
          load();
        } }, "Try again"));
      return [];
    } finally {
      list.setAttribute("aria-busy", "false");
    }
  }
  showMore.addEventListener("click", async () => {
    const items = await busy(null, load, { button: showMore, label: "Loading…" });
    if (!section.isConnected) return;
    if (!showMore.hidden) {
      showMore.focus();
    } else if (items.length) { // no more to show: on to the first of the older changes
      items[0].tabIndex = -1;
      items[0].focus();
    }
  });
  load();
  return section;
}
