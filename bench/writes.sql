-- pgbench: the write mix (bench/writes.lua) in SQL: a quarter each of creating an actor, renaming a movie,
-- casting an actor and uncasting one, each in one transaction with the statements the app runs for it
-- (captured from the app's own SQL on PostgreSQL, the same order): the write's settings, the row locks
-- (movies before actors), the records read before and after, the change, the history entries and the
-- catalogue version's bump, last. What the app builds in Python (the entries' JSON) is built here by
-- PostgreSQL from the same rows, so the database does at least the app's work and nothing of its HTTP,
-- token, validation or JSON encoding: where the write path's limit stands on this database.
--     pgbench -n -c 8 -T 10 -D movies=10000 -f bench/writes.sql $BENCH_DATABASE_URL
\set kind random(0, 3)
\set movie random(1, :movies)
\set actor random(1, :movies / 2)
BEGIN;
SELECT set_config('casting.api_write', 'on', true),
       set_config('statement_timeout', current_setting('statement_timeout'), true);
\if :kind = 0
INSERT INTO actors (name, age, gender) VALUES ('Bench Actor', 40, 'female') RETURNING id AS created \gset
SELECT actors.id, actors.name, actors.age, actors.gender, movie_actors.character, movie_actors.billing,
       movies.id AS id_1, movies.title
FROM actors LEFT OUTER JOIN movie_actors ON movie_actors.actor_id = actors.id
     LEFT OUTER JOIN movies ON movies.id = movie_actors.movie_id
WHERE actors.id IN (:created) ORDER BY actors.id, movie_actors.movie_id;
INSERT INTO history (at, subject, action, record_type, record_id, before, after, request_id, editor_name,
                     editor_email, other)
SELECT now(), 'bench|pgbench', 'created', 'actor', a.id, 'null'::json,
       json_build_object('name', a.name, 'age', a.age, 'gender', a.gender, 'movie_ids', '[]'::json,
                         'movies', '[]'::json),
       md5(random()::text), NULL, NULL, 'null'::json
FROM actors a WHERE a.id = :created RETURNING history.id;
\elif :kind = 1
SELECT movies.id FROM movies WHERE movies.id IN (:movie) ORDER BY movies.id FOR NO KEY UPDATE;
SELECT movies.id, movies.title, movies.release_date, movie_actors.character, movie_actors.billing,
       actors.id AS id_1, actors.name
FROM movies LEFT OUTER JOIN movie_actors ON movie_actors.movie_id = movies.id
     LEFT OUTER JOIN actors ON actors.id = movie_actors.actor_id
WHERE movies.id IN (:movie) ORDER BY movies.id, movie_actors.billing ASC NULLS LAST, movie_actors.actor_id;
UPDATE movies SET title = 'Bench Title ' || :movie WHERE movies.id = :movie;
SELECT movies.id, movies.title, movies.release_date, movie_actors.character, movie_actors.billing,
       actors.id AS id_1, actors.name
FROM movies LEFT OUTER JOIN movie_actors ON movie_actors.movie_id = movies.id
     LEFT OUTER JOIN actors ON actors.id = movie_actors.actor_id
WHERE movies.id IN (:movie) ORDER BY movies.id, movie_actors.billing ASC NULLS LAST, movie_actors.actor_id;
INSERT INTO history (at, subject, action, record_type, record_id, before, after, request_id, editor_name,
                     editor_email, other)
SELECT now(), 'bench|pgbench', 'updated', 'movie', m.id, json_build_object('title', m.title),
       json_build_object('title', m.title, 'release_date', m.release_date,
                         'actors', (SELECT coalesce(json_agg(json_build_object('id', a.id, 'name', a.name)), '[]')
                                    FROM movie_actors c JOIN actors a ON a.id = c.actor_id
                                    WHERE c.movie_id = m.id)),
       md5(random()::text), NULL, NULL, 'null'::json
FROM movies m WHERE m.id = :movie RETURNING history.id;
\else
\if :kind = 2
\set other :actor
\else
SELECT coalesce((SELECT actor_id FROM movie_actors WHERE movie_id = :movie ORDER BY actor_id LIMIT 1), :actor)
       AS other \gset
