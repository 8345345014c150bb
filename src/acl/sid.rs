//! Windows security identifiers: the binary layout (MS-DTYP 2.4.2.2) and the `S-1-…` text form.

use std::fmt;

use super::AclParseError;

/// A security identifier such as `S-1-5-21-1004336348-1177238915-682003330-1001`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid {
    pub revision: u8,
    /// 48-bit identifier authority (5 = NT authority).
    pub authority: u64,
    pub sub_authorities: Vec<u32>,
}

impl Sid {
    /// Parses a binary SID at the start of `bytes`; returns it and its length.
    pub fn parse(bytes: &[u8]) -> Result<(Sid, usize), AclParseError> {
        let error = |reason: &str| AclParseError::new("SID", reason);
        if bytes.len() < 8 {
            return Err(error("shorter than its 8-byte header"));
        }
        let revision = bytes[0];
        if revision != 1 {
            return Err(error(&format!("revision {revision}, expected 1")));
        }
        let count = bytes[1] as usize;
        if count > 15 {
            return Err(error(&format!("{count} sub-authorities, at most 15 allowed")));
        }
        let length = 8 + 4 * count;
        if bytes.len() < length {
            return Err(error("truncated sub-authorities"));
        }
        let authority = bytes[2..8].iter().fold(0u64, |value, byte| (value << 8) | u64::from(*byte));
        let sub_authorities = bytes[8..length]
            .chunks_exact(4)
            .map(|chunk| u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
            .collect();
        Ok((Sid { revision, authority, sub_authorities }, length))
    }

    /// Parses the text form `S-1-5-21-…`.
    pub fn parse_text(text: &str) -> Option<Sid> {
        let mut parts = text.strip_prefix("S-").or_else(|| text.strip_prefix("s-"))?.split('-');
        let revision = parts.next()?.parse().ok()?;
        let authority_text = parts.next()?;
        let authority = match authority_text.strip_prefix("0x").or_else(|| authority_text.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(hex, 16).ok()?,
            None => authority_text.parse().ok()?,
        };
        if authority >= 1 << 48 {
            return None;
        }
        let sub_authorities = parts.map(|part| part.parse().ok()).collect::<Option<Vec<u32>>>()?;
        (sub_authorities.len() <= 15).then_some(Sid { revision, authority, sub_authorities })
    }

    /// The binary layout, as stored in `objectSid`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(8 + 4 * self.sub_authorities.len());
        bytes.push(self.revision);
        bytes.push(self.sub_authorities.len() as u8);
        bytes.extend_from_slice(&self.authority.to_be_bytes()[2..]);
        for sub_authority in &self.sub_authorities {
            bytes.extend_from_slice(&sub_authority.to_le_bytes());
        }
        bytes
    }

    /// Names Windows gives the same meaning everywhere.
    pub fn well_known_name(&self) -> Option<&'static str> {
        let name = match (self.authority, self.sub_authorities.as_slice()) {
            (1, [0]) => "Everyone",
            (3, [0]) => "CREATOR OWNER",
            (3, [1]) => "CREATOR GROUP",
            (5, [11]) => "Authenticated Users",
            (5, [18]) => "SYSTEM",
            (5, [32, 544]) => "Administrators",
            (5, [32, 545]) => "Users",
            _ => return None,
        };
        Some(name)
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.authority < 1 << 32 {
            write!(formatter, "S-{}-{}", self.revision, self.authority)?;
        } else {
            write!(formatter, "S-{}-0x{:012X}", self.revision, self.authority)?;
        }
        for sub_authority in &self.sub_authorities {
            write!(formatter, "-{sub_authority}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MS-DTYP 2.4.2.2 layout written out by hand: S-1-5-21-1004336348-1177238915-682003330-512.
    const DOMAIN_ADMINS: [u8; 28] = [
        0x01, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, // revision 1, 5 sub-authorities, authority 5
        0x15, 0x00, 0x00, 0x00, // 21
        0xDC, 0xF4, 0xDC, 0x3B, // 1004336348
        0x83, 0x3D, 0x2B, 0x46, // 1177238915
        0x82, 0x8B, 0xA6, 0x28, // 682003330
        0x00, 0x02, 0x00, 0x00, // 512
    ];

    #[test]
    fn binary_and_text_forms_round_trip() {
        let (sid, length) = Sid::parse(&DOMAIN_ADMINS).expect("valid SID");
        assert_eq!(length, 28);
        assert_eq!(sid.to_string(), "S-1-5-21-1004336348-1177238915-682003330-512");
        assert_eq!(sid.to_bytes(), DOMAIN_ADMINS);
        assert_eq!(Sid::parse_text("S-1-5-21-1004336348-1177238915-682003330-512"), Some(sid));
        assert_eq!(Sid::parse_text("S-1-1-0").and_then(|sid| sid.well_known_name()), Some("Everyone"));
    }

    #[test]
    fn rejects_malformed() {
        assert!(Sid::parse(&DOMAIN_ADMINS[..20]).is_err());
        assert!(Sid::parse(&[2, 0, 0, 0, 0, 0, 0, 5]).is_err());
        assert_eq!(Sid::parse_text("S-1-5-x"), None);
        assert_eq!(Sid::parse_text("1-5-21"), None);
    }
}
