//! Windows security descriptors in self-relative form (MS-DTYP 2.4.6): what a CIFS/SMB
//! mount shows in `system.cifs_acl` / `system.smb3_acl` (and their `_full` variants), and
//! what Samba keeps inside `security.NTACL` behind a small NDR header.

use super::AclParseError;
use super::sid::Sid;

/// `SE_SELF_RELATIVE` in the control field.
const SELF_RELATIVE: u16 = 0x8000;
/// `SE_DACL_PRESENT`.
const DACL_PRESENT: u16 = 0x0004;

/// One ACE of a DACL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtAce {
    /// 0 allow, 1 deny, 5/6 object allow/deny, 9/10 callback allow/deny.
    pub kind: u8,
    pub flags: u8,
    pub mask: u32,
    pub sid: Sid,
}

impl NtAce {
    pub fn is_deny(&self) -> bool {
        matches!(self.kind, 1 | 6 | 10)
    }

    /// The mask in the words Windows' security dialog uses, or hex when it is none of them.
    pub fn rights(&self) -> String {
        let mask = self.mask;
        let name = match mask {
            _ if mask & 0x1000_0000 != 0 => "full",
            0x001F_01FF => "full",
            0x0013_01BF => "modify",
            0x0012_00A9 => "read-execute",
            0x0012_0089 => "read",
            0x0010_0116 => "write",
            _ if mask & 0x8000_0000 != 0 && mask & 0x6000_0000 == 0 => "read",
            _ => return format!("0x{mask:08x}"),
        };
        name.to_string()
    }
}

/// The parts of a security descriptor esker records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityDescriptor {
    pub owner: Option<Sid>,
    pub group: Option<Sid>,
    /// None when the descriptor has no DACL (everyone has full access).
    pub dacl: Option<Vec<NtAce>>,
}

fn error(reason: String) -> AclParseError {
    AclParseError::new("security descriptor", reason)
}

fn u16_at(bytes: &[u8], offset: usize) -> Result<u16, AclParseError> {
    bytes
        .get(offset..offset + 2)
        .map(|chunk| u16::from_le_bytes([chunk[0], chunk[1]]))
        .ok_or_else(|| error(format!("truncated at byte {offset}")))
}