\endif
SELECT movies.id FROM movies WHERE movies.id IN (:movie) ORDER BY movies.id FOR NO KEY UPDATE;
SELECT actors.id FROM actors WHERE actors.id IN (:other) ORDER BY actors.id FOR NO KEY UPDATE;
SELECT movies.id, movies.title, movies.release_date, movie_actors.character, movie_actors.billing,
       actors.id AS id_1, actors.name
FROM movies LEFT OUTER JOIN movie_actors ON movie_actors.movie_id = movies.id
     LEFT OUTER JOIN actors ON actors.id = movie_actors.actor_id
WHERE movies.id IN (:movie) ORDER BY movies.id, movie_actors.billing ASC NULLS LAST, movie_actors.actor_id;
SELECT actors.id, actors.name, actors.age, actors.gender, movie_actors.character, movie_actors.billing,
       movies.id AS id_1, movies.title
FROM actors LEFT OUTER JOIN movie_actors ON movie_actors.actor_id = actors.id
     LEFT OUTER JOIN movies ON movies.id = movie_actors.movie_id
WHERE actors.id IN (:other) ORDER BY actors.id, movie_actors.movie_id;
SELECT movie_actors.character, movie_actors.billing FROM movie_actors
WHERE movie_actors.movie_id = :movie AND movie_actors.actor_id = :other;
\if :kind = 2
INSERT INTO movie_actors (movie_id, actor_id, character, billing) VALUES (:movie, :other, NULL, NULL)
ON CONFLICT DO NOTHING;
\else
DELETE FROM movie_actors WHERE movie_actors.movie_id = :movie AND movie_actors.actor_id = :other;
\endif
SELECT movies.id, movies.title, movies.release_date, movie_actors.character, movie_actors.billing,
       actors.id AS id_1, actors.name
FROM movies LEFT OUTER JOIN movie_actors ON movie_actors.movie_id = movies.id
     LEFT OUTER JOIN actors ON actors.id = movie_actors.actor_id
WHERE movies.id IN (:movie) ORDER BY movies.id, movie_actors.billing ASC NULLS LAST, movie_actors.actor_id;
SELECT actors.id, actors.name, actors.age, actors.gender, movie_actors.character, movie_actors.billing,
       movies.id AS id_1, movies.title
FROM actors LEFT OUTER JOIN movie_actors ON movie_actors.actor_id = actors.id
     LEFT OUTER JOIN movies ON movies.id = movie_actors.movie_id
WHERE actors.id IN (:other) ORDER BY actors.id, movie_actors.movie_id;
INSERT INTO history (at, subject, action, record_type, record_id, before, after, request_id, editor_name,
                     editor_email, other)
SELECT now(), 'bench|pgbench', CASE WHEN :kind = 2 THEN 'cast' ELSE 'uncast' END, 'movie', m.id,
       json_build_object('title', m.title, 'release_date', m.release_date),
       json_build_object('title', m.title, 'release_date', m.release_date,
                         'actors', (SELECT coalesce(json_agg(json_build_object('id', a.id, 'name', a.name)), '[]')
                                    FROM movie_actors c JOIN actors a ON a.id = c.actor_id
                                    WHERE c.movie_id = m.id)),
       md5(random()::text), NULL, NULL, json_build_object('type', 'actor', 'id', :other)
FROM movies m WHERE m.id = :movie
UNION ALL
SELECT now(), 'bench|pgbench', CASE WHEN :kind = 2 THEN 'cast' ELSE 'uncast' END, 'actor', a.id,
       json_build_object('name', a.name, 'age', a.age, 'gender', a.gender),
       json_build_object('name', a.name, 'age', a.age, 'gender', a.gender,
                         'movies', (SELECT coalesce(json_agg(json_build_object('id', m.id, 'title', m.title)), '[]')
                                    FROM movie_actors c JOIN movies m ON m.id = c.movie_id
                                    WHERE c.actor_id = a.id)),
       md5(random()::text), NULL, NULL, json_build_object('type', 'movie', 'id', :movie)
FROM actors a WHERE a.id = :other;
\endif
UPDATE catalogue_version SET version = version + 1 WHERE id = 1 RETURNING pg_current_xact_id()::text, version;
COMMIT;
