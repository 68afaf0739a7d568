// A create-cast-patch-delete flow through openapi-fetch, typed by what openapi-typescript generates from
// /openapi.json: a cast with characters and billing read back in billing order, an import dry run, an export, and
// every request sending back the highest Catalogue-Version answered (read-your-writes on a deployment with read
// followers), through a middleware shared by the flow's three clients. The types (generated/api.ts) are generated, not committed: .ci/client-flows.sh generates them
// from the live server's document, type-checks this file with `tsc --strict` (tsconfig.json), then runs it with
// the server's base URL and a token per role (PRODUCER_TOKEN, DIRECTOR_TOKEN, ASSISTANT_TOKEN). Records are
// named after this run and deleted at the end. Exits 1 at the first step whose answer is not what the document
// promises.
import createClient, { type Client, type Middleware } from "openapi-fetch";
import { randomUUID } from "node:crypto";
import {
  MovieSort,
  PathsCastingsExportGetParametersQueryFormat as ExportFormat,
  PathsImportsPostParametersQueryDry_run as DryRun,
  PathsImportsPostParametersQueryType as ImportType,
  type components,
  type paths,
} from "./generated/api.js";

type ErrorBody = components["schemas"]["ErrorBody"];

// What the document says, checked by the compiler: an error's `details` and `request_id` may be absent (so
// `Object.keys(error.details)` does not type-check), and are never null.
type Assert<T extends true> = T;
export type DetailsMayBeAbsent = Assert<{} extends Pick<ErrorBody, "details"> ? true : false>;
export type RequestIdMayBeAbsent = Assert<{} extends Pick<ErrorBody, "request_id"> ? true : false>;
export type NeverNull = Assert<null extends ErrorBody["details"] | ErrorBody["request_id"] ? false : true>;

class FlowError extends Error {}

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new FlowError(what);
}

// The body of an answer that must have this status and succeed (`data`) or fail (`error`).
function expectData<T>(result: { data?: T; error?: unknown; response: Response }, status: number): T {
  check(result.response.status === status && result.data !== undefined,
        `expected ${status}, got ${result.response.status}: ${JSON.stringify(result.error ?? result.data)}`);
  return result.data;
}

function expectError(result: { data?: unknown; error?: ErrorBody; response: Response }, status: number): ErrorBody {
  check(result.response.status === status && result.error !== undefined,
        `expected ${status}, got ${result.response.status}: ${JSON.stringify(result.data ?? result.error)}`);
  return result.error;
}

function noDetails(error: ErrorBody): boolean {
  return !("details" in error) && !("request_id" in error);
}

// Read-your-writes: each answer's Catalogue-Version is kept (the highest), every request sends it back, and no
// answer may be older than one already seen.
class CatalogueVersion {
  highest = 0;
  sent: string | null = null;
  readonly middleware: Middleware = {
    onRequest: ({ request }) => {
      if (this.highest) request.headers.set("Catalogue-Version", String(this.highest));
      this.sent = request.headers.get("Catalogue-Version");
      return request;
    },
    onResponse: ({ response }) => {
      const answered = response.headers.get("Catalogue-Version");
      if (answered !== null) {
        check(/^[0-9]+$/.test(answered) && Number(answered) >= this.highest,
              `Catalogue-Version ${answered} answered after ${this.highest}`);
        this.highest = Number(answered);
      }
      return response;
    },
  };
}

