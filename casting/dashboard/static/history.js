// A record's history in plain words: the "History" section of each profile, for people with get:history ("Dev
// Patel was cast as Arjun by Dana Whitfield on 28 November 2026, 13:05"), newest first, 20 at a time. Who made a
// change is the name their token carried (the email on hover), or "you" for the signed-in person's own changes
// (the same token subject).
//
// Entries read true later: the records of the other side are named as the entry kept them, as they were at the time
// of the change (the snapshots' casts, with characters and billing, and `other`, the record on the other side of a
// casting, with what happened to it: "“Echoes of June” was deleted"), and the current name is added when it differs
// ("Cast as Arjun in “Echoes of June” (now “Echoes of July”)"). Current names come from the profile's own cast, then
// from one GET per other record still unknown, at most 20 per page of history, remembered while the profile window
// stays open. Entries made before snapshots kept names (ids only) are named by the current names, or "actor #12"
// when there is no such record now.

import { api } from "./api.js";
import { asCharacter, joinPhrases, roleChange } from "./cast.js";
import { KINDS } from "./resources.js";
import { subject } from "./session.js";
import {
  busy, clearAlert, formatDate, formatInstant, h, joinAnd, report, setChildren, timeZone,
} from "./ui.js";

export const HISTORY_PAGE = 20;
const MAX_LOOKUPS = HISTORY_PAGE; // current names read for one page of entries, at most

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

/** Fetch the current names of `ids` (records of `kind`) not known yet, at most `limit` of them, at once; a record
 * that is gone stays unnamed. */
