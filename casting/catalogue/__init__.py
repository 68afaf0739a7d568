"""Movies, actors and the castings between them, as the API reads and changes them:

- `records`   one record: its representation, its locks (the lock order), its rows written
- `changes`   what each write does (create, update, delete, cast, uncast, restore) with its history entries
- `history`   the entries: written with each change, read a page at a time, purged
- `version`   the catalogue version, bumped by every write: the validator of every list
- `listing`   a page of a list, by `postgres_page` (one statement) or `portable_page` (elsewhere), from
              `filters` (filters, sort keys, windows), with `cursors` and values remembered in `memo`
- `tabular`   files: CSV and NDJSON, written (exports) and read (imports)
- `exports`   a whole list as a file, from one snapshot, streamed
- `imports`   a file's rows checked, matched (`matching`) and written all or nothing, with their history, in
              statements made by `bulk` (their number does not grow with the rows); on PostgreSQL, castings and
              their entries by `castings_sql`, in SQL
"""