fn u32_at(bytes: &[u8], offset: usize) -> Result<u32, AclParseError> {
    bytes
        .get(offset..offset + 4)
        .map(|chunk| u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
        .ok_or_else(|| error(format!("truncated at byte {offset}")))
}

fn sid_at(bytes: &[u8], offset: u32) -> Result<Option<Sid>, AclParseError> {
    if offset == 0 {
        return Ok(None);
    }
    let rest = bytes.get(offset as usize..).ok_or_else(|| error(format!("SID offset {offset} past the end")))?;
    Ok(Some(Sid::parse(rest)?.0))
}

/// Parses a self-relative security descriptor.
pub fn parse_security_descriptor(bytes: &[u8]) -> Result<SecurityDescriptor, AclParseError> {
    if bytes.len() < 20 {
        return Err(error(format!("{} bytes, shorter than the 20-byte header", bytes.len())));
    }
    if bytes[0] != 1 {
        return Err(error(format!("revision {}, expected 1", bytes[0])));
    }
    let control = u16_at(bytes, 2)?;
    if control & SELF_RELATIVE == 0 {
        return Err(error("not in self-relative form".into()));
    }
    let owner = sid_at(bytes, u32_at(bytes, 4)?)?;
    let group = sid_at(bytes, u32_at(bytes, 8)?)?;
    let dacl_offset = u32_at(bytes, 16)?;
    let dacl = if control & DACL_PRESENT != 0 && dacl_offset != 0 {
        Some(parse_acl(bytes, dacl_offset as usize)?)
    } else {
        None
    };
    Ok(SecurityDescriptor { owner, group, dacl })
}

/// An ACL header (revision, size, count) and its ACEs (MS-DTYP 2.4.5, 2.4.4).
fn parse_acl(bytes: &[u8], offset: usize) -> Result<Vec<NtAce>, AclParseError> {
    let revision = *bytes.get(offset).ok_or_else(|| error(format!("ACL offset {offset} past the end")))?;
    if revision != 2 && revision != 4 {
        return Err(error(format!("ACL revision {revision}, expected 2 or 4")));
    }
    let size = u16_at(bytes, offset + 2)? as usize;
    let count = u16_at(bytes, offset + 4)? as usize;
    let acl = bytes.get(offset..offset + size).ok_or_else(|| error(format!("ACL of {size} bytes past the end")))?;
    let mut aces = Vec::with_capacity(count);
    let mut position = 8;
    for index in 0..count {
        let kind = *acl.get(position).ok_or_else(|| error(format!("ACE {index} past the end of its ACL")))?;
        let flags = acl.get(position + 1).copied().unwrap_or_default();
        let ace_size = u16_at(acl, position + 2)? as usize;
        if ace_size < 8 {
            return Err(error(format!("ACE {index} claims {ace_size} bytes")));
        }
        let ace = acl.get(position..position + ace_size).ok_or_else(|| error(format!("ACE {index} truncated")))?;
        let sid_offset = match kind {
            0 | 1 | 9 | 10 => Some(8),
            5 | 6 => {
                // Object ACEs: flags say which of the two GUIDs follow the mask.
                let object_flags = u32_at(ace, 8)?;
                Some(12 + 16 * (object_flags & 1) as usize + 16 * ((object_flags >> 1) & 1) as usize)
            }
            _ => None, // audit/alarm/resource ACEs esker does not interpret
        };
        if let Some(sid_offset) = sid_offset {
            let mask = u32_at(ace, 4)?;
            let sid = Sid::parse(ace.get(sid_offset..).unwrap_or_default())?.0;
            aces.push(NtAce { kind, flags, mask, sid });
        }
        position += ace_size;
    }
    Ok(aces)
}

/// Where the descriptor starts inside Samba's NDR-encoded `xattr_NTACL` for each version
/// (`librpc/idl/xattr.idl`): version and union level, a unique pointer, then the version's
/// fixed fields (hashes, description pointer, time) before the deferred descriptor.
fn ntacl_descriptor_offset(version: u16) -> Option<usize> {
    match version {
        1 => Some(8),
        2 => Some(28),
        3 => Some(80),
        4 => Some(160),
        _ => None,
    }
}

/// Parses `security.NTACL` (Samba) or a raw descriptor (`system.cifs_acl` and friends).
pub fn parse_ntacl_xattr(name: &str, bytes: &[u8]) -> Result<SecurityDescriptor, AclParseError> {
    if name != "security.NTACL" {
        return parse_security_descriptor(bytes);
    }
    let version = u16_at(bytes, 0)?;
    let offset = ntacl_descriptor_offset(version)
        .ok_or_else(|| error(format!("security.NTACL version {version} is not one of 1-4")))?;
    match bytes.get(offset..).map(parse_security_descriptor) {
        Some(Ok(descriptor)) => Ok(descriptor),
        // Fall back to the first 4-aligned offset holding a valid self-relative descriptor,
        // for encoders that align the deferred data differently.
        _ => (8..bytes.len().saturating_sub(20))
            .step_by(4)
            .find_map(|start| parse_security_descriptor(&bytes[start..]).ok())
            .ok_or_else(|| error(format!("no security descriptor found in security.NTACL version {version}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid_bytes(text: &str) -> Vec<u8> {
        Sid::parse_text(text).expect("valid SID").to_bytes()
    }

    /// A self-relative descriptor laid out per MS-DTYP 2.4.6: header, owner SID, group SID,
    /// then a revision-2 DACL with an allow ACE (full) for the owner and a deny ACE (write)
    /// for Everyone.
    fn descriptor() -> Vec<u8> {
        let owner = sid_bytes("S-1-5-21-1004336348-1177238915-682003330-1001");
        let group = sid_bytes("S-1-5-21-1004336348-1177238915-682003330-513");
        let everyone = sid_bytes("S-1-1-0");
        let owner_offset = 20u32;
        let group_offset = owner_offset + owner.len() as u32;
        let dacl_offset = group_offset + group.len() as u32;
        let mut bytes = vec![1, 0];
        bytes.extend_from_slice(&(SELF_RELATIVE | DACL_PRESENT).to_le_bytes());
        for offset in [owner_offset, group_offset, 0, dacl_offset] {
            bytes.extend_from_slice(&offset.to_le_bytes());
        }
        bytes.extend_from_slice(&owner);
        bytes.extend_from_slice(&group);
        let allow_size = 8 + owner.len();
        let deny_size = 8 + everyone.len();
        let acl_size = 8 + allow_size + deny_size;
        bytes.extend_from_slice(&[2, 0]);
        bytes.extend_from_slice(&(acl_size as u16).to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&[0, 0]);
        bytes.extend_from_slice(&[0, 0x03]); // ACCESS_ALLOWED, OBJECT_INHERIT|CONTAINER_INHERIT
        bytes.extend_from_slice(&(allow_size as u16).to_le_bytes());
        bytes.extend_from_slice(&0x001F_01FFu32.to_le_bytes());
        bytes.extend_from_slice(&owner);
        bytes.extend_from_slice(&[1, 0]); // ACCESS_DENIED
        bytes.extend_from_slice(&(deny_size as u16).to_le_bytes());
        bytes.extend_from_slice(&0x0010_0116u32.to_le_bytes());
        bytes.extend_from_slice(&everyone);
        bytes
    }

    #[test]
    fn parses_owner_group_and_dacl() {
        let parsed = parse_security_descriptor(&descriptor()).expect("valid descriptor");
        assert_eq!(
            parsed.owner.map(|sid| sid.to_string()).as_deref(),
            Some("S-1-5-21-1004336348-1177238915-682003330-1001")
        );
        assert_eq!(
            parsed.group.map(|sid| sid.to_string()).as_deref(),
            Some("S-1-5-21-1004336348-1177238915-682003330-513")
        );
        let dacl = parsed.dacl.expect("DACL present");
        assert_eq!(dacl.len(), 2);
        assert_eq!((dacl[0].kind, dacl[0].flags, dacl[0].rights().as_str()), (0, 3, "full"));
        assert!(dacl[1].is_deny());
        assert_eq!((dacl[1].sid.to_string().as_str(), dacl[1].rights().as_str()), ("S-1-1-0", "write"));
    }

    #[test]
    fn finds_the_descriptor_inside_samba_ntacl_v1() {
        // version 1, union level 1, unique pointer referent id, then the descriptor.
        let mut bytes = vec![1, 0, 1, 0, 0, 0, 2, 0];
        bytes.extend_from_slice(&descriptor());
        let parsed = parse_ntacl_xattr("security.NTACL", &bytes).expect("valid NTACL");
        assert_eq!(parsed.dacl.map(|dacl| dacl.len()), Some(2));
        assert!(parse_ntacl_xattr("security.NTACL", &[9, 0, 9, 0]).is_err());
    }

    #[test]
    fn rejects_malformed() {
        let bytes = descriptor();
        assert!(parse_security_descriptor(&bytes[..19]).is_err());
        assert!(parse_security_descriptor(&bytes[..bytes.len() - 3]).is_err());
        let mut absolute = bytes.clone();
        absolute[3] = 0;
        assert!(parse_security_descriptor(&absolute).is_err());
    }
}
