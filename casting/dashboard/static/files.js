// Files in and out (docs/import-export.md): the lists' exports, downloaded through the API with the bearer token
// (a plain link could not send it), and "Import a file": a dry run first, its report, then the same bytes imported
// for real once the person confirms, under one Idempotency-Key (a double click or a retry imports once).

import { newKey, outcomeUnknown, request } from "./api.js";
import { changed } from "./resources.js";
import { can } from "./session.js";
import {
  $, clearAlert, clearFieldErrors, closeDialog, describeError, fieldProblems, h, openDialog, plural, report, sentence,
  setChildren, showAlert, showFieldErrors, toast,
} from "./ui.js";

export const FORMATS = {
  csv: { label: "CSV", type: "text/csv" },
  ndjson: { label: "NDJSON", type: "application/x-ndjson" },
};

// Who may export what (the lists' read permissions), and import what (a single create's: docs/import-export.md).
export const EXPORTS = { movies: "get:movies", actors: "get:actors", castings: "get:movies" };
export const IMPORTS = { movies: "post:movies", actors: "post:actors", castings: "patch:movies" };

const KIND_WORDS = {
  movies: { label: "Movies", one: "movie", natural: "a movie's title and release date" },
  actors: { label: "Actors", one: "actor", natural: "an actor's name" },
  castings: { label: "Castings (who plays whom)", one: "casting",
    natural: "their movie's title and release date and their actor's name" },
};

// A report lists this many problems; the rest are counted ("and 12 more").
export const PROBLEMS_SHOWN = 50;

// --- exports ------------------------------------------------------------------------------------------------

/** "Export CSV" and "Export NDJSON" buttons for `kind`; `query()` gives the filters and sort of what the list shows
 * (null: the whole list). */
export function exportButtons(kind, query = () => ({})) {
  if (!can(EXPORTS[kind])) return null;
  return h("div", { class: "export-buttons", role: "group", "aria-label": `Export ${kind}` },
    Object.entries(FORMATS).map(([format, { label }]) => h("button", {
      type: "button", class: "btn btn-secondary btn-small", dataset: { format },
      onclick: (event) => download(kind, format, query(), event.currentTarget),
    }, `Export ${label}`, h("span", { class: "visually-hidden" }, ` of ${kind}`))));
}

