//! NFSv4 ACLs as the Linux NFS client exposes them in `system.nfs4_acl`: the XDR encoding
//! (RFC 7530 §6.2.1, RFC 4506) of `nfsace4<>`: a big-endian count, then per entry the type,
//! flags, access mask and the `who` string (length, bytes, zero padding to 4).

use super::AclParseError;

/// One access control entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nfs4Ace {
    /// 0 allow, 1 deny, 2 audit, 3 alarm.
    pub kind: u32,
    pub flags: u32,
    pub mask: u32,
    /// `OWNER@`, `GROUP@`, `EVERYONE@`, `user@domain`, or a numeric id.
    pub who: String,
}

/// `ACE4_IDENTIFIER_GROUP`: `who` names a group.
pub const IDENTIFIER_GROUP: u32 = 0x40;
/// `ACE4_INHERIT_ONLY_ACE`: the entry only applies to children.
pub const INHERIT_ONLY: u32 = 0x08;

/// Access mask bits with the letters `nfs4_getfacl` prints for them.
const MASK_LETTERS: [(u32, char); 14] = [
    (0x0000_0001, 'r'), // READ_DATA / LIST_DIRECTORY
    (0x0000_0002, 'w'), // WRITE_DATA / ADD_FILE
    (0x0000_0004, 'a'), // APPEND_DATA / ADD_SUBDIRECTORY
    (0x0000_0020, 'x'), // EXECUTE
    (0x0001_0000, 'd'), // DELETE
    (0x0000_0040, 'D'), // DELETE_CHILD
    (0x0000_0080, 't'), // READ_ATTRIBUTES
    (0x0000_0100, 'T'), // WRITE_ATTRIBUTES
    (0x0000_0008, 'n'), // READ_NAMED_ATTRS
    (0x0000_0010, 'N'), // WRITE_NAMED_ATTRS
    (0x0002_0000, 'c'), // READ_ACL
    (0x0004_0000, 'C'), // WRITE_ACL
    (0x0008_0000, 'o'), // WRITE_OWNER
    (0x0010_0000, 'y'), // SYNCHRONIZE
];

impl Nfs4Ace {
    /// The mask as `nfs4_getfacl` letters (`rwaxtTnNcCy`…); unknown bits in hex after them.
    pub fn rights(&self) -> String {
        let mut text: String =
            MASK_LETTERS.iter().filter(|(bit, _)| self.mask & bit != 0).map(|(_, letter)| *letter).collect();
        let known = MASK_LETTERS.iter().fold(0, |all, (bit, _)| all | bit);
        if self.mask & !known != 0 {
            text.push_str(&format!("+0x{:x}", self.mask & !known));
        }
        text
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Reader<'_> {
    fn u32(&mut self, what: &str) -> Result<u32, AclParseError> {
        let end = self.position + 4;
        let chunk = self.bytes.get(self.position..end).ok_or_else(|| truncated(what, self.position))?;
        self.position = end;
        Ok(u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
    }

    fn opaque(&mut self, what: &str) -> Result<&[u8], AclParseError> {
        let length = self.u32(what)? as usize;
        let padded = length.div_ceil(4) * 4;
        let start = self.position;
        let data = self.bytes.get(start..start + padded).ok_or_else(|| truncated(what, start))?;
        self.position += padded;
        Ok(&data[..length])
    }
}

fn truncated(what: &str, position: usize) -> AclParseError {
    AclParseError::new("NFSv4 ACL", format!("truncated {what} at byte {position}"))
}

/// Parses the value of `system.nfs4_acl`.
pub fn parse_nfs4_acl(bytes: &[u8]) -> Result<Vec<Nfs4Ace>, AclParseError> {
    let mut reader = Reader { bytes, position: 0 };
    let count = reader.u32("entry count")? as usize;
    // Each entry takes at least 16 bytes: refuse counts the value cannot hold.
    if count > bytes.len() / 16 {
        return Err(AclParseError::new("NFSv4 ACL", format!("{count} entries cannot fit in {} bytes", bytes.len())));
    }
    let mut aces = Vec::with_capacity(count);
    for _ in 0..count {
        let kind = reader.u32("entry type")?;
        let flags = reader.u32("entry flags")?;
        let mask = reader.u32("access mask")?;
        let who = String::from_utf8_lossy(reader.opaque("who")?).into_owned();
        if kind > 3 {
            return Err(AclParseError::new("NFSv4 ACL", format!("unknown entry type {kind}")));
        }
        aces.push(Nfs4Ace { kind, flags, mask, who });
    }
    if reader.position != bytes.len() {
        return Err(AclParseError::new(
            "NFSv4 ACL",
            format!("{} bytes after the last entry", bytes.len() - reader.position),
        ));
    }
    Ok(aces)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three entries, XDR by hand: allow OWNER@ rwatTcCy; allow group "staff@example.com"
    /// read; deny EVERYONE@ write.
    fn fixture() -> Vec<u8> {
        let mut bytes = vec![0, 0, 0, 3];
        // ALLOW, no flags, mask 0x1E0187 (r w a t T c C o y), "OWNER@" (6 bytes + 2 padding)
        bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x1E, 0x01, 0x87, 0, 0, 0, 6]);
        bytes.extend_from_slice(b"OWNER@\0\0");
        // ALLOW, IDENTIFIER_GROUP, READ_DATA, "staff@example.com" (17 bytes + 3 padding)
        bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0x01, 0, 0, 0, 17]);
        bytes.extend_from_slice(b"staff@example.com\0\0\0");
        // DENY, no flags, WRITE_DATA, "EVERYONE@" (9 bytes + 3 padding)
        bytes.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 9]);
        bytes.extend_from_slice(b"EVERYONE@\0\0\0");
        bytes
    }

    #[test]
    fn parses_entries_with_padding() {
        let aces = parse_nfs4_acl(&fixture()).expect("valid ACL");
        assert_eq!(aces.len(), 3);
        assert_eq!(aces[0].who, "OWNER@");
        assert_eq!(aces[0].rights(), "rwatTcCoy");
        assert_eq!(aces[1], Nfs4Ace { kind: 0, flags: IDENTIFIER_GROUP, mask: 1, who: "staff@example.com".into() });
        assert_eq!((aces[2].kind, aces[2].rights().as_str(), aces[2].who.as_str()), (1, "w", "EVERYONE@"));
    }

    #[test]
    fn rejects_truncated_and_trailing_bytes() {
        let bytes = fixture();
        assert!(parse_nfs4_acl(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0, 0, 0, 0]);
        assert!(parse_nfs4_acl(&longer).is_err());
        assert!(parse_nfs4_acl(&[0xFF, 0xFF, 0xFF, 0xFF]).is_err());
    }
}
