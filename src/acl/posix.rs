//! POSIX ACLs as Linux stores them in `system.posix_acl_access` and `system.posix_acl_default`
//! (`include/uapi/linux/posix_acl_xattr.h`): a little-endian `u32` version (2), then 8-byte
//! entries `{ u16 tag, u16 perm, u32 id }`.

use super::AclParseError;

const VERSION: u32 = 2;
/// `e_id` of entries that do not name a user or group.
const UNDEFINED_ID: u32 = u32::MAX;

/// The kind of a POSIX ACL entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PosixTag {
    /// The file's owner (`user::`).
    UserObject,
    /// A named user (`user:alice:`).
    User(u32),
    /// The file's group (`group::`).
    GroupObject,
    /// A named group (`group:staff:`).
    Group(u32),
    Mask,
    Other,
}

/// One entry: who and `rwx` bits (4, 2, 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PosixEntry {
    pub tag: PosixTag,
    pub permissions: u16,
}

impl PosixEntry {
    /// `rwx` with dashes for missing rights.
    pub fn rights(&self) -> String {
        let bit = |mask: u16, letter: char| if self.permissions & mask != 0 { letter } else { '-' };
        [bit(4, 'r'), bit(2, 'w'), bit(1, 'x')].into_iter().collect()
    }
}

/// A parsed POSIX ACL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosixAcl {
    pub entries: Vec<PosixEntry>,
}

impl PosixAcl {
    /// The text form `getfacl` and GNU tar use (`user::rw-,user:1001:r--,…`), numeric ids.
    #[cfg(test)]
    pub fn to_text(&self) -> String {
        let parts: Vec<String> = self
            .entries
            .iter()
            .map(|entry| {
                let who = match entry.tag {
                    PosixTag::UserObject => "user::".to_string(),
                    PosixTag::User(uid) => format!("user:{uid}:"),
                    PosixTag::GroupObject => "group::".to_string(),
                    PosixTag::Group(gid) => format!("group:{gid}:"),
                    PosixTag::Mask => "mask::".to_string(),
                    PosixTag::Other => "other::".to_string(),
                };
                format!("{who}{}", entry.rights())
            })
            .collect();
        parts.join(",")
    }
}

/// Parses the xattr value of a POSIX ACL.
pub fn parse_posix_acl(bytes: &[u8]) -> Result<PosixAcl, AclParseError> {
    let error = |reason: String| AclParseError::new("POSIX ACL", reason);
    if bytes.len() < 4 {
        return Err(error(format!("{} bytes, shorter than the version header", bytes.len())));
    }
    let version = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if version != VERSION {
        return Err(error(format!("version {version}, expected {VERSION}")));
    }
    let body = &bytes[4..];
    if !body.len().is_multiple_of(8) {
        return Err(error(format!("{} bytes of entries, not a multiple of 8", body.len())));
    }
    let entries = body
        .chunks_exact(8)
        .map(|chunk| {
            let tag = u16::from_le_bytes([chunk[0], chunk[1]]);
            let permissions = u16::from_le_bytes([chunk[2], chunk[3]]);
            let id = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
            let tag = match tag {
                0x01 => PosixTag::UserObject,
                0x02 if id != UNDEFINED_ID => PosixTag::User(id),
                0x04 => PosixTag::GroupObject,
                0x08 if id != UNDEFINED_ID => PosixTag::Group(id),
                0x10 => PosixTag::Mask,
                0x20 => PosixTag::Other,
                other => return Err(error(format!("unknown tag 0x{other:02x} (id {id})"))),
            };
            if permissions & !7 != 0 {
                return Err(error(format!("permission bits 0x{permissions:x} beyond rwx")));
            }
            Ok(PosixEntry { tag, permissions })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PosixAcl { entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `setfacl -m u:1001:r-x,g:2000:rw-` on a 0640 file, laid out per posix_acl_xattr.h.
    const ACCESS_ACL: [u8; 52] = [
        0x02, 0x00, 0x00, 0x00, // version 2
        0x01, 0x00, 0x06, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, // user:: rw-
        0x02, 0x00, 0x05, 0x00, 0xE9, 0x03, 0x00, 0x00, // user:1001: r-x
        0x04, 0x00, 0x04, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, // group:: r--
        0x08, 0x00, 0x06, 0x00, 0xD0, 0x07, 0x00, 0x00, // group:2000: rw-
        0x10, 0x00, 0x07, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, // mask:: rwx
        0x20, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, // other:: ---
    ];

    #[test]
    fn parses_every_tag() {
        let acl = parse_posix_acl(&ACCESS_ACL).expect("valid ACL");
        assert_eq!(acl.to_text(), "user::rw-,user:1001:r-x,group::r--,group:2000:rw-,mask::rwx,other::---");
        assert_eq!(acl.entries[1], PosixEntry { tag: PosixTag::User(1001), permissions: 5 });
    }

    #[test]
    fn rejects_malformed() {
        assert!(parse_posix_acl(&ACCESS_ACL[..3]).is_err());
        assert!(parse_posix_acl(&ACCESS_ACL[..10]).is_err());
        let mut wrong_version = ACCESS_ACL;
        wrong_version[0] = 1;
        assert!(parse_posix_acl(&wrong_version).is_err());
        let mut unknown_tag = ACCESS_ACL;
        unknown_tag[4] = 0x40;
        assert!(parse_posix_acl(&unknown_tag).is_err());
    }
}
