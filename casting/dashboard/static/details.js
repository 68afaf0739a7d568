// A movie's or an actor's profile in a dialog: facts, edit / delete, who is cast in what (cast and uncast
// from either side), and its history for those who may read it. Following a name inside opens that profile;
// "Back" returns.
//
// The profile keeps the ETag of the version it shows, and every change made from it sends that ETag
// (If-Match): when someone else changed the record meanwhile, the API writes nothing (412), and the profile
// shows the record as it is now, saying so, for the person to redo their change.

import { api, ApiError, etagOf } from "./api.js";
import { castList } from "./cast.js";
import { confirmDelete, editRecord } from "./forms.js";
import { forgetNames, historySection } from "./history.js";
import { bus, changed, changedFields, HISTORY, KINDS, MOVIES, open } from "./resources.js";
import { can } from "./session.js";
import {
  $, busy, clearAlert, closeAllDialogs, closeDialog, field, formatDate, h, hue, initials, joinAnd, openDialog, plural,
  report, setChildren, showAlert, toast,
} from "./ui.js";

const dialog = $("#detail-dialog");
const title = $("#detail-title");
const body = $("#detail-body");
const back = $("#detail-back");
const PICKER_SIZE = 50;
const SEARCH_DELAY_MS = 250;

let trail = []; // the profiles to go back to: [{kind, id, label}]
let current = null; // {kind, record, etag}: the version on screen

title.setAttribute("tabindex", "-1");
$("#detail-close").addEventListener("click", () => closeDialog(dialog));
dialog.addEventListener("close", () => {
  trail = [];
  current = null;
  forgetNames();
});
back.addEventListener("click", () => {
  const previous = trail.pop();
  if (previous) load(previous.kind, previous.id, { focusTitle: true });
});
bus.addEventListener("open", (event) => {
  const { kind, id, from } = event.detail;
  // News and alerts about the previous profile.
  $(".status-region", dialog).replaceChildren();
  clearAlert({ scope: dialog });
  if (from) trail.push(from);
  else trail = [];
  if (!dialog.open) openDialog(dialog, { fallback: () => $(`#${kind}-heading`) });
  load(kind, id, { focusTitle: Boolean(from) });
});

/** Show a record; `refresh` keeps the current one on screen (busy) until the new data is in. */
async function load(kind, id, { focusTitle = false, refresh = false } = {}) {
  const resource = KINDS[kind];
  body.setAttribute("aria-busy", "true");
  if (!refresh) {
    title.textContent = `Loading the ${resource.noun}…`;
    back.hidden = true;
    setChildren(body, h("p", { class: "list-status is-loading" },
      h("span", { class: "spinner", "aria-hidden": "true" }), ` Loading the ${resource.noun}…`));
  }
  try {
    const data = await api.get(`${resource.path}/${id}`);
    if (!dialog.open) return;
    clearAlert({ cause: "profile" });
    render(kind, data[resource.noun], etagOf(data));
    if (focusTitle) title.focus();
  } catch (error) {
    if (error.status === 404) {
      closeAllDialogs();
      changed();
    }
    report(error, { scope: dialog.open ? dialog : undefined, cause: "profile" });
    title.textContent = `This ${resource.noun} could not be shown`;
    setChildren(body, h("p", { class: "hint" }, "Close this window and try again."));
  } finally {
    body.setAttribute("aria-busy", "false");
  }
}

function reload() {
  if (current) return load(current.kind, current.record.id, { refresh: true });
}

/** After a 412: the record as it is now, and why nothing was done (`undone`) and what to do (`redo`). */
async function showConflict(subject, undone, redo) {
  changed();
  await reload();
  if (!dialog.open) return; // gone meanwhile: load() said so
  showAlert(`Someone else changed ${subject} after this page showed it, so ${undone}. ` +
    `It is shown here as it is now: ${redo} if you still want to.`, { scope: dialog, cause: "conflict" });
  title.focus();
}

