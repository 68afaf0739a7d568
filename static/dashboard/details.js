// A movie's or an actor's profile in a dialog: facts, edit / delete, and who is cast in what
// (cast and uncast from either side). Following a name inside opens that profile; "Back" returns.

import { api } from "./api.js";
import { confirmDelete, editRecord } from "./forms.js";
import { bus, changed, KINDS, open } from "./resources.js";
import { can } from "./session.js";
import {
  $, busy, clearAlert, closeAllDialogs, closeDialog, field, formatDate, h, hue, initials, openDialog, plural, report,
  setChildren, toast,
} from "./ui.js";

const dialog = $("#detail-dialog");
const title = $("#detail-title");
const body = $("#detail-body");
const back = $("#detail-back");
const PICKER_SIZE = 50;
const SEARCH_DELAY_MS = 250;

let trail = []; // the profiles to go back to: [{kind, id, label}]
let current = null; // {kind, record}

title.setAttribute("tabindex", "-1");
$("#detail-close").addEventListener("click", () => closeDialog(dialog));
dialog.addEventListener("close", () => {
  trail = [];
  current = null;
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
    render(kind, data[resource.noun]);
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

function render(kind, record) {
  const resource = KINDS[kind];
  current = { kind, record };
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
    actions.push(h("button", { type: "button", class: "btn btn-secondary",
      onclick: () => editRecord(resource, record, (updated) => render(kind, updated)) }, `Edit ${resource.noun}`));
  }
  if (can(resource.can.delete)) {
    actions.push(h("button", { type: "button", class: "btn btn-danger-outline",
      onclick: () => confirmDelete(resource, record, () => closeDialog(dialog)) }, `Delete ${resource.noun}`));
  }
  setChildren(body,
    facts,
    actions.length ? h("div", { class: "actions" }, actions) : null,
    castingSection(kind, record),
    can(resource.can.cast) ? castingForm(kind, record) : null,
  );
}

// --- the other side of the casting ------------------------------------------------------------

function castingSection(kind, record) {
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
  const items = linked.map((item) => {
    const itemLabel = item[other.labelField];
    const follow = h("button", { type: "button", class: "link-button",
      onclick: () => open(other.kind, item.id, { from: { kind, id: record.id, label: record[resource.labelField] } }),
    }, itemLabel);
    const remove = can(resource.can.cast)
      ? h("button", { type: "button", class: "btn btn-ghost btn-small",
        "aria-label": kind === "movies" ? `Remove ${itemLabel} from the cast` : `Remove from ${itemLabel}`,
        onclick: (event) => uncast(kind, record, item, event.currentTarget) }, "Remove")
      : null;
    return h("li", {}, h("span", { class: ["dot", hue(item.id)], "aria-hidden": "true" }, initials(itemLabel)),
      follow, remove);
  });
  return h("section", { class: "linked", "aria-labelledby": headingId }, heading, h("ul", { class: "linked-list" }, items));
}

function castingPath(kind, record, otherId) {
  return kind === "movies" ? `/movies/${record.id}/actors/${otherId}` : `/movies/${otherId}/actors/${record.id}`;
}

async function uncast(kind, record, item, button) {
  const other = KINDS[KINDS[kind].other];
  try {
    await busy(body, () => api.delete(castingPath(kind, record, item.id)), { button, label: "Removing…" });
  } catch (error) {
    report(error, { scope: dialog, cause: "casting" });
    if (error.status === 404) reload();
    return;
  }
  clearAlert({ cause: "casting" });
  changed();
  toast(kind === "movies" ? `${item[other.labelField]} removed from the cast of “${record.title}”.`
    : `${record.name} removed from “${item.title}”.`);
  await reload();
  $(`#linked-${KINDS[kind].other}`)?.focus();
}

function castingForm(kind, record) {
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
    try {
      await busy(body, () => api.put(castingPath(kind, record, otherId)), { button: submit, label: "Casting…" });
    } catch (error) {
      report(error, { scope: dialog, cause: "casting" });
      if (error.status === 404) {
        changed();
        reload();
      }
      return;
    }
    clearAlert({ cause: "casting" });
    changed();
    toast(kind === "movies" ? `${chosen} cast in “${record.title}”.` : `${record.name} cast in ${chosen}.`);
    await reload();
    $("#cast-choice")?.focus();
  });
  fill();
  return form;
}

function optionLabel(kind, item) {
  return kind === "actors" ? `${item.name} (${item.age}, ${item.gender})` : `${item.title} (${item.release_date.slice(0, 4)})`;
}
