//! The ACL formats reduced to one shape: who (a principal key), allow/deny, which rights.
//!
//! Principal keys are stable text the catalog and the identity cache share:
//! `uid:1001`, `gid:100`, `sid:S-1-5-21-…`, `user:alice@example.com`, `group:staff@example.com`
//! (NFSv4 names), and `everyone`.

use super::AclParseError;
use super::nfs4::{IDENTIFIER_GROUP, INHERIT_ONLY, parse_nfs4_acl};
use super::ntacl::parse_ntacl_xattr;
use super::posix::{PosixTag, parse_posix_acl};
use esker_model::Xattr;

pub use esker_model::{Access, AclEntry};

/// The xattr names that hold a Windows security descriptor.
const NTACL_NAMES: [&str; 5] =
    ["security.NTACL", "system.cifs_acl", "system.cifs_acl_full", "system.smb3_acl", "system.smb3_acl_full"];

/// Every ACL entry found in a file's xattrs; `uid`/`gid` stand in for the owner entries.
/// ACLs that do not parse are reported in the second list, with the xattr name.
pub fn acl_entries(xattrs: &[Xattr], uid: u32, gid: u32) -> (Vec<AclEntry>, Vec<String>) {
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    for xattr in xattrs {
        let Ok(name) = std::str::from_utf8(&xattr.name) else { continue };
        let result = match name {
            "system.posix_acl_access" => posix_entries(&xattr.value, "posix-access", uid, gid, &mut entries),
            "system.posix_acl_default" => posix_entries(&xattr.value, "posix-default", uid, gid, &mut entries),
            "system.nfs4_acl" => nfs4_entries(&xattr.value, uid, gid, &mut entries),
            name if NTACL_NAMES.contains(&name) => ntacl_entries(name, &xattr.value, &mut entries),
            _ => Ok(()),
        };
        if let Err(error) = result {
            problems.push(format!("{name}: {error}"));
        }
    }
    (entries, problems)
}

/// A POSIX access or default ACL: allow entries only; the mask is not a principal.
fn posix_entries(
    value: &[u8],
    source: &'static str,
    uid: u32,
    gid: u32,
    entries: &mut Vec<AclEntry>,
) -> Result<(), AclParseError> {
    let flags = if source == "posix-default" { "default" } else { "" };
    for entry in parse_posix_acl(value)?.entries {
        let principal = match entry.tag {
            PosixTag::UserObject => format!("uid:{uid}"),
            PosixTag::User(id) => format!("uid:{id}"),
            PosixTag::GroupObject => format!("gid:{gid}"),
            PosixTag::Group(id) => format!("gid:{id}"),
            PosixTag::Other => "everyone".to_string(),
            PosixTag::Mask => continue,
        };
        entries.push(AclEntry {
            source,
            access: Access::Allow,
            principal,
            rights: entry.rights(),
            flags: flags.to_string(),
        });
    }
    Ok(())
}

/// An NFSv4 ACL: allow and deny entries for numeric ids, names and the special
/// principals; audit and alarm entries grant nothing.
fn nfs4_entries(value: &[u8], uid: u32, gid: u32, entries: &mut Vec<AclEntry>) -> Result<(), AclParseError> {
    for ace in parse_nfs4_acl(value)? {
        let access = match ace.kind {
            0 => Access::Allow,
            1 => Access::Deny,
            _ => continue,
        };
        let group = ace.flags & IDENTIFIER_GROUP != 0;
        let principal = match ace.who.as_str() {
            "OWNER@" => format!("uid:{uid}"),
            "GROUP@" => format!("gid:{gid}"),
            "EVERYONE@" => "everyone".to_string(),
            who if who.bytes().all(|byte| byte.is_ascii_digit()) && !who.is_empty() => {
                format!("{}:{who}", if group { "gid" } else { "uid" })
            }
            who => format!("{}:{who}", if group { "group" } else { "user" }),
        };
        let flags = if ace.flags & INHERIT_ONLY != 0 { "inherit-only" } else { "" };
        entries.push(AclEntry { source: "nfs4", access, principal, rights: ace.rights(), flags: flags.to_string() });
    }
    Ok(())
}

/// A Windows security descriptor: its owner and group SIDs, and the DACL's entries.
fn ntacl_entries(name: &str, value: &[u8], entries: &mut Vec<AclEntry>) -> Result<(), AclParseError> {
    let descriptor = parse_ntacl_xattr(name, value)?;
    let mut push = |access: Access, principal: String, rights: String, flags: &str| {
        entries.push(AclEntry { source: "ntacl", access, principal, rights, flags: flags.to_string() })
    };
    if let Some(owner) = descriptor.owner {
        push(Access::Owner, format!("sid:{owner}"), String::new(), "");
    }
    if let Some(group) = descriptor.group {
        push(Access::Group, format!("sid:{group}"), String::new(), "");
    }
    for ace in descriptor.dacl.unwrap_or_default() {
        let access = if ace.is_deny() { Access::Deny } else { Access::Allow };
        // INHERIT_ONLY_ACE is 0x08 in Windows ACE flags too.
        let flags = if ace.flags & 0x08 != 0 { "inherit-only" } else { "" };
        push(access, format!("sid:{}", ace.sid), ace.rights(), flags);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posix_owner_entries_take_the_file_owner() {
        let mut value = 2u32.to_le_bytes().to_vec();
        for (tag, perm, id) in
            [(1u16, 6u16, u32::MAX), (2, 4, 1001), (4, 4, u32::MAX), (0x10, 4, u32::MAX), (0x20, 0, u32::MAX)]
        {
            value.extend_from_slice(&tag.to_le_bytes());
            value.extend_from_slice(&perm.to_le_bytes());
            value.extend_from_slice(&id.to_le_bytes());
        }
        let xattrs = [Xattr { name: b"system.posix_acl_access".to_vec(), value }];
        let (entries, problems) = acl_entries(&xattrs, 500, 600);
        assert!(problems.is_empty());
        let keys: Vec<(&str, &str)> =
            entries.iter().map(|entry| (entry.principal.as_str(), entry.rights.as_str())).collect();
        assert_eq!(keys, [("uid:500", "rw-"), ("uid:1001", "r--"), ("gid:600", "r--"), ("everyone", "---")]);
    }

    #[test]
    fn broken_acls_are_reported_not_fatal() {
        let xattrs = [
            Xattr { name: b"system.nfs4_acl".to_vec(), value: vec![0, 0, 0, 9] },
            Xattr { name: b"user.note".to_vec(), value: b"hello".to_vec() },
        ];
        let (entries, problems) = acl_entries(&xattrs, 0, 0);
        assert!(entries.is_empty());
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("system.nfs4_acl: malformed NFSv4 ACL"), "{problems:?}");
    }
}
