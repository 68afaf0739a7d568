// A movie's cast on its profile: who plays whom ("Dev Patel as Arjun"), in billing order as the API gives it (the
// billed by their billing, then the unbilled), each billed actor's rank shown ("1."). Directors and producers
// (patch:movies) change a character in place and the order with "Move up" / "Move down" buttons, which work the same
// from the keyboard and the pointer.
//
// - A character is changed with the casting's PUT (`{"character", "billing"}`: the billing it has, so that it
//   stays), sent with If-Match: the ETag of the movie on screen, which the API compares with the movie's cast only
//   (roles included). An empty field clears the character.
// - A move is one PUT /movies/{id}/cast with the whole cast in its new order, If-Match as above. Billing is
//   renumbered 1..n, in order. The unbilled actors have no order among them (the API lists them by id): "Move up" on
//   one bills them, last (the billing after the last billed actor, the top of the unbilled ones); "Move down" on
//   the last billed actor takes their billing away (they join the unbilled). An unbilled actor has no "Move down".
// - After a 412 the cast is read again and shown as it is now, and the page says what changed meanwhile. It redoes
//   the person's change by itself when it does not collide (at most three times in a row): a character change,
//   unless someone else changed that actor's character too (or uncast them); a move, unless someone else changed the
//   billing order (or uncast that actor). A change of the other person's that already did what the person asked
//   leaves nothing to send. Otherwise nothing is sent, and the person is asked to do it again on the current cast.

import { api, etagOf } from "./api.js";
import { changedFields, MOVIES } from "./resources.js";
import { clearAlert, clearFieldErrors, field, h, hue, initials, joinAnd, showFieldErrors } from "./ui.js";

// A change that meets one change after another (412 after 412) is redone at most this many times, then asked for.
const MAX_REDOS = 3;

// --- words ----------------------------------------------------------------------------------------------------

/** " as Arjun", or "" for a casting without a character. */
export function asCharacter(casting) {
  return casting?.character ? ` as ${casting.character}` : "";
}

/** What changed in one casting's role, as predicates: ["now plays Arjun (was Young Arjun)", "moved to billing 2"]. */
export function roleChange(was, now) {
  const said = [];
  const [before, after] = [was?.character ?? null, now?.character ?? null];
  if (before !== after) {
    if (after === null) said.push(`plays no named character now (was ${before})`);
    else said.push(`now plays ${after}${before === null ? "" : ` (was ${before})`}`);
  }
  const [rank, newRank] = [was?.billing ?? null, now?.billing ?? null];
  if (rank !== newRank) said.push(newRank === null ? "is no longer billed" : `moved to billing ${newRank}`);
  return said;
}

/** What changed in a movie's cast between two versions, in phrases: "Gal Gadot was cast as Ripley", "Dev Patel now
 * plays Arjun (was Young Arjun)", "Riz Ahmed moved to billing 1", "Oscar Isaac was removed from the cast". */
export function castPhrases(before, after) {
  const was = new Map(before.map((casting) => [casting.id, casting]));
  const now = new Set(after.map((casting) => casting.id));
  const phrases = [];
  for (const casting of after) {
    if (!was.has(casting.id)) {
      phrases.push(`${casting.name} was cast${asCharacter(casting)}`);
      continue;
    }
    const change = roleChange(was.get(casting.id), casting);
    if (change.length) phrases.push(`${casting.name} ${joinAnd(change)}`);
  }
  for (const casting of before) {
    if (!now.has(casting.id)) phrases.push(`${casting.name} was removed from the cast`);
  }
  return phrases;
}

/** Phrases about several castings, each of which may hold an "and" of its own: "Riz Ahmed now plays Sam and moved to
 * billing 1; Dev Patel moved to billing 2". */
export function joinPhrases(phrases) {
  return phrases.join("; ");
}

/** What someone else changed in a movie between the version the page showed and the current one, in sentences
 * ("Meanwhile someone else changed its title to “Copper Skies”. The cast changed too: Riz Ahmed moved to billing
 * 1."), or "". */
export function meanwhileInMovie(before, after) {
  const fields = changedFields(MOVIES, before, after, "its ");
  const cast = castPhrases(before.actors, after.actors);
  const sentences = [];
  if (fields.length) sentences.push(`Meanwhile someone else changed ${joinAnd(fields)}.`);
  if (cast.length) {
    sentences.push(`${fields.length ? "The cast changed too" : "Meanwhile someone else changed the cast"}: ` +
      `${joinPhrases(cast)}.`);
  }
  return sentences.join(" ");
}

