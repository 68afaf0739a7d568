-- pgbench: the exact total of the broad search (GET /movies?q=of%20the: " of the " is in one title in ten, by
-- the loader's templates), in the cheapest SQL found for it: a count of the matching titles and nothing else
-- (no page, no cast, no JSON). `strpos(lower(title), 'of the') > 0` is the app's `title ILIKE '%of the%'`
-- (PostgreSQL's ILIKE compares lowercased text, and the term has no wildcard) read by a plain scan. Where the
-- database's own limit for that total stands. bench/run.py checks that it counts the total the app answers before it measures.
SELECT count(*) FROM movies WHERE strpos(lower(title), 'of the') > 0;