async function fetchNames(kind, ids, limit) {
  const resource = KINDS[kind];
  const unknown = [...new Set(ids)].filter((id) => !names.has(`${kind}:${id}`)).slice(0, limit);
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

function capitalised(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

/** The other side's records in one of an entry's snapshots (`which`: "before" or "after"), by id, as kept: {label,
 * character, billing}; `label` is undefined in entries made before snapshots kept names (ids only). */
function castIn(entry, which, resource) {
  const kept = entry[which];
  const cast = new Map();
  if (!kept) return cast;
  const labelField = KINDS[resource.other].labelField;
  const shown = kept[resource.other];
  if (Array.isArray(shown)) {
    for (const item of shown) {
      cast.set(item.id, { label: item[labelField], character: item.character ?? null, billing: item.billing ?? null });
    }
  } else {
    for (const id of kept[resource.castField] || []) cast.set(id, { label: undefined, character: null, billing: null });
  }
  return cast;
}

/** What an entry says about the other side: its casts before and after, who was added, removed or changed role. */
function reading(kind, entry) {
  const resource = KINDS[kind];
  const before = castIn(entry, "before", resource);
  const after = castIn(entry, "after", resource);
  const added = [...after.keys()].filter((id) => !before.has(id));
  const removed = [...before.keys()].filter((id) => !after.has(id));
  const recast = [...after.keys()].filter((id) => before.has(id) && roleChange(before.get(id), after.get(id)).length);
  return { resource, before, after, added, removed, recast };
}

/** The ids of the other side an entry names. */
function idsNamed(kind, entry) {
  const { after, added, removed, recast } = reading(kind, entry);
  const ids = entry.action === "created" || entry.action === "restored" ? [...after.keys()]
    : [...added, ...removed, ...recast];
  if (entry.other) ids.push(entry.other.id);
  return ids;
}

/** A record of the other side as the entry names it: as it was then, with its current name when that differs
 * ("“Echoes of June” (now “Echoes of July”)"); by its current name in older entries; "actor #12" when unknown. */
function mention(kind, entry, cast, id) {
  const other = KINDS[KINDS[kind].other];
  const quote = (text) => (other.kind === "movies" ? `“${text}”` : text);
  const then = (entry.other?.id === id ? entry.other[other.labelField] : undefined)
    ?? cast.after.get(id)?.label ?? cast.before.get(id)?.label;
  const now = names.get(`${other.kind}:${id}`);
  if (then === undefined || then === null) return now ? quote(now) : `${other.noun} #${id}`;
  return now && now !== then ? `${quote(then)} (now ${quote(now)})` : quote(then);
}

const FIELD_WORDS = {
  movies: [["title", "title", (v) => `“${v}”`], ["release_date", "release date", formatDate]],
  actors: [["name", "name", (v) => `“${v}”`], ["age", "age", String], ["gender", "gender", (v) => `“${v}”`]],
};

/** " at billing 2", or "". */
function atBilling(role) {
  return role?.billing != null ? ` at billing ${role.billing}` : "";
}

/** What an entry about a record of `kind` says happened, as [what, more]: the sentence is `what` by whom on
 * when, then `more` ("Created" … ", with Dev Patel as Arjun in the cast"). */
export function change(kind, entry) {
  const cast = reading(kind, entry);
  const { before, after, added, removed, recast } = cast;
  const isMovie = kind === "movies";
  const named = (id) => mention(kind, entry, cast, id);
  const list = (ids, roles) => joinAnd(ids.map((id) => `${named(id)}${asCharacter(roles.get(id))}`));
  const happened = entry.other?.action; // what happened to the record on the other side: created, deleted, restored
  const was = (ids) => (ids.length === 1 ? "was" : "were");
  switch (entry.action) {
    case "created":
    case "restored": {
      const verb = entry.action === "created" ? "Created" : "Restored";
      const again = entry.action === "restored" ? " again" : "";
      const ids = [...after.keys()];
      if (!ids.length) return [verb, ""];
      return [verb, isMovie ? `, with ${list(ids, after)} in the cast${again}` : `, cast${again} in ${list(ids, after)}`];
    }
    case "deleted":
      return ["Deleted", ""];
    case "cast": {
      const role = added.length === 1 ? after.get(added[0]) : null;
      const roleWords = `${asCharacter(role)}${atBilling(role)}`;
      if (isMovie) {
        const who = joinAnd(added.map(named));
        if (happened === "created") return [`${capitalised(who)} ${was(added)} created, and cast${roleWords}`, ""];
        if (happened === "restored") return [`${capitalised(who)} ${was(added)} restored, and cast again${roleWords}`, ""];
        return [`${capitalised(who)} ${was(added)} cast${roleWords}`, ""];
      }
      const where = joinAnd(added.map(named));
      if (happened === "created") return [`Cast${asCharacter(role)} in the new movie ${where}${atBilling(role)}`, ""];
      if (happened === "restored") {
        return [`${where} ${was(added)} restored, with them cast again${asCharacter(role)}${atBilling(role)}`, ""];
      }
      return [`Cast${asCharacter(role)} in ${where}${atBilling(role)}`, ""];
    }
    case "uncast": {
      const who = joinAnd(removed.map(named));
      if (happened === "deleted") return [`${capitalised(who)} ${was(removed)} deleted`, ""];
      return [isMovie ? `${capitalised(who)} ${was(removed)} removed from the cast` : `Removed from ${who}`, ""];
    }
    case "updated": {
      const clauses = [];
      for (const [name, words, shown] of FIELD_WORDS[kind]) {
        const then = entry.before?.[name];
        const now = entry.after?.[name];
        if (then !== now) clauses.push(`${words} changed from ${shown(then)} to ${shown(now)}`);
      }
      const roles = recast.map((id) => {
        const role = joinAnd(roleChange(before.get(id), after.get(id)));
        return isMovie ? `${named(id)} ${role}` : `${role} in ${named(id)}`;
      });
      const moves = [
        ...added.map((id) => (isMovie ? `${named(id)} added${asCharacter(after.get(id))}`
          : `cast${asCharacter(after.get(id))} in ${named(id)}`)),
        ...removed.map((id) => (isMovie ? `${named(id)} removed` : `removed from ${named(id)}`)),
      ];
      if (moves.length) roles.push(`${isMovie ? "cast changed" : "movies changed"}: ${moves.join(", ")}`);
      // The fields in one clause ("title changed from … and release date changed from …"), each casting in its own.
      const said = [...(clauses.length ? [joinAnd(clauses)] : []), ...roles];
      return [capitalised(joinPhrases(said)) || "Changed", ""];
    }
    default:
      return [capitalised(entry.action), ""];
  }
}

/** Who made a change, in words: "you" for the signed-in person's own (their token's subject), else the name their
 * token carried (the subject when it carried none). */
export function whom(entry) {
  return entry.subject === subject() ? "you" : (entry.by?.name ?? entry.subject);
}

/** whom(), with the email on hover, and a long name or subject free to break anywhere on a narrow screen. */
export function byWhom(entry) {
  if (entry.subject === subject()) return "you";
  return h("span", { class: "subject", title: entry.by?.email ?? null }, entry.by?.name ?? entry.subject);
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
      await fetchNames(resource.other, entries.flatMap((entry) => idsNamed(kind, entry)), MAX_LOOKUPS);
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
