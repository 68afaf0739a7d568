// The dashboard's entry point: find out how people sign in, sign them in (or back out), and show
// the catalogue with only the actions their token's permissions allow.

import { request, sessionEvents } from "./api.js";
import "./details.js";
import { exportButtons, importable, openImport } from "./files.js";
import { ListPanel } from "./lists.js";
import { ACTORS, bus, MOVIES } from "./resources.js";
import * as session from "./session.js";
import {
  $, clearAlert, clearFieldErrors, closeAllDialogs, describeError, h, report, setChildren, showAlert, showFieldErrors,
} from "./ui.js";

const ROLE_SUMMARIES = {
  "casting-assistant": "Browse movies, actors and who is cast in what.",
  "casting-director": "Also add, edit and delete actors, edit movies and cast actors in them.",
  "executive-producer": "Everything, including adding and deleting movies.",
};

// Who signs in when the name field is left empty: a stand-in person for each role.
const DEFAULT_NAMES = {
  "casting-assistant": "Sam, Casting Assistant",
  "casting-director": "Dana, Casting Director",
  "executive-producer": "Morgan, Executive Producer",
};

const views = { boot: $("#boot"), signin: $("#signin"), workspace: $("#workspace") };
let panels = [];
let expiryTimer = null;

// Nothing fails silently: whatever escapes a handler is shown in the alert region.
window.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  report(event.reason);
});
window.addEventListener("error", (event) => {
  report(event.error || new Error(event.message));
});

function show(name) {
  views.boot.removeAttribute("aria-busy");
  for (const [key, element] of Object.entries(views)) element.hidden = key !== name;
  $("#session").hidden = name !== "workspace";
}

// --- signing in and out ---------------------------------------------------------------------

function showSignIn(message) {
  clearTimeout(expiryTimer);
  closeAllDialogs();
  clearAlert();
  panels = [];
  const notice = $("#signin-message");
  notice.hidden = !message;
  notice.textContent = message || "";
  show("signin");
  if (message) $("#signin-title").focus();
}

function signOut(message) {
  session.clearToken();
  showSignIn(message);
}

sessionEvents.addEventListener("unauthorized", (event) => {
  const reason = event.detail?.message;
  signOut(`You have been signed out${reason ? ` (${reason})` : ""}. Please sign in again.`);
});

function renderRolePicker(roles) {
  const list = $("#role-list");
  const nameField = $("#signin-name");
  nameField.value = session.lastName();
  const defaults = roles.map((role) => `“${DEFAULT_NAMES[role.id] || role.label}”`);
  $("#signin-name-hint").textContent = "Each name is a person of their own in the history. Left empty, you are the " +
    `role's stand-in: ${defaults.slice(0, -1).join(", ")} or ${defaults.at(-1)}.`;
  setChildren(list, roles.map((role) => {
    const button = h("button", { type: "button", class: "role-option", dataset: { role: role.id } },
      h("span", { class: "role-name" }, role.label),
      h("span", { class: "role-summary" }, ROLE_SUMMARIES[role.id] || role.permissions.join(", ")));
    button.addEventListener("click", async () => {
      for (const other of list.querySelectorAll("button")) other.disabled = true;
      button.setAttribute("aria-busy", "true");
      const typed = nameField.value.trim();
      clearFieldErrors($("#signin-local"));
      try {
        await session.signInLocally(role.id, typed || DEFAULT_NAMES[role.id] || role.label, Boolean(typed), request);
        showWorkspace({ focus: true });
      } catch (error) {
        if (error.status === 422 && error.details?.name) {
          showFieldErrors($("#signin-local"), { name: error.details.name });
          showAlert(describeError(error));
        } else {
          report(error);
        }
      } finally {
        button.removeAttribute("aria-busy");
        for (const other of list.querySelectorAll("button")) other.disabled = false;
      }
    });
    return h("li", {}, button);
  }));
}

