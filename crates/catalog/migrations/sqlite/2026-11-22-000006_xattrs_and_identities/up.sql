-- Extended attributes and ACL entries per file row (recorded with `archive --xattrs`), and
-- the names of the principals they and the files' owners name.
CREATE TABLE xattrs (
    file_id BIGINT NOT NULL REFERENCES files (id),
    name BLOB NOT NULL,                 -- raw bytes
    name_text TEXT NOT NULL,             -- lossy UTF-8 for display and search
    value BLOB NOT NULL,
    PRIMARY KEY (file_id, name)
);

-- One row per ACL entry: who (uid:N, gid:N, sid:S-..., user:/group:name@domain, everyone),
-- from which ACL (posix-access, posix-default, nfs4, ntacl), allow/deny/owner/group, rights.
CREATE TABLE principals (
    file_id BIGINT NOT NULL REFERENCES files (id),
    position INTEGER NOT NULL,           -- order of the entry among the file's ACL entries
    source TEXT NOT NULL,
    access TEXT NOT NULL,
    principal TEXT NOT NULL,
    rights TEXT NOT NULL,
    flags TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (file_id, position)
);
CREATE INDEX principals_principal ON principals (principal);

-- Names of principal keys (files' uid:/gid: and every ACL principal), from local NSS or
-- LDAP/AD; name NULL while unresolved (`esker identities refresh` retries).
CREATE TABLE identities (
    principal TEXT PRIMARY KEY,
    name TEXT,
    source TEXT NOT NULL,                -- builtin, nss, ldap, nfs4, none
    error TEXT,
    checked_at BIGINT NOT NULL
);
CREATE INDEX files_uid ON files (uid);
CREATE INDEX files_gid ON files (gid);

-- `retrieve --xattrs`: set the recorded extended attributes (and ACLs) on restored files.
ALTER TABLE retrievals ADD COLUMN restore_xattrs INTEGER NOT NULL DEFAULT 0;
