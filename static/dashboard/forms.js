// The create / edit form and the delete confirmation, both native modal dialogs.

import { api } from "./api.js";
import { changed, open } from "./resources.js";
import {
  $, busy, clearAlert, clearFieldErrors, closeAllDialogs, closeDialog, describeError, field, fieldProblems, openDialog,
  report, setChildren, showAlert, showFieldErrors, toast,
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

function showForm(resource, record, save) {
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
      const data = await busy(fields, () => save(body), { button: submit, label: "Saving…" });
      closeDialog(formDialog);
      changed();
      return data[resource.noun];
    } catch (error) {
      if (error.status === 422 && error.details) {
        const unplaced = showFieldErrors(form, error.details);
        showAlert(unplaced.length ? describeError(error) : "Please correct the highlighted fields.",
          { scope: formDialog });
      } else if (error.status === 404) {
        closeAllDialogs();
        changed();
        report(error);
      } else {
        report(error, { scope: formDialog });
      }
      return null;
    }
  };
  openDialog(formDialog);
}

/** "New movie" / "New actor": create, then open the new record so its cast can be set straight away. */
export function newRecord(resource) {
  showForm(resource, null, (body) => api.post(resource.path, body));
  const submitted = onSubmit;
  onSubmit = async () => {
    const created = await submitted();
    if (created) {
      open(resource.kind, created.id);
      toast(`${resource.Noun} “${created[resource.labelField]}” created.`);
    }
  };
}

export function editRecord(resource, record, onSaved) {
  showForm(resource, record, (body) => api.patch(`${resource.path}/${record.id}`, body));
  const submitted = onSubmit;
  onSubmit = async () => {
    const updated = await submitted();
    if (updated) {
      toast(`${resource.Noun} “${updated[resource.labelField]}” saved.`);
      onSaved(updated);
    }
  };
}

// --- confirmation -------------------------------------------------------------------------------

const confirmDialog = $("#confirm-dialog");
const confirmOk = $("#confirm-ok");
let onConfirm = null;

$("#confirm-cancel").addEventListener("click", () => closeDialog(confirmDialog));
confirmOk.addEventListener("click", () => onConfirm?.());

/** Ask first; run `action` while the dialog shows "Deleting…"; close it when done. */
export function confirmDelete(resource, record, onDeleted) {
  const label = record[resource.labelField];
  $("#confirm-title").textContent = `Delete “${label}”?`;
  $("#confirm-text").textContent = resource.kind === "movies"
    ? "The movie and its castings are removed; its actors stay in the catalogue. This cannot be undone."
    : "The actor and their castings are removed; their movies stay in the catalogue. This cannot be undone.";
  confirmOk.textContent = `Delete ${resource.noun}`;
  onConfirm = async () => {
    clearAlert({ scope: confirmDialog });
    try {
      await busy(null, () => api.delete(`${resource.path}/${record.id}`), { button: confirmOk, label: "Deleting…" });
    } catch (error) {
      if (error.status === 404) {
        closeAllDialogs();
        changed();
        report(error);
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
