-- pgbench: the work of GET /movies?per_page=20&page=P (P at random in 1..:pages) done plainly in SQL, as
-- the app's one statement does it (listing.page_statement): the page, each movie's cast (by billing) with
-- the actors' names looked up by primary key and each casting's character and billing, the total kept by triggers in table_counts, all built into the response
-- body by PostgreSQL; with the catalogue version (the list's ETag), whether a next page exists, and the
-- sort keys of the page's first and last rows (its cursors).
-- A page that starts 2,000 rows deep or more starts from its anchor, as the app's does: the sort keys of
-- every 1,000th row, which each app process keeps in memory (listing.ANCHOR_EVERY); load.sql numbers the
-- movies 1..N, so the anchor of row k * 1000 is the id k * 1000 + 1.
-- bench/run.py checks that this answers the body the app answers before it measures either.
\set page random(1, :pages)
\set offset (:page - 1) * 20
\if :offset >= 2000
\set key (:offset / 1000) * 1000 + 1
\set skip :offset % 1000
\else
\set key 1
\set skip :offset
\endif
WITH fetched AS (
  SELECT id, title, release_date FROM movies WHERE id >= :key ORDER BY id LIMIT 21 OFFSET :skip
), page AS (
  SELECT id, title, release_date FROM fetched ORDER BY id LIMIT 20
)
SELECT json_build_object(
         'success', true,
         'movies', (SELECT coalesce(json_agg(json_build_object(
                      'id', p.id, 'title', p.title, 'release_date', to_char(p.release_date, 'YYYY-MM-DD'),
                      'actors', (SELECT coalesce(json_agg(json_strip_nulls(json_build_object(
                                   'id', ma.actor_id,
                                   'name', (SELECT a.name FROM actors a WHERE a.id = ma.actor_id),
                                   'character', ma.character, 'billing', ma.billing))
                                   ORDER BY ma.billing NULLS LAST, ma.actor_id), '[]'::json)
                                 FROM movie_actors ma WHERE ma.movie_id = p.id))
                      ORDER BY p.id), '[]'::json)
                    FROM page p),
         'total', (SELECT row_count FROM table_counts WHERE table_name = 'movies'))::text AS body,
       (SELECT version FROM catalogue_version WHERE id = 1) AS version,
       (SELECT count(*) > 20 FROM fetched) AS more,
       (SELECT json_build_array(id)::text FROM page ORDER BY id LIMIT 1) AS first_keys,
       (SELECT json_build_array(id)::text FROM page ORDER BY id DESC LIMIT 1) AS last_keys;