// --- the order ------------------------------------------------------------------------------------------------

const billed = (cast) => cast.filter((casting) => casting.billing != null);

/** The ids of the billed actors, in billing order: what a move changes, and what it collides with. */
function billingOrder(cast) {
  return billed(cast).map((casting) => casting.id).join(",");
}

/** `cast` with the actor `actorId` moved one step ("up" or "down"), as the body of PUT /movies/{id}/cast (billing
 * 1..n in the new order, the unbilled after them as they are), and the billing the actor gets (null: none). */
export function movedCast(cast, actorId, direction) {
  const ranked = billed(cast);
  const rest = cast.filter((casting) => casting.billing == null);
  const at = ranked.findIndex((casting) => casting.id === actorId);
  if (at < 0) { // unbilled: "up" bills them, last
    const index = rest.findIndex((casting) => casting.id === actorId);
    if (direction !== "up" || index < 0) return null;
    ranked.push(...rest.splice(index, 1));
  } else if (direction === "up") {
    if (at === 0) return null;
    [ranked[at - 1], ranked[at]] = [ranked[at], ranked[at - 1]];
  } else if (at < ranked.length - 1) {
    [ranked[at], ranked[at + 1]] = [ranked[at + 1], ranked[at]];
  } else { // the last billed actor moves down out of the billing
    rest.unshift(...ranked.splice(at, 1));
  }
  const role = (casting) => (casting.character ? { character: casting.character } : {});
  const body = [
    ...ranked.map((casting, index) => ({ actor_id: casting.id, ...role(casting), billing: index + 1 })),
    ...rest.map((casting) => ({ actor_id: casting.id, ...role(casting) })),
  ];
  const mine = body.find((casting) => casting.actor_id === actorId);
  return { body, billing: mine.billing ?? null, order: ranked.map((casting) => casting.id).join(",") };
}

// --- the list -------------------------------------------------------------------------------------------------

/** The cast of `movie` (shown at version `etag`) as a list. `ctx` is the profile's: `editable` (may the person
 * change it), `follow(casting)` (open the actor), `removeButton(casting)` (the "Remove" button, or null), `show(movie,
 * etag)` (draw the profile with this version), `done(movie, etag, message, {linger, focus})` (a change went
 * through), `conflict(message, focus)` (nothing was written: the alert to show), `failed(error)` (any other error) and
 * `busy(work)` (run a request with the profile marked busy). */
export function castList(movie, etag, ctx) {
  const cast = movie.actors;
  const items = cast.map((casting, index) => {
    const name = casting.name;
    const rank = casting.billing != null
      ? h("span", { class: "billing" }, h("span", { class: "visually-hidden" }, "Billing "), `${casting.billing}.`)
      : h("span", { class: "billing billing-none" }, h("span", { class: "visually-hidden" }, "Not billed"),
        h("span", { "aria-hidden": "true" }, "–"));
    const main = h("div", { class: "cast-main" },
      h("button", { type: "button", class: "link-button", onclick: () => ctx.follow(casting) }, name),
      casting.character ? h("span", { class: "character" }, " as ", casting.character) : null);
    let controls = null;
    if (ctx.editable) {
      const isBilled = casting.billing != null;
      const moveButton = (direction, arrow, enabled) => h("button", {
        type: "button", class: "btn btn-ghost btn-small btn-move", dataset: { move: direction },
        "aria-label": `Move ${name} ${direction}`, title: `Move ${direction}`, disabled: !enabled,
        onclick: () => move(movie, etag, casting, direction, ctx),
      }, h("span", { "aria-hidden": "true" }, arrow));
      controls = h("div", { class: "cast-controls" },
        h("button", { type: "button", class: "btn btn-ghost btn-small", dataset: { edit: "character" },
          "aria-label": `Edit ${name}'s character`,
          onclick: (event) => openEditor(event.currentTarget.closest("li"), movie, etag, casting, ctx) }, "Character"),
        moveButton("up", "↑", !isBilled || index > 0),
        moveButton("down", "↓", isBilled),
        ctx.removeButton(casting));
    }
    return h("li", { id: `cast-row-${casting.id}`, class: "cast-item" }, rank,
      h("span", { class: ["dot", hue(casting.id)], "aria-hidden": "true" }, initials(name)), main, controls);
  });
  return h("ul", { class: "linked-list cast-list", "aria-labelledby": "linked-actors" }, items);
}

/** The control to focus in the row of actor `id` once the profile is drawn again: `which` ("up", "down", "edit")
 * if it can be used, else the row's other move button, else the actor's name. */
