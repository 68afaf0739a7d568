// One column of the catalogue (movies or actors): search, filters, sort, cards and pages. What it shows is in the
// page's address (address.js): restored on load, a history entry for each change the person makes (a search once
// it settles, not each key), and Back and Forward step through them.

import { readList, writeList } from "./address.js";
import { api } from "./api.js";
import { mayRestore, showDeleted } from "./deleted.js";
import { exportButtons } from "./files.js";
import { newRecord } from "./forms.js";
import { open, summaryLine } from "./resources.js";
import { can } from "./session.js";
import {
  clearAlert, clearFieldErrors, field, fieldProblems, formatDate, h, hue, initials, plural, report, setChildren,
  showAlert, showFieldErrors,
} from "./ui.js";

const PER_PAGE = 8;
const SEARCH_DELAY_MS = 300;

export class ListPanel {
  constructor(resource, section) {
    this.resource = resource;
    this.section = section;
    this.cause = `${resource.kind}-list`; // of the page alerts about this list
    this.defaults = { page: 1, q: "", sort: resource.defaultSort };
    for (const filter of resource.filters) this.defaults[filter.name] = "";
    this.state = this.fromAddress();
    this.render();
    this.state = this.fill(this.state);
    this.remember({ push: false }); // the address as the page reads it (a value it could not take left out)
  }

  /** The list's state as the address gives it: defaults for what it does not say, or says wrong (a sort order or a
   * page number the page has not). Filter values are the API's to judge: a bad one is marked beside its field. */
  fromAddress() {
    const values = readList(this.resource.kind);
    const state = { ...this.defaults };
    for (const name of Object.keys(this.defaults)) {
      if (typeof values[name] === "string") state[name] = values[name].trim();
    }
    state.page = /^[1-9][0-9]{0,8}$/.test(state.page) ? Number(state.page) : 1;
    if (!this.resource.sorts.some(([value]) => value === state.sort)) state.sort = this.defaults.sort;
    return state;
  }

  /** Show `state` in the form's fields; returns it as they took it (a date input cannot hold "2020-13-45"). */
  fill(state) {
    const taken = { ...state };
    for (const name of ["q", "sort", ...this.resource.filters.map((filter) => filter.name)]) {
      const control = this.form.elements.namedItem(name);
      control.value = state[name];
      taken[name] = control.value.trim();
    }
    if (this.resource.filters.some((filter) => taken[filter.name])) this.form.querySelector(".more-filters").open = true;
    return taken;
  }

  /** The list's state into the page's address: a new history entry for a change the person made (`push`). */
  remember({ push = true } = {}) {
    writeList(this.resource.kind, this.state, this.defaults, { push });
  }

  /** Back or Forward: show the list the address names now. */
  restore() {
    clearTimeout(this.searchTimer);
    const next = this.fill(this.fromAddress());
    clearFieldErrors(this.form);
    clearAlert({ cause: this.cause });
    if (JSON.stringify(next) === JSON.stringify(this.state)) return;
    this.state = next;
    this.load();
  }

  render() {
    const r = this.resource;
    const heading = h("h2", { id: `${r.kind}-heading`, tabindex: "-1" }, `${r.Noun}s`);
    const create = can(r.can.create)
      ? h("button", { type: "button", class: "btn btn-primary", onclick: (event) => newRecord(r, event.currentTarget) },
        h("span", { "aria-hidden": "true" }, "+ "), `New ${r.noun}`)
      : null;
    const deleted = mayRestore(r)
      ? h("button", { type: "button", class: "btn btn-secondary", onclick: () => showDeleted(r) },
        "Recently deleted", h("span", { class: "visually-hidden" }, ` ${r.kind}`))
      : null;
    this.form = this.renderFilters();
    this.status = h("p", { class: "list-status", id: `${r.kind}-status`, "aria-live": "polite" });
    // An export is of what the list shows: its search, filters and sort, every page of it.
    const exports = exportButtons(r.kind, () => {
      const { page, ...shown } = this.state;
      return shown;
    });
    this.list = h("ul", { class: "cards", "aria-labelledby": `${r.kind}-heading`, "aria-busy": "false" });
    this.previous = h("button", { type: "button", class: "btn btn-secondary btn-small", disabled: true,
      onclick: () => this.turn(-1) }, h("span", { "aria-hidden": "true" }, "‹ "), "Previous");
    this.next = h("button", { type: "button", class: "btn btn-secondary btn-small", disabled: true,
      onclick: () => this.turn(1) }, "Next", h("span", { "aria-hidden": "true" }, " ›"));
    this.pageLabel = h("span", { class: "page-label" });
    // Shown once an answer says there is more than one page.
    this.pager = h("nav", { class: "pager", "aria-label": `${r.Noun} pages`, hidden: true },
      this.previous, this.pageLabel, this.next);
    setChildren(this.section, h("div", { class: "panel-head" }, heading,
      deleted || create ? h("div", { class: "panel-actions" }, deleted, create) : null), this.form,
    h("div", { class: "list-bar" }, this.status, exports), this.list, this.pager);
  }

