-- pgbench: the list's page as issue 16 measured its reference (1,930 tps at 10k movies, pages 1..500):
-- OFFSET from the start of the list at every depth and a COUNT(*) of the whole table for the total. This
-- is more work than the app does now (its total is kept in table_counts, its deep pages start from an
-- anchor: bench/page.sql is the same work), kept to compare with the issue's own figures.
\set page random(1, :pages)
SELECT count(*) FROM movies;
SELECT m.id, m.title, m.release_date,
       COALESCE(json_agg(json_build_object('id', a.id, 'name', a.name) ORDER BY a.id)
                FILTER (WHERE a.id IS NOT NULL), '[]') AS actors
FROM (SELECT id, title, release_date FROM movies ORDER BY id LIMIT 20 OFFSET (:page - 1) * 20) AS m
LEFT JOIN movie_actors ma ON ma.movie_id = m.id
LEFT JOIN actors a ON a.id = ma.actor_id
GROUP BY m.id, m.title, m.release_date
ORDER BY m.id;
