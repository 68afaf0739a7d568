-- The benchmark's data, made in SQL (generate_series; no COPY, no client round trip per row):
-- :movies movies numbered 1..N, half as many actors, three castings per movie.
--     psql -v movies=N -f bench/load.sql
-- One movie title in ten contains "7 of" (the broad search) and "Movie 421 of" names one movie (the
-- narrow one). The history and the idempotency keys are emptied too, so every size starts alike.
--
-- Fast at a million movies: the keys and indexes of the three tables are dropped for the load and built
-- again afterwards from their own definitions (read from the catalogue, so a migration that changes them
-- needs no change here), since building an index once is much cheaper than updating it row by row (the
-- trigram indexes above all). The triggers stay on: table_counts and the catalogue version stay exact.
-- VACUUM (FREEZE, ANALYZE) then leaves the tables as a database that has been up a while has them
-- (visibility map set, statistics current), so autovacuum does not start in the middle of a measure.
\set ON_ERROR_STOP 1
SET maintenance_work_mem = '256MB';
SET client_min_messages = warning;

BEGIN;
CREATE TEMP TABLE bench_tables ON COMMIT DROP AS
SELECT unnest(ARRAY['movies', 'actors', 'movie_actors']::regclass[]) AS rel;

-- What to build again, in order: primary and unique keys (1), the other indexes (2), foreign keys (3).
CREATE TEMP TABLE bench_rebuild ON COMMIT DROP AS
SELECT CASE c.contype WHEN 'f' THEN 3 ELSE 1 END AS step,
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname,
              pg_get_constraintdef(c.oid)) AS ddl,
       format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname) AS drop_ddl
FROM pg_constraint c
WHERE c.contype IN ('p', 'u', 'f')
  AND (c.conrelid IN (SELECT rel FROM bench_tables) OR c.confrelid IN (SELECT rel FROM bench_tables))
UNION ALL
SELECT 2, pg_get_indexdef(i.indexrelid), format('DROP INDEX %s', i.indexrelid::regclass)
FROM pg_index i
WHERE i.indrelid IN (SELECT rel FROM bench_tables)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid);

-- Foreign keys first (they lean on the primary keys), then the rest.
SELECT drop_ddl FROM bench_rebuild ORDER BY step DESC \gexec

TRUNCATE movie_actors, movies, actors RESTART IDENTITY CASCADE;
SELECT format('TRUNCATE %s', string_agg(quote_ident(name), ', '))
FROM unnest(ARRAY['history', 'idempotency_keys']) AS name
WHERE to_regclass(name) IS NOT NULL
HAVING count(*) > 0 \gexec

INSERT INTO actors (name, age, gender)
SELECT 'Actor ' || i, 18 + i % 70, CASE WHEN i % 2 = 0 THEN 'female' ELSE 'male' END
FROM generate_series(1, :movies / 2) AS i;
INSERT INTO movies (title, release_date)
SELECT 'Movie ' || i || ' of the Night', DATE '1950-01-01' + (i * 7 % 27000)
FROM generate_series(1, :movies) AS i;
-- Three different actors per movie: offsets 0, n/3 and 2n/3 apart among the n actors.
INSERT INTO movie_actors (movie_id, actor_id)
SELECT m, (m * 7 + k * (:movies / 2 / 3)) % (:movies / 2) + 1
FROM generate_series(1, :movies) AS m, generate_series(0, 2) AS k;

SELECT ddl FROM bench_rebuild ORDER BY step \gexec
COMMIT;

-- The tables an older commit lacks are left out, so that make bench-compare runs against it too.
SELECT format('VACUUM (FREEZE, ANALYZE) %s', string_agg(quote_ident(name), ', '))
FROM unnest(ARRAY['movies', 'actors', 'movie_actors', 'table_counts', 'catalogue_version']) AS name
WHERE to_regclass(name) IS NOT NULL \gexec