function prepareSignIn(config) {
  if (config.mode === "local") {
    renderRolePicker(config.roles);
    $("#signin-local").hidden = false;
    return;
  }
  $("#signin-auth0").hidden = false;
  const login = $("#login");
  if (!session.auth0Ready()) {
    login.disabled = true;
    showAlert("Signing in is not set up on this server yet: it needs AUTH0_CLIENT_ID (see docs/deployment.md, section Auth0).");
  }
  login.addEventListener("click", async () => {
    login.disabled = true;
    login.textContent = "Opening the sign-in page…";
    try {
      await session.beginLogin();
    } catch (error) {
      login.disabled = false;
      login.textContent = "Log in";
      showAlert(error.message);
    }
  });
}

$("#logout").addEventListener("click", () => {
  if (!session.logout()) showSignIn("You have signed out.");
});

// --- the catalogue ----------------------------------------------------------------------------

function showWorkspace({ focus = false } = {}) {
  clearAlert();
  $("#role-badge").textContent = session.roleLabel();
  const person = session.personName();
  $("#session-name").textContent = person || "";
  $("#session-name").title = person || ""; // in full, where a phone cuts it short
  $("#session-name").hidden = !person;
  panels = [new ListPanel(MOVIES, $("#movies-panel")), new ListPanel(ACTORS, $("#actors-panel"))];
  showFiles();
  show("workspace");
  selectTab($("#tab-movies"), false);
  for (const panel of panels) panel.load();
  if (focus) $("#movies-heading").focus();
  clearTimeout(expiryTimer);
  const remaining = session.expiresAt() - Date.now();
  if (Number.isFinite(remaining)) {
    expiryTimer = setTimeout(() => signOut("Your session has expired. Please sign in again."),
      Math.min(Math.max(remaining, 0), 2 ** 31 - 1));
  }
}

/** The bar above the lists: the castings' export (they have no list of their own) and "Import a file", each for the
 * roles allowed. */
function showFiles() {
  const bar = $("#workspace-bar");
  const castings = exportButtons("castings");
  const importing = importable().length
    ? h("button", { type: "button", class: "btn btn-primary btn-small", id: "import-open", onclick: openImport },
      "Import a file…")
    : null;
  setChildren(bar, castings ? h("div", { class: "bar-group" }, h("span", { class: "bar-label", "aria-hidden": "true" },
    "Castings"), castings) : null, importing);
  bar.hidden = !castings && !importing;
}

bus.addEventListener("changed", () => {
  for (const panel of panels) panel.load();
});

// Back and Forward step through the lists' searches, filters, sorts and pages (each list keeps its own in the
// address: lists.js).
window.addEventListener("popstate", () => {
  for (const panel of panels) panel.restore();
});

// On narrow screens the two columns become tabs.
const tabs = [$("#tab-movies"), $("#tab-actors")];

function selectTab(tab, focus = true) {
  for (const other of tabs) {
    const selected = other === tab;
    other.setAttribute("aria-selected", String(selected));
    other.tabIndex = selected ? 0 : -1;
    $(`#${other.getAttribute("aria-controls")}`).classList.toggle("is-inactive", !selected);
  }
  if (focus) tab.focus();
}

for (const tab of tabs) {
  tab.addEventListener("click", () => selectTab(tab));
  tab.addEventListener("keydown", (event) => {
    const index = tabs.indexOf(tab);
    const target = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (target === undefined) return;
    event.preventDefault();
    selectTab(tabs[(target + tabs.length) % tabs.length]);
  });
}

// --- start ------------------------------------------------------------------------------------

async function start() {
  let config;
  try {
    config = await request("GET", "/dashboard/config.json", { auth: false });
  } catch (error) {
    views.boot.textContent = "The dashboard cannot start: its settings could not be loaded. Reload the page to retry.";
    views.boot.removeAttribute("aria-busy");
    report(error);
    return;
  }
  session.configure(config);
  prepareSignIn(config);
  const params = new URLSearchParams(window.location.search);
  if (session.isCallback(params)) {
    try {
      await session.completeLogin(params);
    } catch (error) {
      showSignIn(error.message);
      return;
    }
    showWorkspace({ focus: true });
    return;
  }
  if (session.restore()) showWorkspace();
  else showSignIn();
}

start();
