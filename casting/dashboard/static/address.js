// Each list's search, filters, sort and page live in the page's address, so a search can be bookmarked or
// shared, and Back and Forward step through the person's changes: `?movies.q=ice&movies.sort=title&actors.page=2`.
// Each list owns the parameters named after it ("movies." or "actors." and the API's name for the value); a value
// at its default (page 1, the default sort, an empty filter) is left out, so a plain `/` is both lists unfiltered.
// Parameters of neither list are kept as they are.

/** The values of `kind`'s list in the address (or `search`), by the API's names: only those present. */
export function readList(kind, search = window.location.search) {
  const prefix = `${kind}.`;
  const values = {};
  for (const [name, value] of new URLSearchParams(search)) {
    if (name.startsWith(prefix)) values[name.slice(prefix.length)] = value;
  }
  return values;
}

/** The address with `kind`'s list at `state` (its values left out where they equal `defaults`'). */
function addressWith(kind, state, defaults) {
  const prefix = `${kind}.`;
  const params = new URLSearchParams(window.location.search);
  for (const name of [...params.keys()]) if (name.startsWith(prefix)) params.delete(name);
  for (const [name, value] of Object.entries(state)) {
    if (String(value) !== String(defaults[name] ?? "")) params.set(prefix + name, value);
  }
  const query = params.toString();
  return `${window.location.pathname}${query ? `?${query}` : ""}${window.location.hash}`;
}

/** Write `kind`'s list into the address: a new history entry (`push`: a change the person made), or in place of
 * the current one (the page corrected the address: a page past the last one, a value it cannot show). Nothing
 * happens when the address says so already. */
export function writeList(kind, state, defaults, { push = false } = {}) {
  const address = addressWith(kind, state, defaults);
  const here = `${window.location.pathname}${window.location.search}${window.location.hash}`;
  if (address === here) return;
  if (push) window.history.pushState(null, "", address);
  else window.history.replaceState(null, "", address);
}

/** The lists' part of the address (`?movies.q=ice`, or ""): what a sign-in through Auth0 brings back. */
export function listsQuery(search = window.location.search) {
  const params = new URLSearchParams();
  for (const [name, value] of new URLSearchParams(search)) {
    if (name.startsWith("movies.") || name.startsWith("actors.")) params.append(name, value);
  }
  const query = params.toString();
  return query ? `?${query}` : "";
}
