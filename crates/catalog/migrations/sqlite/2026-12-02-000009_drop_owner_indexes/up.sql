-- Every file row paid two more B-tree inserts for these (15 % of a SQLite catalog's ingest
-- time in catalog_bench), and 7 % of the catalog's size, for the one command that reads by
-- owner: `identities refresh`, which lists the owners in use and, after a rename, the rows
-- of an owner. A few full scans of the files table serve it, once per refresh.
DROP INDEX files_uid;
DROP INDEX files_gid;
