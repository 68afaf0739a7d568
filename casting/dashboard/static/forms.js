// The create / edit form and the delete confirmation, both native modal dialogs.
//
// Safe writes: a form submission carries one Idempotency-Key for its values, kept for as long as the form is
// open, so sending them again (a double submission, a retry after a lost answer) never writes twice. An edit
// and a delete carry the ETag of the version the person was shown (If-Match). When someone else changed the
// record meanwhile (412) nothing is written. A delete then shows the current version, to be done again. An edit
// merges by itself: it reads the current version and makes a three-way merge of the version the form loaded
// (the base), the current one and the person's values. Fields only the other person changed take their value,
// fields only this person changed keep theirs, and the merge is sent again with the new ETag, saying what it
// merged. Only a field both changed, to different values, stops it: the person is asked, shown both values.

import { api, etagOf, newKey, outcomeUnknown } from "./api.js";
import { mayRestore } from "./deleted.js";
import { changed, KINDS, open, shownValue } from "./resources.js";
import {
  $, busy, clearAlert, clearFieldErrors, closeAllDialogs, closeDialog, describeError, field, fieldProblems, formatDate,
  h, joinAnd, openDialog, report, setChildren, showAlert, showFieldErrors, toast,
} from "./ui.js";

const formDialog = $("#form-dialog");
const form = $("#record-form");
const fields = $("#form-fields");
const formTitle = $("#form-title");
const submit = $("#form-submit");
let onSubmit = null;

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!submit.disabled) onSubmit?.();
});
for (const button of formDialog.querySelectorAll("[data-close]")) {
  button.addEventListener("click", () => closeDialog(formDialog));
}

/** The Idempotency-Key for a body: the same while the same values are sent again, a new one for new values. */
function keyPerBody() {
  let last = null;
  return (body) => {
    const text = JSON.stringify(body);
    if (last?.text !== text) last = { text, key: newKey() };
    return last.key;
  };
}

/** Open the form; `save(body)` sends it and answers the saved record's envelope, or null when it stopped to ask
 * the person something (the form stays open and says what); `unknown(error)` words an error after which the write
 * may or may not have been done. */
function showForm(resource, record, save, { unknown, fallback } = {}) {
  const editing = Boolean(record);
  formTitle.textContent = editing ? `Edit ${record[resource.labelField]}` : `New ${resource.noun}`;
  submit.textContent = editing ? "Save changes" : `Create ${resource.noun}`;
  const controls = resource.fields(record || {}).map((spec) => field({ ...spec, id: `field-${spec.name}` }));
  setChildren(fields, controls);
  controls[0].querySelector("input, select").setAttribute("autofocus", "");
  clearAlert({ scope: formDialog });
  onSubmit = async () => {
    clearFieldErrors(form);
    clearCollisions();
    clearAlert({ scope: formDialog });
    const problems = fieldProblems(form);
    if (Object.keys(problems).length) {
      showFieldErrors(form, problems);
      showAlert("Please correct the highlighted fields.", { scope: formDialog });
      return null;
    }
    const body = resource.body(formValue);
    try {
      return await busy(fields, async () => {
        const data = await save(body); // still busy while a conflict is read and merged
        if (!data) return null;
        closeDialog(formDialog);
        changed();
        return data;
      }, { button: submit, label: "Saving…" });
    } catch (error) {
      if (error.status === 422 && error.details) {
        const unplaced = showFieldErrors(form, error.details);
        showAlert(unplaced.length ? describeError(error) : "Please correct the highlighted fields.",
          { scope: formDialog });
      } else if (error.status === 404) {
        closeAllDialogs();
        changed();
        report(error);
      } else if (unknown && outcomeUnknown(error)) {
        showAlert(`${describeError(error)} ${unknown}`, { scope: formDialog });
      } else {
        report(error, { scope: formDialog });
      }
      return null;
    }
  };
  openDialog(formDialog, { fallback });
}

function formValue(name) {
  return form.elements.namedItem(name).value;
}

/** "New movie" / "New actor": create, then open the new record so its cast can be set straight away. */
export function newRecord(resource) {
  const key = keyPerBody();
  showForm(resource, null, (body) => api.post(resource.path, body, { key: key(body) }), {
    unknown: `Press “Create ${resource.noun}” again without changing the form: it will not be created twice.`,
  });
  const submitted = onSubmit;
  onSubmit = async () => {
    const data = await submitted();
    const created = data?.[resource.noun];
    if (created) {
      open(resource.kind, created.id);
      toast(`${resource.Noun} “${created[resource.labelField]}” created.`);
    }
  };
}

// A save that meets one change after another (412 after 412) merges at most this many times, then asks.
const MAX_MERGES = 3;

/** Edit `record`, shown at version `etag`: `onSaved(record, etag)` once saved. When someone else changed the record
 * meanwhile (412), the form merges their change with the person's (see the top of this file) and saves again;
 * `onConflict(record, etag)` shows each version it read behind the form. */
