CREATE INDEX files_uid ON files (uid);
CREATE INDEX files_gid ON files (gid);
