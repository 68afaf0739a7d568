-- pgbench: the work GET /movies?per_page=20&page=P needs, done plainly in SQL (the database's own limit).
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