export function rowControl(id, which) {
  const row = document.getElementById(`cast-row-${id}`);
  if (!row) return null;
  const wanted = which === "edit" ? row.querySelector("[data-edit]") : row.querySelector(`[data-move="${which}"]`);
  const usable = [wanted, ...row.querySelectorAll("[data-move]")].find((button) => button && !button.disabled);
  return usable || row.querySelector(".link-button");
}

/** Run `work` with the cast's buttons disabled (one change at a time); focus comes back where it was when the
 * profile was not drawn again meanwhile. */
async function holding(work) {
  const focused = document.activeElement;
  const buttons = [...document.querySelectorAll(".cast-list button:not(:disabled)")];
  for (const button of buttons) button.disabled = true;
  try {
    return await work();
  } finally {
    for (const button of buttons) button.disabled = false;
    if (focused?.isConnected && document.activeElement !== focused && !focused.disabled) focused.focus();
  }
}

// --- the character, in place -----------------------------------------------------------------------------------

function closeEditors(except) {
  for (const editor of document.querySelectorAll(".character-editor")) {
    if (editor === except) continue;
    const row = editor.closest("li");
    editor.remove();
    row?.classList.remove("is-editing");
  }
}

/** Open the character's editor in `row` (the field, Save and Cancel; Enter saves, Escape cancels). `value`: what the
 * field starts with (the person's, after a collision); `theirs`: the character someone else set meanwhile. */
export function openEditor(row, movie, etag, casting, ctx, { value, theirs } = {}) {
  if (!row) return;
  closeEditors();
  const control = field({ id: "cast-character", name: "character", label: `Character played by ${casting.name}`,
    value: value ?? casting.character ?? "", hint: "Leave it empty for none. Enter saves, Escape cancels.",
    attrs: { autocomplete: "off", maxlength: 200 } });
  const input = control.querySelector("input");
  if (theirs !== undefined) {
    const line = h("p", { class: "field-collision", id: "cast-character-collision" },
      `Someone else changed it to ${theirs === null ? "no character" : `“${theirs}”`} meanwhile: save to replace ` +
      "theirs with yours, or cancel to keep theirs.");
    control.append(line);
    input.setAttribute("aria-describedby", `${input.getAttribute("aria-describedby")} ${line.id}`);
  }
  const save = h("button", { type: "submit", class: "btn btn-primary btn-small" }, "Save");
  const editor = h("form", { class: "character-editor", novalidate: true }, control,
    h("div", { class: "character-actions" }, save,
      h("button", { type: "button", class: "btn btn-secondary btn-small", onclick: () => close() }, "Cancel")));
  function close() {
    editor.remove();
    row.classList.remove("is-editing");
    row.querySelector("[data-edit]")?.focus();
  }
  input.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    event.preventDefault(); // the field's Escape cancels the edit, not the whole profile
    event.stopPropagation();
    close();
  });
  editor.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (save.disabled) return;
    await saveCharacter(movie, etag, casting, input.value, ctx, { editor, save, close });
  });
  row.classList.add("is-editing");
  row.append(editor);
  input.focus();
  input.select();
  editor.scrollIntoView({ block: "nearest" });
}

/** The editor's Save: PUT the casting's role (its billing as it is), redone on the current cast after a 412 when
 * it does not collide. */
