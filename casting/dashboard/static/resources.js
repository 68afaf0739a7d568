// What the page knows about the two kinds of record: their paths, permissions, form fields,
// filters and sort orders (the API's, see docs/api.md), and the event bus between the views.
// (Restoring a deleted record takes the permission that deleting it does.)

import { datePartsInOrder, formatDate } from "./ui.js";

/** "changed" (the catalogue changed: lists reload) and "open" ({kind, id}: show a record). */
export const bus = new EventTarget();

export function changed() {
  bus.dispatchEvent(new Event("changed"));
}

export function open(kind, id, { from } = {}) {
  bus.dispatchEvent(new CustomEvent("open", { detail: { kind, id, from } }));
}

/** Reading the history (GET /history, GET /movies/{id}/history...): the profiles' "History", "Recently deleted". */
export const HISTORY = "get:history";

const GENDERS = ["female", "male", "non-binary"];

export const MOVIES = {
  kind: "movies",
  noun: "movie",
  Noun: "Movie",
  path: "/movies",
  labelField: "title",
  other: "actors",
  castField: "actor_ids", // in the history's snapshots
  can: { create: "post:movies", edit: "patch:movies", delete: "delete:movies", cast: "patch:movies" },
  defaultSort: "-release_date",
  sorts: [
    ["-release_date", "Newest first"],
    ["release_date", "Oldest first"],
    ["title", "Title, A to Z"],
    ["-title", "Title, Z to A"],
    ["-id", "Recently added"],
  ],
  searchLabel: "Search titles",
  filters: [
    { name: "released_after", label: "Released on or after", type: "date" },
    { name: "released_before", label: "Released on or before", type: "date" },
  ],
  fields: (movie = {}) => [
    { name: "title", label: "Title", value: movie.title || "", required: true, hint: "Up to 200 characters.",
      attrs: { autocomplete: "off", maxlength: 200 } },
    { name: "release_date", label: "Release date", type: "date", value: movie.release_date || "", required: true,
      hint: `Pick it from the calendar, or type ${datePartsInOrder()}.` },
  ],
  // Called once the form's own checks passed (ui.fieldProblems): every required field has a value.
  body: (value) => ({ title: value("title"), release_date: value("release_date") }),
};

export const ACTORS = {
  kind: "actors",
  noun: "actor",
  Noun: "Actor",
  path: "/actors",
  labelField: "name",
  other: "movies",
  castField: "movie_ids",
  can: { create: "post:actors", edit: "patch:actors", delete: "delete:actors", cast: "patch:movies" },
  defaultSort: "name",
  sorts: [
    ["name", "Name, A to Z"],
    ["-name", "Name, Z to A"],
    ["age", "Youngest first"],
    ["-age", "Oldest first"],
    ["-id", "Recently added"],
  ],
  searchLabel: "Search names",
  filters: [
    { name: "gender", label: "Gender", type: "text", list: GENDERS, attrs: { autocomplete: "off" } },
    { name: "min_age", label: "Minimum age", type: "number", attrs: { min: 0, max: 150, inputmode: "numeric" } },
    { name: "max_age", label: "Maximum age", type: "number", attrs: { min: 0, max: 150, inputmode: "numeric" } },
  ],
  fields: (actor = {}) => [
    { name: "name", label: "Name", value: actor.name || "", required: true, hint: "Up to 100 characters.",
      attrs: { autocomplete: "off", maxlength: 100 } },
    { name: "age", label: "Age", type: "number", value: actor.age ?? "", required: true, hint: "In years, 0 to 150.",
      attrs: { inputmode: "numeric" } },
    { name: "gender", label: "Gender", value: actor.gender || "", required: true, list: GENDERS,
      hint: "As the actor describes it, for example female, male or non-binary.", attrs: { autocomplete: "off" } },
  ],
  // A number field's value is a number once the form's checks passed; the API judges the rest (whole, 0 to 150).
  body: (value) => ({ name: value("name"), age: Number(value("age")), gender: value("gender") }),
};

export const KINDS = { movies: MOVIES, actors: ACTORS };

export function summaryLine(kind, record) {
  return kind === "movies" ? record.release_date.slice(0, 4) : `${record.age} · ${record.gender}`;
}

/** A field's value in words: a date as the page writes dates, a number as it is, text in quotes. */
export function shownValue(spec, value) {
  if (spec.type === "date") return formatDate(value);
  return spec.type === "number" ? String(value) : `“${value}”`;
}

/** The fields of `resource` that differ between two versions of a record, in words: ["release date to 14 May
 * 2027", ...] (each `prefix`ed, "its " say). */
export function changedFields(resource, before, after, prefix = "") {
  const was = Object.fromEntries(resource.fields(before).map((spec) => [spec.name, String(spec.value)]));
  return resource.fields(after).filter((spec) => String(spec.value) !== was[spec.name])
    .map((spec) => `${prefix}${spec.label.toLowerCase()} to ${shownValue(spec, String(spec.value))}`);
}