function render(kind, record, etag) {
  const resource = KINDS[kind];
  current = { kind, record, etag };
  clearAlert({ cause: "conflict" }); // a newer version is on screen
  const label = record[resource.labelField];
  title.textContent = label;
  const previous = trail.at(-1);
  back.hidden = !previous;
  back.textContent = previous ? `‹ Back to ${previous.label}` : "";

  const facts = kind === "movies"
    ? h("div", { class: "profile" },
      h("div", { class: ["poster", "poster-large", hue(record.id)], "aria-hidden": "true" },
        h("span", { class: "poster-initials" }, initials(label)),
        h("span", { class: "poster-year" }, record.release_date.slice(0, 4))),
      h("dl", { class: "facts" },
        h("dt", {}, "Release date"), h("dd", {}, formatDate(record.release_date)),
        h("dt", {}, "Cast"), h("dd", {}, plural(record.actors.length, "actor")),
        h("dt", {}, "Record"), h("dd", {}, `Movie #${record.id}`)))
    : h("div", { class: "profile" },
      h("div", { class: ["avatar", "avatar-large", hue(record.id)], "aria-hidden": "true" }, initials(label)),
      h("dl", { class: "facts" },
        h("dt", {}, "Age"), h("dd", {}, `${record.age} years old`),
        h("dt", {}, "Gender"), h("dd", {}, record.gender),
        h("dt", {}, "Record"), h("dd", {}, `Actor #${record.id}`)));

  const actions = [];
  if (can(resource.can.edit)) {
    actions.push(h("button", { type: "button", class: "btn btn-secondary", id: "detail-edit",
      onclick: () => editRecord(resource, record, {
        etag,
        onSaved: (updated, newEtag) => render(kind, updated, newEtag),
        onConflict: (now, newEtag) => render(kind, now, newEtag),
        fallback: () => $("#detail-edit"), // the button that opened the form was drawn again meanwhile
      }) }, `Edit ${resource.noun}`));
  }
  if (can(resource.can.delete)) {
    actions.push(h("button", { type: "button", class: "btn btn-danger-outline",
      onclick: () => confirmDelete(resource, record, {
        etag,
        onDeleted: () => closeDialog(dialog),
        onConflict: () => showConflict(`this ${resource.noun}`, "it was not deleted", "delete it again"),
      }) }, `Delete ${resource.noun}`));
  }
  setChildren(body,
    facts,
    actions.length ? h("div", { class: "actions" }, actions) : null,
    castingSection(kind, record, etag),
    can(resource.can.cast) ? castingForm(kind, record, etag) : null,
    can(HISTORY) ? historySection(kind, record, { scope: dialog }) : null,
  );
}

// --- the other side of the casting ------------------------------------------------------------

function castingSection(kind, record, etag) {
  const resource = KINDS[kind];
  const other = KINDS[resource.other];
  const linked = record[resource.other];
  const headingId = `linked-${resource.other}`;
  const heading = h("h3", { id: headingId, tabindex: "-1" }, kind === "movies"
    ? `Cast (${linked.length})` : `Movies (${linked.length})`);
  if (!linked.length) {
    return h("section", { class: "linked", "aria-labelledby": headingId }, heading,
      h("p", { class: "hint" }, kind === "movies" ? "No one is cast in this movie yet." : "Not cast in any movie yet."));
  }
  const from = { kind, id: record.id, label: record[resource.labelField] };
  const removeButton = (item) => (can(resource.can.cast)
    ? h("button", { type: "button", class: "btn btn-ghost btn-small",
      "aria-label": kind === "movies" ? `Remove ${item[other.labelField]} from the cast`
        : `Remove from ${item[other.labelField]}`,
      onclick: (event) => uncast(kind, record, etag, item, event.currentTarget) }, "Remove")
    : null);
  if (kind === "movies") {
    const editable = can(resource.can.cast);
    return h("section", { class: "linked", "aria-labelledby": headingId }, heading,
      editable ? h("p", { class: "hint linked-hint" }, "In billing order. “Move up” on an actor who is not billed " +
        "bills them, after the others; “Move down” on the last billed actor takes their billing away.") : null,
      castList(record, etag, castContext(record, removeButton)));
  }
  // An actor's movies, each with the character played there and the billing.
  const items = linked.map((item) => {
    const itemLabel = item[other.labelField];
    const follow = h("button", { type: "button", class: "link-button",
      onclick: () => open(other.kind, item.id, { from }) }, itemLabel);
    return h("li", {}, h("span", { class: ["dot", hue(item.id)], "aria-hidden": "true" }, initials(itemLabel)),
      h("div", { class: "cast-main" }, follow,
        item.character ? h("span", { class: "character" }, " as ", item.character) : null,
        item.billing != null ? h("span", { class: "billing-note" }, `Billing ${item.billing}`) : null),
      removeButton(item));
  });
  return h("section", { class: "linked", "aria-labelledby": headingId }, heading,
    h("ul", { class: "linked-list", "aria-labelledby": headingId }, items));
}

