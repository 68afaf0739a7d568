-- pgbench: GET /movies?character=Quinn's work at 1M movies (8,577 movies, 8,594 castings in about 7,000 heap
-- blocks), the page (1..5) and the exact total, in two shapes (-D shape=1 or 2):
--   1. the app's: movies WHERE id IN (the matching castings' movie_id), the page by movies.id, the total a
--      count over movies: PostgreSQL reads the matching castings (a bitmap scan of the trigram index and
--      every heap block it names), then looks each movie up by primary key, for the page and again for
--      the total;
--   2. the matching castings' movie ids once (MATERIALIZED), the page's ids and the total from them (the
--      castings' foreign key means every movie_id is a movie): no lookup of 8,577 movies.
-- Both read every matching casting: the heap visits of the trigram index's matches are where the limit is.
\set page random(1, 5)
\if :shape = 1
SELECT (SELECT array_agg(id) FROM (SELECT id FROM movies WHERE id IN (SELECT movie_id FROM movie_actors
        WHERE character ILIKE '%Quinn%') ORDER BY id LIMIT 21 OFFSET (:page - 1) * 20) AS page),
       (SELECT count(*) FROM movies WHERE id IN (SELECT movie_id FROM movie_actors WHERE character ILIKE '%Quinn%'));
\else
WITH matches AS MATERIALIZED (SELECT DISTINCT movie_id FROM movie_actors WHERE character ILIKE '%Quinn%')
SELECT (SELECT array_agg(movie_id) FROM (SELECT movie_id FROM matches ORDER BY movie_id LIMIT 21
        OFFSET (:page - 1) * 20) AS page), (SELECT count(*) FROM matches);
\endif
