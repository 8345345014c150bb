DROP INDEX files_seq;
ALTER TABLE files DROP COLUMN seq;
DROP TABLE commit_sequence;