export function editRecord(resource, record, { etag, onSaved, onConflict, fallback }) {
  const key = keyPerBody();
  const path = `${resource.path}/${record.id}`;
  let base = record; // the version the form's values started from, and its ETag
  let ifMatch = etag;
  let news = null; // what the last save merged, in words
  showForm(resource, record, async (body) => {
    news = null;
    const from = base; // this save's base, and the values the person asked for
    const asked = valuesOf(resource);
    for (let merges = 0; ; merges += 1) {
      try {
        return await api.patch(path, body, { ifMatch, key: key(body) });
      } catch (error) {
        if (error.status !== 412) throw error;
      }
      const data = await api.get(path);
      const current = data[resource.noun];
      const outcome = merge(resource, base, current);
      base = current;
      ifMatch = etagOf(data);
      formTitle.textContent = `Edit ${current[resource.labelField]}`; // the form is about the record as it is now
      onConflict(current, ifMatch);
      changed();
      if (outcome.collisions.length || merges + 1 >= MAX_MERGES) {
        stop(resource, outcome);
        return null;
      }
      news = merged(resource, from, current, asked);
      body = resource.body(formValue);
      if (!news.yours) return data; // nothing of the person's is left to write: the current version is it
    }
  }, {
    fallback,
    unknown: "Press “Save changes” again: your changes will not be applied twice.",
  });
  const submitted = onSubmit;
  onSubmit = async () => {
    const data = await submitted();
    const updated = data?.[resource.noun];
    if (updated) {
      if (news) toast(news.message, { linger: true });
      else toast(`${resource.Noun} “${updated[resource.labelField]}” saved.`);
      onSaved(updated, etagOf(data));
    }
  };
}

/** The form's fields as shown in it (strings), by name. */
function valuesOf(resource) {
  return Object.fromEntries(resource.fields().map((spec) => [spec.name, formValue(spec.name)]));
}

/** A record's fields as the form shows them (strings), by name. */
function fieldsOf(resource, record) {
  return Object.fromEntries(resource.fields(record).map((spec) => [spec.name, String(spec.value)]));
}

/** The three-way merge of one 412, into the form: `base` (the version its values started from), `current` (as
 * it is now) and the person's values (the form's). Each field that only someone else changed takes their value;
 * each field the person changed keeps theirs. Returns the fields both changed to different values
 * (`collisions`) and what the others changed, in words (`theirs`). */
function merge(resource, base, current) {
  const was = fieldsOf(resource, base);
  const collisions = [];
  const theirs = [];
  for (const spec of resource.fields(current)) {
    const now = String(spec.value);
    if (now === was[spec.name]) continue;
    const control = form.elements.namedItem(spec.name);
    const yours = control.value !== was[spec.name] && control.value !== now;
    if (yours) collisions.push({ spec, theirs: now });
    else control.value = now;
    const value = spec.type === "date" ? formatDate(now) : `“${now}”`;
    theirs.push(`${spec.label.toLowerCase()} to ${value}${yours ? ` (your “${control.value}” is kept)` : ""}`);
  }
  const cast = castChange(resource, base, current);
  if (cast) theirs.push(cast);
  return { collisions, theirs };
}

/** How the other side's records changed between `before` and `after` ("its cast (Tilda Swinton added)"), or what
 * else of theirs changed (a name): the change a 412 may be about when no field changed. */
function castChange(resource, before, after) {
  const other = KINDS[resource.other];
  const ids = (record) => new Set(record[resource.other].map((item) => item.id));
  const [had, has] = [ids(before), ids(after)];
  const named = (item) => resource.kind === "movies" ? item[other.labelField] : `“${item[other.labelField]}”`;
  const added = after[resource.other].filter((item) => !had.has(item.id)).map(named);
  const removed = before[resource.other].filter((item) => !has.has(item.id)).map(named);
  const moves = resource.kind === "movies"
    ? [...added.map((name) => `${name} added`), ...removed.map((name) => `${name} removed`)]
    : [...added.map((name) => `cast in ${name}`), ...removed.map((name) => `removed from ${name}`)];
  if (moves.length) return `${resource.kind === "movies" ? "its cast" : "their movies"} (${joinAnd(moves)})`;
  const labels = (record) => JSON.stringify(record[resource.other].map((item) => [item.id, item[other.labelField]]));
  if (labels(before) !== labels(after)) {
    return resource.kind === "movies" ? "the name of an actor in its cast" : "the title of a movie they are in";
  }
  return null;
}

/** What a save merged, from its base (`from`), the version it was merged with (`current`) and the values the
 * person asked for: the message to show once saved, and whether any change of the person's is left to write. */