/** What the cast list of a movie's profile (cast.js) needs of the profile. */
function castContext(record, removeButton) {
  return {
    editable: can(MOVIES.can.cast),
    follow: (item) => open("actors", item.id, { from: { kind: "movies", id: record.id, label: record.title } }),
    removeButton,
    show: (movie, etag) => {
      changed();
      render("movies", movie, etag);
    },
    done: (movie, etag, message, { linger = false, focus } = {}) => {
      clearAlert({ cause: "casting" });
      changed();
      render("movies", movie, etag);
      toast(message, { linger });
      (focus?.() || title).focus();
    },
    conflict: (message, focus) => {
      $(".status-region", dialog).replaceChildren(); // an earlier confirmation is not news about this
      showAlert(message, { scope: dialog, cause: "conflict" });
      (focus?.() || title).focus();
    },
    failed: (error) => castingFailed(error, "movies", null, "", ""),
    busy: (work, button) => busy(body, work, { button, label: button ? "Saving…" : undefined }),
  };
}

function castingPath(kind, record, otherId) {
  return kind === "movies" ? `/movies/${record.id}/actors/${otherId}` : `/movies/${otherId}/actors/${record.id}`;
}

/** PUT or DELETE a casting with If-Match, which the API compares with the CAST part of the movie's ETag only: a
 * change to the movie's title or release date (or to a name in its cast) does not refuse it, a change to its cast
 * does. Answers {answer, now}: the API's answer (the movie) and the record of the profile as it was just before.
 *
 * On a movie's profile If-Match is the ETag of the movie on screen: the cast the person sees. On an actor's profile
 * the page holds no ETag of the movie. The person sees the actor's movies, so it first checks that those are still
 * the ones on screen (else nothing is sent: a conflict, as on a movie's profile; a change to the actor's name, age
 * or gender, or to a movie's title, is none), then sends the movie's ETag as read right then, which refuses a
 * change to the movie's cast in between. */
async function sendCasting(method, kind, record, etag, otherId) {
  const path = castingPath(kind, record, otherId);
  if (kind === "movies") {
    const answer = await api[method](path, { ifMatch: etag });
    return { answer, now: answer.movie };
  }
  const [actorNow, movieNow] = await Promise.all([api.get(`/actors/${record.id}`), api.get(`/movies/${otherId}`)]);
  const movieIds = (actor) => actor.movies.map((movie) => movie.id).sort((a, b) => a - b).join(",");
  if (movieIds(actorNow.actor) !== movieIds(record)) {
    throw Object.assign(new ApiError(412, "the actor's movies changed after this page showed them"),
      { subject: "this actor" });
  }
  return { answer: await api[method](path, { ifMatch: etagOf(movieNow) }), now: actorNow.actor };
}

/** " Meanwhile someone else changed its title to “Copper Skies”." when the record's own fields changed since the
 * profile showed it (a casting still goes through: it is shown as it is now), else "". */
function meanwhile(kind, record, now) {
  const words = changedFields(KINDS[kind], record, now, kind === "movies" ? "its " : "their ");
  return words.length ? ` Meanwhile someone else changed ${joinAnd(words)}.` : "";
}

/** The casting went through: show the record as it is now (a movie's is the answer; an actor's is read again). */
async function castingDone(kind, answer) {
  clearAlert({ cause: "casting" });
  changed();
  if (kind === "movies") render(kind, answer.movie, etagOf(answer));
  else await reload();
}

/** The casting was refused: a 412 shows the record as it is now; a 404 (a record gone) refreshes. */
function castingFailed(error, kind, movieLabel, undone, redo) {
  if (error.status === 412) {
    const subject = error.subject || (kind === "movies" ? "this movie" : movieLabel);
    showConflict(subject, undone, redo);
    return;
  }
  report(error, { scope: dialog, cause: "casting" });
  if (error.status === 404) {
    changed();
    reload();
  }
}