const END_LINE = { csv: /^#end,(\d+)/, ndjson: /^\{"end":true,"rows":(\d+)\}$/ };

async function download(kind, format, query, button) {
  const cause = `${kind}-export`;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  clearAlert({ cause });
  try {
    const response = await request("GET", `/${kind}/export`, {
      query: { ...query, format }, accept: FORMATS[format].type, download: true,
    });
    let blob;
    try {
      blob = await response.blob();
    } catch {
      throw new Error("cut");
    }
    // The file is whole exactly when its last line is the end line (docs/import-export.md, "Knowing you have all
    // of it"): a stream the server had to cut short has none.
    const tail = (await blob.slice(-200).text()).trimEnd().split(/\r?\n/).at(-1);
    const end = END_LINE[format].exec(tail);
    if (!end) throw new Error("cut");
    const name = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "")?.[1]
      || `${kind}-${new Date().toISOString().slice(0, 10)}.${format}`;
    save(blob, name);
    toast(`Exported ${plural(Number(end[1]), KIND_WORDS[kind].one)} to ${name}.`);
  } catch (error) {
    const why = error.message === "cut" && error.name !== "ApiError"
      ? "the download was cut short before its end. Try again."
      : describeError(error);
    if (error?.status !== 401 && error?.name !== "AbortError") {
      showAlert(`The ${kind} could not be exported: ${why}`, { scope: "page", cause });
    }
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// --- imports ------------------------------------------------------------------------------------------------

const dialog = $("#import-dialog");
const form = $("#import-form");
const fileInput = $("#import-file");
const typeSelect = $("#import-type");
const matchSelect = $("#import-match");
const reportBox = $("#import-report");
const checkButton = $("#import-check");
const confirmButton = $("#import-confirm");

// The file as checked: its bytes, type, kind and match, and the key its import is sent with. Set by a dry run
// that found nothing wrong; anything changed in the form forgets it (its report no longer applies).
let checked = null;

for (const button of dialog.querySelectorAll("[data-close]")) {
  button.addEventListener("click", () => closeDialog(dialog));
}

/** The kinds this person may import. */
export function importable() {
  return Object.keys(IMPORTS).filter((kind) => can(IMPORTS[kind]));
}

export function openImport() {
  const kinds = importable();
  const current = typeSelect.value;
  setChildren(typeSelect, kinds.map((kind) => h("option", { value: kind, selected: kind === current },
    KIND_WORDS[kind].label)));
  describeMatch();
  openDialog(dialog, { fallback: () => $("#import-open") });
}

function describeMatch() {
  const words = KIND_WORDS[typeSelect.value];
  $("#import-match-hint").textContent = matchSelect.value === "natural"
    ? `A row is the record with ${words.natural}; the file's ids are not looked at.`
    : "A row is the record with its id; a row without one is a new record.";
}

function forget() {
  checked = null;
  confirmButton.hidden = true;
  reportBox.hidden = true;
  reportBox.replaceChildren();
  clearAlert({ scope: dialog });
}

form.addEventListener("change", (event) => {
  if (event.target === typeSelect || event.target === matchSelect) describeMatch();
  if (event.target === fileInput) guessKind();
  clearFieldErrors(form);
  forget();
});

/** On choosing a file: its kind from its columns (the first line), when this person may import that kind. */
async function guessKind() {
  const file = fileInput.files[0];
  if (!file) return;
  const first = (await file.slice(0, 4096).text()).replace(/^\uFEFF/, "").split(/\r?\n/)[0];
  let columns;
  try {
    columns = first.trimStart().startsWith("{") ? Object.keys(JSON.parse(first)) : first.split(",");
  } catch {
    return;
  }
  const guess = columns.includes("character") || columns.includes("movie_id") ? "castings"
    : columns.includes("title") ? "movies" : columns.includes("name") ? "actors" : null;
  if (guess && importable().includes(guess) && typeSelect.value !== guess) {
    typeSelect.value = guess;
    describeMatch();
  }
}

/** The Content-Type of a file: by its extension, else by its first character (`{`: NDJSON). */
function mediaType(name, bytes) {
  if (/\.(ndjson|jsonl)$/i.test(name)) return FORMATS.ndjson.type;
  if (/\.csv$/i.test(name)) return FORMATS.csv.type;
  const start = new TextDecoder().decode(bytes.slice(0, 64)).replace(/^\uFEFF/, "").trimStart();
  return start.startsWith("{") ? FORMATS.ndjson.type : FORMATS.csv.type;
}

function sendImport(file, dryRun) {
  return request("POST", "/imports", {
    query: { type: file.type, match: file.match, dry_run: dryRun ? "true" : "false" },
    file: { bytes: file.bytes, type: file.media }, key: dryRun ? newKey() : file.key,
  });
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (checkButton.disabled) return;
  forget();
  const problems = fieldProblems(form);
  if (Object.keys(problems).length) {
    showFieldErrors(form, { file: ["is required: choose a CSV or NDJSON file"] });
    return;
  }
  const chosen = fileInput.files[0];
  const busyRegion = $(".dialog-body", dialog);
  checkButton.disabled = true;
  checkButton.textContent = "Checking…";
  busyRegion.setAttribute("aria-busy", "true");
  try {
    const bytes = new Uint8Array(await chosen.arrayBuffer());
    const file = { name: chosen.name, bytes, media: mediaType(chosen.name, bytes), type: typeSelect.value,
      match: matchSelect.value };
    try {
      const answer = await sendImport(file, true);
      showReport(file, answer.import);
      const outcome = answer.import;
      if (outcome.created + outcome.updated > 0) {
        checked = { ...file, key: newKey() };
        confirmButton.textContent = `Import ${plural(outcome.created + outcome.updated, KIND_WORDS[file.type].one)}`;
        confirmButton.hidden = false;
      }
      showReportTop();
    } catch (error) {
      refused(error, file);
    }
  } catch (error) {
    report(error, { scope: dialog });
  } finally {
    checkButton.disabled = false;
    checkButton.textContent = "Check the file";
    busyRegion.setAttribute("aria-busy", "false");
  }
});

confirmButton.addEventListener("click", async () => {
  const file = checked;
  if (!file || confirmButton.disabled) return;
  confirmButton.disabled = true;
  checkButton.disabled = true;
  const label = confirmButton.textContent;
  confirmButton.textContent = "Importing…";
  $(".dialog-body", dialog).setAttribute("aria-busy", "true");
  try {
    const { import: outcome } = await sendImport(file, false);
    closeDialog(dialog);
    form.reset();
    forget();
    changed();
    toast(`Imported ${file.name}: ${counts(outcome, "done")}.`, { linger: true });
  } catch (error) {
    confirmButton.textContent = label;
    refused(error, file);
  } finally {
    confirmButton.disabled = false;
    checkButton.disabled = false;
    confirmButton.textContent = label;
    $(".dialog-body", dialog).setAttribute("aria-busy", "false");
  }
});

/** What refused a check or an import, said in the dialog; the form keeps the chosen file. */
function refused(error, file) {
  const outcome = error?.body?.import;
  if (error?.status === 422 && outcome) {
    confirmButton.hidden = true;
    checked = null;
    showReport(file, outcome);
    if (!outcome.dry_run) {
      // Checked clean, refused for real: the catalogue changed in between (someone else's write).
      showAlert(`Nothing was imported: the catalogue changed since the check, and the file now has ` +
        `${plural(outcome.problem_count, "problem")} (listed below).`, { scope: dialog });
    }
    showReportTop();
    return;
  }
  if (error?.status === 401 || error?.name === "AbortError") return;
  const why = {
    400: () => `The file cannot be read: ${sentence(error.message)}`,
    413: () => `The file is too large for the page: ${sentence(error.message)}`,
    415: () => `The file's type is not one the API takes: ${sentence(error.message)}`,
  }[error?.status];
  // The import for real, its outcome unknown (no answer, a 409 still in progress, a 502-504): pressing it again
  // sends the same key, which the API answers from the first attempt rather than importing twice.
  const again = checked && !confirmButton.hidden && outcomeUnknown(error)
    ? ` Press “${confirmButton.textContent}” again: the file will not be imported twice.` : "";
  showAlert((why ? why() : describeError(error)) + again, { scope: dialog });
  if (error?.status === 400 || error?.status === 413 || error?.status === 415) {
    fileInput.setAttribute("aria-invalid", "true");
  }
}

/** "3 movies created, 1 updated and 2 unchanged" (`done`), or "3 to create, ..." (a dry run's). */
function counts(outcome, tense) {
  const one = KIND_WORDS[outcome.type].one;
  return tense === "done"
    ? `${plural(outcome.created, one)} created, ${outcome.updated} updated and ${outcome.unchanged} unchanged`
    : `${outcome.created} to create, ${outcome.updated} to update and ${outcome.unchanged} unchanged`;
}

/** The report's heading focused (read out next), the report scrolled to the top of the dialog's body. */
function showReportTop() {
  $("#import-report-title").focus({ preventScroll: true });
  reportBox.scrollIntoView({ block: "start" });
}

function showReport(file, outcome) {
  const kind = KIND_WORDS[outcome.type];
  const ok = outcome.problem_count === 0;
  const tiles = [["To create", outcome.created], ["To update", outcome.updated], ["Unchanged", outcome.unchanged]];
  const summary = ok
    ? (outcome.created + outcome.updated > 0
      ? `The file is ready: ${plural(outcome.rows, "row")} of ${outcome.type}. Nothing has been written yet: ` +
        "confirm to import it."
      : `Every one of its ${plural(outcome.rows, "row")} already says what the catalogue has: there is nothing to ` +
        "import.")
    : `${plural(outcome.problem_count, "problem")} (below): nothing can be imported until they are corrected. ` +
      "Correct the file, choose it again and check it again. Among the rows without a problem:";
  const children = [
    h("h3", { id: "import-report-title", tabindex: "-1" }, `${ok ? "Checked" : "Problems in"} ${file.name}`),
    h("p", { class: "import-summary" }, summary),
    h("dl", { class: "import-counts", "aria-label": `What the import would do (${kind.label.toLowerCase()})` },
      tiles.map(([label, count]) => h("div", {}, h("dt", {}, label), h("dd", {}, String(count))))),
  ];
  if (!ok) children.push(problemTable(outcome));
  setChildren(reportBox, children);
  reportBox.hidden = false;
}

function problemTable(outcome) {
  const shown = outcome.problems.slice(0, PROBLEMS_SHOWN);
  const more = outcome.problem_count - shown.length;
  return [
    h("div", { class: "import-problems", tabindex: "0", role: "region", "aria-label": "Problems by line" },
      h("table", {},
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Line"), h("th", { scope: "col" }, "Column"),
          h("th", { scope: "col" }, "Problem"))),
        h("tbody", {}, shown.map((problem) => h("tr", {},
          h("td", { class: "import-line" }, String(problem.line)),
          h("td", { class: "import-column" }, problem.column || "(the whole line)"),
          h("td", {}, problem.message)))))),
    more > 0 ? h("p", { class: "import-more" }, `… and ${plural(more, "more problem")} not shown here.`) : null,
  ];
}