function merged(resource, from, current, asked) {
  const was = fieldsOf(resource, from);
  const now = fieldsOf(resource, current);
  const theirs = [];
  const yours = [];
  for (const spec of resource.fields()) {
    const { name } = spec;
    if (now[name] !== was[name]) {
      theirs.push(`the ${spec.label.toLowerCase()} to ${shownValue(spec, now[name])}${asked[name] === now[name] ? " (as you did)" : ""}`);
    } else if (asked[name] !== was[name]) {
      yours.push(spec.label.toLowerCase());
    }
  }
  const cast = castChange(resource, from, current);
  if (cast) theirs.push(cast);
  const meanwhile = joinAnd(theirs) || `this ${resource.noun}`;
  const message = yours.length
    ? `Saved. Meanwhile someone else changed ${meanwhile}; your new ${joinAnd(yours)} ${yours.length === 1 ? "was" : "were"} ` +
      "applied on top."
    : `Nothing left to save: meanwhile someone else changed ${meanwhile}.`;
  return { message, yours: yours.length > 0 };
}

/** The merge met a field both people changed: nothing was saved; each such field keeps the person's value and
 * offers the other one, and the alert says what the other person changed. */
function stop(resource, { collisions, theirs }) {
  for (const { spec, theirs: value } of collisions) {
    const control = form.elements.namedItem(spec.name);
    const line = h("p", { class: "field-collision", id: `${control.id}-collision` },
      `Someone else changed it to ${shownValue(spec, value)}. `,
      h("button", { type: "button", class: "btn btn-ghost btn-small", onclick: () => {
        control.value = value;
        line.remove();
        describe(control);
        control.focus();
      } }, "Use theirs", h("span", { class: "visually-hidden" }, ` for the ${spec.label.toLowerCase()}`)));
    control.closest(".field").append(line);
    describe(control);
  }
  const what = theirs.length ? `They changed ${theirs.join("; ")}.`
    : `They changed none of these fields (the change was to its ${resource.other} or a name in it).`;
  showAlert(`Someone else changed this ${resource.noun} while you were editing it, so nothing was saved. ${what} ` +
    "The form now shows the current version with your own changes on top: save again to apply them to it, " +
    "or cancel to leave it as it is.", { scope: formDialog, cause: "conflict" });
}

/** aria-describedby of a form control: its hint, its error, and what someone else changed it to. */
function describe(control) {
  const ids = (control.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && !id.endsWith("-collision"));
  const line = document.getElementById(`${control.id}-collision`);
  if (line) ids.push(line.id);
  if (ids.length) control.setAttribute("aria-describedby", ids.join(" "));
  else control.removeAttribute("aria-describedby");
}

function clearCollisions() {
  for (const line of form.querySelectorAll(".field-collision")) {
    const control = form.querySelector(`#${CSS.escape(line.id.replace(/-collision$/, ""))}`);
    line.remove();
    if (control) describe(control);
  }
}

// --- confirmation -------------------------------------------------------------------------------

const confirmDialog = $("#confirm-dialog");
const confirmOk = $("#confirm-ok");
let onConfirm = null;

$("#confirm-cancel").addEventListener("click", () => closeDialog(confirmDialog));
confirmOk.addEventListener("click", () => onConfirm?.());

/** Ask first; delete `record` if it is still at version `etag`, while the dialog shows "Deleting…"; close it when
 * done. On a 412 nothing is deleted: the dialog closes and `onConflict()` shows the current version. */
export function confirmDelete(resource, record, { etag, onDeleted, onConflict }) {
  const label = record[resource.labelField];
  $("#confirm-title").textContent = `Delete “${label}”?`;
  const undo = mayRestore(resource)
    ? `${resource.kind === "movies" ? "It" : "They"} can be restored from “Recently deleted”.`
    : "This cannot be undone.";
  $("#confirm-text").textContent = resource.kind === "movies"
    ? `The movie and its castings are removed; its actors stay in the catalogue. ${undo}`
    : `The actor and their castings are removed; their movies stay in the catalogue. ${undo}`;
  confirmOk.textContent = `Delete ${resource.noun}`;
  const key = newKey(); // this confirmation's one delete, however often it is sent
  onConfirm = async () => {
    clearAlert({ scope: confirmDialog });
    try {
      await busy(null, () => api.delete(`${resource.path}/${record.id}`, { ifMatch: etag, key }),
        { button: confirmOk, label: "Deleting…" });
    } catch (error) {
      if (error.status === 404) {
        closeAllDialogs();
        changed();
        report(error);
      } else if (error.status === 412) {
        closeDialog(confirmDialog);
        onConflict();
      } else {
        report(error, { scope: confirmDialog });
      }
      return;
    }
    closeDialog(confirmDialog);
    onDeleted();
    changed();
    toast(`${resource.Noun} “${label}” deleted.`);
  };
  openDialog(confirmDialog);
  $("#confirm-cancel").focus();
}
