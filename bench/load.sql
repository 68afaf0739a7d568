-- :movies movies, half as many actors, three castings per movie. psql -v movies=N -f load.sql
TRUNCATE movie_actors, movies, actors RESTART IDENTITY CASCADE;
INSERT INTO actors (name, age, gender)
SELECT 'Actor ' || i, 18 + i % 70, CASE WHEN i % 2 = 0 THEN 'female' ELSE 'male' END
FROM generate_series(1, :movies / 2) AS i;
INSERT INTO movies (title, release_date)
SELECT 'Movie ' || i || ' of the Night', DATE '1950-01-01' + (i * 7 % 27000)
FROM generate_series(1, :movies) AS i;
INSERT INTO movie_actors (movie_id, actor_id)
SELECT m, (m * 7 + k * 131) % (:movies / 2) + 1
FROM generate_series(1, :movies) AS m, generate_series(0, 2) AS k
ON CONFLICT DO NOTHING;
ANALYZE movies; ANALYZE actors; ANALYZE movie_actors;