async function saveCharacter(movie, etag, casting, typed, ctx, { editor, save, close }) {
  const wanted = typed.trim() || null;
  if (wanted === (casting.character ?? null)) {
    close();
    return;
  }
  clearFieldErrors(editor);
  clearAlert({ cause: "conflict" });
  const path = `/movies/${movie.id}/actors/${casting.id}`;
  let base = movie;
  let ifMatch = etag;
  let answer = null;
  try {
    answer = await holding(() => ctx.busy(async () => {
      for (let redo = 0; ; redo += 1) {
        const billing = base.actors.find((item) => item.id === casting.id).billing;
        const body = { ...(wanted === null ? {} : { character: typed.trim() }), ...(billing == null ? {} : { billing }) };
        try {
          return await api.put(path, { body, ifMatch });
        } catch (error) {
          if (error.status !== 412) throw error;
        }
        const data = await api.get(`/movies/${movie.id}`);
        const current = data.movie;
        ifMatch = etagOf(data);
        const theirs = current.actors.find((item) => item.id === casting.id);
        const news = meanwhileInMovie(movie, current);
        if (!theirs) {
          ctx.show(current, ifMatch);
          ctx.conflict(`Someone else removed ${casting.name} from the cast after this page showed it, so their ` +
            `character was not saved. ${news} The cast is shown here as it is now.`, null);
          return null;
        }
        if ((theirs.character ?? null) === wanted) {
          ctx.done(current, ifMatch, `Nothing left to save: someone else ${wanted === null
            ? `took ${casting.name}'s character away` : `gave ${casting.name} the character ${wanted}`} meanwhile, as ` +
            "you asked.",
            { linger: true, focus: () => rowControl(casting.id, "edit") });
          return null;
        }
        const collides = (theirs.character ?? null) !== (casting.character ?? null);
        if (collides || redo + 1 >= MAX_REDOS) {
          ctx.show(current, ifMatch);
          const row = document.getElementById(`cast-row-${casting.id}`);
          openEditor(row, current, ifMatch, theirs, ctx, { value: typed, theirs: theirs.character ?? null });
          ctx.conflict(`Someone else changed this movie's cast while you were editing it, so ${casting.name}'s ` +
            `character was not saved. ${news} Your “${typed.trim()}” is still in the field: save again to apply it ` +
            "to the cast as it is now, or cancel to leave it.", () => document.getElementById("cast-character"));
          return null;
        }
        base = current; // only other castings (or this one's billing) changed: redone on the current cast
      }
    }, save));
  } catch (error) {
    if (error.status === 422 && error.details) {
      const unplaced = showFieldErrors(editor, error.details);
      editor.scrollIntoView({ block: "nearest" }); // the message under the field too
      if (unplaced.length) ctx.failed(error);
      return;
    }
    ctx.failed(error);
    return;
  }
  if (!answer) return;
  const now = answer.movie.actors.find((item) => item.id === casting.id);
  const news = base === movie ? "" : ` ${meanwhileInMovie(movie, base)}`;
  ctx.done(answer.movie, etagOf(answer),
    `${casting.name} ${now?.character ? `now plays ${now.character}` : "plays no named character now"}.${news}`,
    { linger: Boolean(news), focus: () => rowControl(casting.id, "edit") });
}

// --- moves ------------------------------------------------------------------------------------------------------

/** "Move up" / "Move down": the whole cast in its new order, redone on the current cast after a 412 while the billing
 * order the person moved in is still the current one. */
async function move(movie, etag, casting, direction, ctx) {
  closeEditors();
  clearAlert({ cause: "conflict" });
  const intended = movedCast(movie.actors, casting.id, direction);
  if (!intended) return;
  const path = `/movies/${movie.id}/cast`;
  let base = movie;
  let ifMatch = etag;
  let answer = null;
  try {
    answer = await holding(() => ctx.busy(async () => {
      for (let redo = 0; ; redo += 1) {
        const plan = movedCast(base.actors, casting.id, direction);
        try {
          return await api.put(path, { body: { cast: plan.body }, ifMatch });
        } catch (error) {
          if (error.status !== 412) throw error;
        }
        const data = await api.get(`/movies/${movie.id}`);
        const current = data.movie;
        ifMatch = etagOf(data);
        const still = current.actors.some((item) => item.id === casting.id);
        if (still && billingOrder(current.actors) === intended.order) {
          ctx.done(current, ifMatch, "Nothing left to do: someone else put the cast in this order meanwhile " +
            `(${joinPhrases(castPhrases(movie.actors, current.actors))}).`,
            { linger: true, focus: () => rowControl(casting.id, direction) });
          return null;
        }
        if (!still || billingOrder(current.actors) !== billingOrder(base.actors) || redo + 1 >= MAX_REDOS) {
          ctx.show(current, ifMatch);
          ctx.conflict(`Someone else changed this movie's cast after this page showed it, so ${casting.name} was not ` +
            `moved. ${meanwhileInMovie(movie, current)} The cast is shown here as it is now: ${still ? "move them again" : "nothing is left to move"}` +
            `${still ? " if you still want to" : ""}.`, () => rowControl(casting.id, direction));
          return null;
        }
        base = current; // the billing order is the one the person moved in: redone on the current cast
      }
    }));
  } catch (error) {
    ctx.failed(error);
    return;
  }
  if (!answer) return;
  const now = answer.movie.actors.find((item) => item.id === casting.id);
  const where = now?.billing != null ? `moved to billing ${now.billing}` : "is no longer billed";
  const news = base === movie ? "" : ` ${meanwhileInMovie(movie, base)}`;
  ctx.done(answer.movie, etagOf(answer), `${casting.name} ${where}.${news}`,
    { linger: Boolean(news), focus: () => rowControl(casting.id, direction) });
}