async function uncast(kind, record, etag, item, button) {
  const other = KINDS[KINDS[kind].other];
  let sent;
  try {
    sent = await busy(body, () => sendCasting("delete", kind, record, etag, item.id), { button, label: "Removing…" });
  } catch (error) {
    if (kind === "movies") {
      castingFailed(error, kind, null, `${item.name} was not removed from the cast`, "remove the actor again");
    } else {
      castingFailed(error, kind, `“${item.title}”`, `${record.name} was not removed from “${item.title}”`,
        "remove the movie again");
    }
    return;
  }
  const { answer, now } = sent;
  const news = meanwhile(kind, record, now);
  toast((kind === "movies" ? `${item[other.labelField]} removed from the cast of “${now.title}”.`
    : `${now.name} removed from “${answer.movie.title}”.`) + news, { linger: Boolean(news) });
  await castingDone(kind, answer);
  $(`#linked-${KINDS[kind].other}`)?.focus();
}

function castingForm(kind, record, etag) {
  const other = KINDS[KINDS[kind].other];
  const linked = new Set(record[other.kind].map((item) => item.id));
  const search = field({ id: "cast-search", name: "cast_search", type: "search",
    label: kind === "movies" ? "Find an actor" : "Find a movie", attrs: { autocomplete: "off", maxlength: 200 } });
  const choice = field({ id: "cast-choice", name: "cast_choice", label: kind === "movies" ? "Actor" : "Movie",
    options: [["", "Loading…"]] });
  const select = choice.querySelector("select");
  const more = h("p", { class: "hint", id: "cast-choice-more", hidden: true });
  choice.append(more);
  select.setAttribute("aria-describedby", more.id);
  const submit = h("button", { type: "submit", class: "btn btn-primary", disabled: true },
    kind === "movies" ? "Add to cast" : "Cast in movie");
  const form = h("form", { class: "cast-form", "aria-labelledby": "cast-form-title", novalidate: true },
    h("h3", { id: "cast-form-title" }, kind === "movies" ? "Add an actor to the cast" : "Cast in a movie"),
    h("div", { class: "cast-row" }, search, choice, h("div", { class: "cast-submit" }, submit)));

  let controller = null;
  async function fill() {
    controller?.abort();
    controller = new AbortController();
    const signal = controller.signal;
    select.setAttribute("aria-busy", "true");
    try {
      const q = search.querySelector("input").value.trim();
      const data = await api.get(other.path, { q, per_page: PICKER_SIZE, sort: other.labelField }, signal);
      const choices = data[other.kind].filter((item) => !linked.has(item.id));
      clearAlert({ cause: "cast-choices" });
      setChildren(select, choices.length
        ? choices.map((item) => h("option", { value: item.id }, optionLabel(other.kind, item)))
        : h("option", { value: "" }, q ? `No ${other.kind} match “${q}”` : `No ${other.kind} left to add`));
      submit.disabled = !choices.length;
      more.hidden = data.total <= PICKER_SIZE;
      more.textContent = `The first ${PICKER_SIZE} of ${data.total}: type to narrow the list.`;
    } catch (error) {
      if (error.name === "AbortError") return;
      setChildren(select, h("option", { value: "" }, `The ${other.kind} could not be loaded`));
      submit.disabled = true;
      report(error, { scope: dialog, cause: "cast-choices" });
    } finally {
      if (!signal.aborted) select.setAttribute("aria-busy", "false");
    }
  }
  let timer = null;
  search.querySelector("input").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(fill, SEARCH_DELAY_MS);
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const otherId = Number(select.value);
    if (!otherId) return;
    const chosen = select.selectedOptions[0]?.textContent;
    let sent;
    try {
      sent = await busy(body, () => sendCasting("put", kind, record, etag, otherId),
        { button: submit, label: "Casting…" });
    } catch (error) {
      if (kind === "movies") {
        castingFailed(error, kind, null, `${chosen} was not added to the cast`, "add the actor again");
      } else {
        castingFailed(error, kind, chosen, `${record.name} was not cast in ${chosen}`, "choose the movie again");
      }
      return;
    }
    const { answer, now } = sent;
    const news = meanwhile(kind, record, now);
    const actor = answer.movie.actors.find((item) => item.id === (kind === "movies" ? otherId : record.id));
    toast(`${actor?.name ?? chosen} cast in “${answer.movie.title}”.${news}`, { linger: Boolean(news) });
    await castingDone(kind, answer);
    $("#cast-choice")?.focus();
  });
  fill();
  return form;
}

function optionLabel(kind, item) {
  return kind === "actors" ? `${item.name} (${item.age}, ${item.gender})` : `${item.title} (${item.release_date.slice(0, 4)})`;
}