  renderFilters() {
    const r = this.resource;
    const id = (name) => `${r.kind}-filter-${name}`;
    const search = field({ id: id("q"), name: "q", label: r.searchLabel, type: "search",
      attrs: { autocomplete: "off", maxlength: 200 } });
    const sort = field({ id: id("sort"), name: "sort", label: "Sort by", options: r.sorts, value: this.state.sort });
    const filters = r.filters.map((filter) => field({ ...filter, id: id(filter.name) }));
    const clear = h("button", { type: "button", class: "btn btn-ghost btn-small", onclick: () => this.clear() },
      "Clear filters");
    const form = h("form", { class: "filters", role: "search", "aria-label": `Find ${r.kind}`, novalidate: true },
      h("div", { class: "filter-row" }, search, sort),
      h("details", { class: "more-filters" },
        h("summary", {}, "More filters"),
        h("div", { class: "filter-grid" }, filters, h("div", { class: "filter-actions" }, clear))));
    // A search is applied (and becomes one history entry) once the typing settles, not at each key.
    form.addEventListener("input", (event) => {
      if (event.target.type !== "search") return;
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.apply(), SEARCH_DELAY_MS);
    });
    form.addEventListener("change", (event) => {
      if (event.target.type !== "search") this.apply();
    });
    // A date typed only in part changes nothing (its value stays empty): say so when the field is left.
    form.addEventListener("focusout", (event) => {
      if (event.target.type === "date" && event.target.validity.badInput) this.apply({ focus: false });
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      clearTimeout(this.searchTimer);
      this.apply();
    });
    return form;
  }

  apply({ focus = true } = {}) {
    const problems = fieldProblems(this.form);
    if (Object.keys(problems).length) {
      this.invalid(problems, { focus });
      return;
    }
    const values = Object.fromEntries(new FormData(this.form));
    const next = { ...this.state, ...values, page: 1 };
    for (const key of Object.keys(values)) next[key] = String(values[key]).trim();
    // The same filters as shown, unless a field is marked wrong: loading them again clears the marks.
    if (JSON.stringify(next) === JSON.stringify(this.state) && !this.form.querySelector("[aria-invalid]")) return;
    this.state = next;
    this.load();
    this.remember();
  }

  /** Filter values the API cannot take: marked beside their fields (perhaps in the folded "More filters"). */
  invalid(details, { focus = true } = {}) {
    const more = this.form.querySelector(".more-filters");
    if (Object.keys(details).some((name) => more.querySelector(`[name="${CSS.escape(name)}"]`))) more.open = true;
    if (showFieldErrors(this.form, details, { focus }).length) return false;
    showAlert(`Some ${this.resource.noun} filters are not valid: see the highlighted fields.`,
      { scope: "page", cause: this.cause });
    return true;
  }

  clear() {
    for (const filter of this.resource.filters) this.form.elements.namedItem(filter.name).value = "";
    this.form.elements.namedItem("q").value = "";
    this.apply();
  }

  turn(step) {
    this.state = { ...this.state, page: this.state.page + step };
    this.load();
    this.remember();
  }

  async load() {
    const r = this.resource;
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.list.setAttribute("aria-busy", "true");
    this.status.classList.add("is-loading");
    setChildren(this.status, h("span", { class: "spinner", "aria-hidden": "true" }), ` Loading ${r.kind}…`);
    try {
      const data = await api.get(r.path, { ...this.state, per_page: PER_PAGE }, controller.signal);
      const pages = Math.max(1, Math.ceil(data.total / data.per_page));
      if (data.page > pages) { // the last page emptied (a delete), or the address named one past it: the last one
        this.state = { ...this.state, page: pages };
        this.remember({ push: false });
        this.controller = null;
        return this.load();
      }
      clearFieldErrors(this.form);
      clearAlert({ cause: this.cause });
      this.show(data, pages);
    } catch (error) {
      if (error.name === "AbortError") return;
      // Filters marked wrong need changing; any other trouble (rate limit, server, network) may pass.
      const marked = error.status === 400 && error.details && this.invalid(error.details);
      if (!marked) report(error, { scope: "page", cause: this.cause });
      const retry = h("button", { type: "button", class: "btn btn-ghost btn-small", onclick: () => {
        this.section.querySelector("h2").focus(); // the button goes with the message
        this.load();
      } }, "Try again");
      setChildren(this.status, `The ${r.kind} could not be loaded.`, marked ? null : [" ", retry]);
    } finally {
      if (this.controller === controller) {
        this.list.setAttribute("aria-busy", "false");
        this.status.classList.remove("is-loading");
      }
    }
  }

  show(data, pages) {
    const r = this.resource;
    const records = data[r.kind];
    const filtered = this.state.q || r.filters.some((filter) => this.state[filter.name]);
    if (records.length) {
      this.status.textContent = plural(data.total, r.noun) + (filtered ? (data.total === 1 ? " matches" : " match") : "");
      setChildren(this.list, records.map((record) => this.card(record)));
    } else {
      this.status.textContent = filtered ? `No ${r.kind} match these filters.` : `No ${r.kind} yet.`;
      setChildren(this.list, h("li", { class: "empty" },
        filtered ? "Try a shorter search or clear the filters."
          : can(r.can.create) ? `Use “New ${r.noun}” to add the first one.` : `Nothing to show yet.`));
    }
    const focused = document.activeElement;
    this.pager.hidden = pages <= 1;
    this.pageLabel.textContent = `Page ${data.page} of ${pages}`;
    this.previous.disabled = data.page <= 1;
    this.next.disabled = data.page >= pages;
    if (this.pager.hidden && this.pager.contains(focused)) this.section.querySelector("h2").focus();
    else if (focused?.disabled) (focused === this.next ? this.previous : this.next).focus();
  }

  card(record) {
    const r = this.resource;
    const label = record[r.labelField];
    const opener = h("button", { type: "button", class: "card-link", onclick: () => open(r.kind, record.id) }, label);
    if (r.kind === "movies") {
      const cast = record.actors.map((actor) => actor.name).join(", ");
      return h("li", { class: "card" },
        h("div", { class: ["poster", hue(record.id)], "aria-hidden": "true" },
          h("span", { class: "poster-initials" }, initials(label)),
          h("span", { class: "poster-year" }, summaryLine("movies", record))),
        h("div", { class: "card-main" },
          h("h3", { class: "card-title" }, opener),
          h("p", { class: "card-meta" }, `Released ${formatDate(record.release_date)}`),
          h("p", { class: "card-extra" }, cast ? `Cast: ${cast}` : "No cast yet")));
    }
    const movies = record.movies.map((movie) => movie.title).join(", ");
    return h("li", { class: "card" },
      h("div", { class: ["avatar", hue(record.id)], "aria-hidden": "true" }, initials(label)),
      h("div", { class: "card-main" },
        h("h3", { class: "card-title" }, opener),
        h("p", { class: "card-meta" }, `${record.age} years old · ${record.gender}`),
        h("p", { class: "card-extra" }, movies ? `In ${plural(record.movies.length, "movie")}: ${movies}`
          : "Not cast in any movie yet")));
  }
}
