// The create / edit form and the delete confirmation, both native modal dialogs.
//
// Safe writes: a form submission carries one Idempotency-Key for its values, kept for as long as the form is
// open, so sending them again (a double submission, a retry after a lost answer) never writes twice. An edit
// and a delete carry the ETag of the version the person was shown (If-Match); when someone else changed the
// record meanwhile (412) nothing is written, and the person is shown the current version to redo their change.

import { api, etagOf, newKey, outcomeUnknown } from "./api.js";
import { changed, open } from "./resources.js";
import {
  $, busy, clearAlert, clearFieldErrors, closeAllDialogs, closeDialog, describeError, field, fieldProblems, formatDate,
  openDialog, report, setChildren, showAlert, showFieldErrors, toast,
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

/** Open the form; `save(body)` sends it; `conflict(error)` handles a 412 (edits); `unknown(error)` words an
 * error after which the write may or may not have been done. */
function showForm(resource, record, save, { conflict, unknown, fallback } = {}) {
  const editing = Boolean(record);
  formTitle.textContent = editing ? `Edit ${record[resource.labelField]}` : `New ${resource.noun}`;
  submit.textContent = editing ? "Save changes" : `Create ${resource.noun}`;
  const controls = resource.fields(record || {}).map((spec) => field({ ...spec, id: `field-${spec.name}` }));
  setChildren(fields, controls);
  controls[0].querySelector("input, select").setAttribute("autofocus", "");
  clearAlert({ scope: formDialog });
  onSubmit = async () => {
    clearFieldErrors(form);
    clearAlert({ scope: formDialog });
    const problems = fieldProblems(form);
    if (Object.keys(problems).length) {
      showFieldErrors(form, problems);
      showAlert("Please correct the highlighted fields.", { scope: formDialog });
      return null;
    }
    const body = resource.body((name) => form.elements.namedItem(name).value);
    try {
      return await busy(fields, async () => {
        try {
          const data = await save(body);
          closeDialog(formDialog);
          changed();
          return data;
        } catch (error) {
          if (error.status !== 412 || !conflict) throw error;
          await conflict(error); // still busy: the current version is fetched before the form can be sent again
          return null;
        }
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

/** Edit `record`, shown at version `etag`: `onSaved(record, etag)` once saved; on a 412 the form takes the current
 * version, keeps the person's own changes, and `onConflict(record, etag)` shows the current version behind it. */
export function editRecord(resource, record, { etag, onSaved, onConflict, fallback }) {
  const key = keyPerBody();
  const path = `${resource.path}/${record.id}`;
  let base = record; // the version the person started from, and its ETag
  let ifMatch = etag;
  showForm(resource, record, (body) => api.patch(path, body, { ifMatch, key: key(body) }), {
    fallback,
    unknown: "Press “Save changes” again: your changes will not be applied twice.",
    conflict: async () => {
      const data = await api.get(path);
      const current = data[resource.noun];
      const theirs = rebase(resource, base, current);
      base = current;
      ifMatch = etagOf(data);
      onConflict(current, ifMatch);
      changed();
      const what = theirs.length ? `They changed ${theirs.join("; ")}.`
        : `They changed none of these fields (the change was to its ${resource.other} or a name in it).`;
      showAlert(`Someone else changed this ${resource.noun} while you were editing it, so nothing was saved. ${what} ` +
        "The form now shows the current version with your own changes on top: save again to apply them to it, " +
        "or cancel to leave it as it is.", { scope: formDialog, cause: "conflict" });
    },
  });
  const submitted = onSubmit;
  onSubmit = async () => {
    const data = await submitted();
    const updated = data?.[resource.noun];
    if (updated) {
      toast(`${resource.Noun} “${updated[resource.labelField]}” saved.`);
      onSaved(updated, etagOf(data));
    }
  };
}

/** Move the form onto `current`: each field the person left as it was in `base` takes the current value, each
 * field they changed keeps their value. Returns what someone else changed, in words. */
function rebase(resource, base, current) {
  const was = Object.fromEntries(resource.fields(base).map((spec) => [spec.name, String(spec.value)]));
  const theirs = [];
  for (const spec of resource.fields(current)) {
    const now = String(spec.value);
    if (now === was[spec.name]) continue;
    const control = form.elements.namedItem(spec.name);
    const yours = control.value !== was[spec.name] && control.value !== now;
    if (!yours) control.value = now;
    const shown = spec.type === "date" ? formatDate(now) : `“${now}”`;
    theirs.push(`${spec.label.toLowerCase()} to ${shown}${yours ? ` (your “${control.value}” is kept)` : ""}`);
  }
  return theirs;
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
  $("#confirm-text").textContent = resource.kind === "movies"
    ? "The movie and its castings are removed; its actors stay in the catalogue. This cannot be undone."
    : "The actor and their castings are removed; their movies stay in the catalogue. This cannot be undone.";
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
