-- Every file row paid two more B-tree inserts for these (15 % of a SQLite catalog's ingest
-- time in catalog_bench), and 7 % of the catalog's size, for the one command that reads by
-- owner: `identities refresh`, which lists the owners in use and, after a rename, the rows
-- of an owner. A full scan of the files table serves it, once per refresh.
DROP INDEX files_uid;
DROP INDEX files_gid;
