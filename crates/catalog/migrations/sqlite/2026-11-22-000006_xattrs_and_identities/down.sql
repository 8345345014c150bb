ALTER TABLE retrievals DROP COLUMN restore_xattrs;
DROP INDEX files_gid;
DROP INDEX files_uid;
DROP TABLE identities;
DROP TABLE principals;
DROP TABLE xattrs;