async function run(baseUrl: string, tokens: Record<"producer" | "director" | "assistant", string>): Promise<void> {
  const versions = new CatalogueVersion();
  const client = (token: string): Client<paths> => {
    const made = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });
    made.use(versions.middleware);
    return made;
  };
  const producer = client(tokens.producer);
  const director = client(tokens.director);
  const assistant = client(tokens.assistant);
  const marker = `client-flow-ts-${randomUUID().slice(0, 8)}`;
  let steps = 0;
  const step = (text: string): void => {
    steps += 1;
    console.log(`ok  ${text}`);
  };

  const created = await producer.POST("/movies", { body: { title: `${marker} movie`, release_date: "2021-03-04" } });
  const movie = expectData(created, 201).movie;
  check(created.response.headers.get("Location") === `/movies/${movie.id}`, "Location of the movie");
  step(`producer creates a movie: 201, Location /movies/${movie.id}`);

  const hired = await director.POST("/actors", { body: { name: `${marker} actor`, age: 40, gender: "female" } });
  const actor = expectData(hired, 201).actor;
  check(hired.response.headers.get("Location") === `/actors/${actor.id}`, "Location of the actor");
  step(`director creates an actor: 201, Location /actors/${actor.id}`);
  const other = expectData(await director.POST("/actors", {
    body: { name: `${marker} other`, age: 35, gender: "male" } }), 201).actor;
  step(`director creates a second actor: 201, /actors/${other.id}`);
  const ids = { path: { movie_id: movie.id, actor_id: actor.id } };
  const deleteAll = async () => ({
    actors: [await director.DELETE("/actors/{actor_id}", { params: { path: { actor_id: actor.id } } }),
             await director.DELETE("/actors/{actor_id}", { params: { path: { actor_id: other.id } } })],
    movie: await producer.DELETE("/movies/{movie_id}", { params: { path: { movie_id: movie.id } } }),
  });
  let deleted: Awaited<ReturnType<typeof deleteAll>>;
  try {
    const cast = expectData(await director.PUT("/movies/{movie_id}/actors/{actor_id}", { params: ids }), 200);
    check(cast.movie.actors.map((a) => a.id).join() === `${actor.id}`, "the cast after casting");
    step("director casts the actor in the movie");

    const role = expectData(await director.PUT("/movies/{movie_id}/actors/{actor_id}", {
      params: ids, body: { character: "Arjun", billing: 1 } }), 200).movie;
    check(JSON.stringify(role.actors.map((a) => [a.id, a.character, a.billing]))
          === JSON.stringify([[actor.id, "Arjun", 1]]), "the casting's role");
    step("director gives the casting a role: Arjun, top-billed");

    const replaced = await director.PUT("/movies/{movie_id}/cast", {
      params: { path: { movie_id: movie.id } },
      body: { cast: [{ actor_id: actor.id, character: "Arjun", billing: 2 },
                     { actor_id: other.id, character: "Meera", billing: 1 }] } });
    expectData(replaced, 200);
    const written = replaced.response.headers.get("Catalogue-Version");
    check(written !== null, "the cast's Catalogue-Version");
    step(`director replaces the cast, billings traded: Catalogue-Version ${written}`);

    const read = await assistant.GET("/movies/{movie_id}", { params: { path: { movie_id: movie.id } } });
    const whoPlaysWhom = expectData(read, 200).movie.actors.map((a) => [a.name, a.character, a.billing]);
    check(JSON.stringify(whoPlaysWhom) === JSON.stringify([[`${marker} other`, "Meera", 1],
                                                           [`${marker} actor`, "Arjun", 2]]),
          `the cast read back: ${JSON.stringify(whoPlaysWhom)}`);
    check(versions.sent === written && Number(read.response.headers.get("Catalogue-Version")) >= Number(written),
          `sent Catalogue-Version ${versions.sent}, the write's was ${written}`);
    step(`assistant reads who plays whom in billing order, sending Catalogue-Version ${written} back`);

    const patched = expectData(await director.PATCH("/actors/{actor_id}", {
      params: { path: { actor_id: actor.id } }, body: { age: 41 } }), 200).actor;
    check(patched.age === 41 && JSON.stringify(patched.movies.map((m) => [m.id, m.character]))
          === JSON.stringify([[movie.id, "Arjun"]]), "the patched actor");
    step("director patches the actor's age; the actor keeps the movie and the role");

    const renamed = expectData(await director.PATCH("/movies/{movie_id}", {
      params: { path: { movie_id: movie.id } }, body: { title: `${marker} movie (cut)` } }), 200).movie;
    check(renamed.title === `${marker} movie (cut)`, "the renamed movie");
    step("director renames the movie");

    const listed = expectData(await assistant.GET("/movies", {
      params: { query: { q: marker, sort: MovieSort.RELEASE_DATE_DESC } } }), 200);
    check(listed.total === 1 && listed.movies[0]?.release_date === "2021-03-04"
          && listed.movies[0].actors.map((a) => a.name).join() === `${marker} other,${marker} actor`,
          "the listed movie");
    step("assistant finds the movie with its cast (q, sort=MovieSort.RELEASE_DATE_DESC)");

    // A file, not JSON: read as text.
    const exported = await assistant.GET("/castings/export", {
      params: { query: { movie_id: movie.id, format: ExportFormat.csv } }, parseAs: "text" });
    const lines = expectData(exported, 200).split("\r\n");
    check(exported.response.headers.get("Content-Type") === "text/csv; charset=utf-8"
          && lines[0] === "movie_id,movie_title,movie_release_date,actor_id,actor_name,character,billing"
          && JSON.stringify(lines.slice(1, 3).map((line) => line.split(",").slice(4)))
             === JSON.stringify([[`${marker} other`, "Meera", "1"], [`${marker} actor`, "Arjun", "2"]])
          && lines.slice(3).join("|") === "#end,2,,,,,|", `the castings export: ${lines.join("|")}`);
    step("assistant exports the castings as CSV: billing order, ending with #end,2");

    // The file is the body as it is: no JSON serializer, and its own Content-Type.
    const file = (rows: string[]) => ({
      params: { query: { type: ImportType.movies, dry_run: DryRun.true } },
      body: `title,release_date\n${rows.join("\n")}\n`,
      bodySerializer: (body: string) => body,
      headers: { "Content-Type": "text/csv" },
    });
    const good = `${marker} imported,2022-02-02`;
    const refusedFile = expectError(await producer.POST("/imports", file([good, `${marker} misdated,2022-02-30`])),
                                    422) as components["schemas"]["ImportRefused"];
    check(JSON.stringify(refusedFile.import?.problems) === JSON.stringify(
      [{ line: 3, column: "release_date", message: "must be a real calendar date" }]), "the import's problems");
    const report = expectData(await producer.POST("/imports", file([good])), 200).import;
    check(report.dry_run && report.rows === 1 && report.created === 1 && report.problem_count === 0,
          `the dry run's report: ${JSON.stringify(report)}`);
    const imported = expectData(await assistant.GET("/movies", { params: { query: { q: `${marker} imported` } } }),
                                200);
    check(imported.total === 0, "the dry run wrote a movie");
    step("producer's import dry run: a bad date reported at line 3, then 1 movie to create, nothing written");

    const invalid = expectError(await director.PATCH("/movies/{movie_id}", {
      params: { path: { movie_id: movie.id } }, body: { title: "  " } }), 422);
    check(invalid.details !== undefined && Object.keys(invalid.details).join() === "title"
          && invalid.details["title"]?.join() === "must not be empty" && !("request_id" in invalid), "the 422 body");
    step("a blank title is a 422 whose details name the field");

    const refused = expectError(await assistant.DELETE("/actors/{actor_id}", {
      params: { path: { actor_id: actor.id } } }), 403);
    check(noDetails(refused) && refused.message === "token lacks the delete:actors permission", "the 403 body");
    step("assistant may not delete the actor: 403, no details");
  } finally {
    deleted = await deleteAll();
  }
  check(deleted.actors.map((answer) => expectData(answer, 200).deleted).join() === `${actor.id},${other.id}`,
        "the deleted actors' ids");
  step("director deletes the actors");
  check(expectData(deleted.movie, 200).deleted === movie.id, "the deleted movie's id");
  step("producer deletes the movie");

  const gone = expectError(await assistant.GET("/movies/{movie_id}", { params: { path: { movie_id: movie.id } } }), 404);
  check(noDetails(gone) && gone.message === "movie not found", "the 404 body");
  step("the movie is gone: 404, no details");
  console.log(`typescript client (openapi-typescript + openapi-fetch): flow complete, ${steps} steps`);
}

async function main(): Promise<number> {
  const baseUrl = process.argv[2];
  if (process.argv.length !== 3 || baseUrl === undefined) {
    console.error("usage: node flow.js BASE_URL (with PRODUCER_TOKEN, DIRECTOR_TOKEN, ASSISTANT_TOKEN set)");
    return 2;
  }
  const { PRODUCER_TOKEN: producer, DIRECTOR_TOKEN: director, ASSISTANT_TOKEN: assistant } = process.env;
  if (!producer || !director || !assistant) {
    console.error("flow.ts: PRODUCER_TOKEN, DIRECTOR_TOKEN and ASSISTANT_TOKEN must be set");
    return 2;
  }
  try {
    await run(baseUrl.replace(/\/$/, ""), { producer, director, assistant });
    return 0;
  } catch (error) {
    console.error(`FAIL typescript client flow: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

// No answer may take the flow past a minute: it fails rather than hang.
setTimeout(() => {
  console.error("FAIL typescript client flow: no end within 60 s");
  process.exit(1);
}, 60_000).unref();
main().then((code) => { process.exitCode = code; });
