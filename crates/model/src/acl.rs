//! What esker records about a file's extended attributes and access control lists.
//!
//! Principal keys are stable text the catalog and the identity cache share:
//! `uid:1001`, `gid:100`, `sid:S-1-5-21-…`, `user:alice@example.com`, `group:staff@example.com`
//! (NFSv4 names), and `everyone`.

/// One extended attribute: raw name and value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Xattr {
    #[serde(serialize_with = "lossy")]
    pub name: Vec<u8>,
    #[serde(serialize_with = "lossy")]
    pub value: Vec<u8>,
}

fn lossy<S: serde::Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&String::from_utf8_lossy(bytes))
}

impl Xattr {
    pub fn name_text(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }

    /// The value as text, when it is printable UTF-8 (tags and comments, not ACLs or hashes).
    pub fn text_value(&self) -> Option<&str> {
        let text = std::str::from_utf8(&self.value).ok()?.trim_end_matches('\0');
        let printable = text.chars().all(|character| !character.is_control() || character == '\n' || character == '\t');
        (printable && !text.trim().is_empty()).then_some(text)
    }
}

/// What an entry grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Allow,
    Deny,
    /// The owner named by a security descriptor.
    Owner,
    /// The primary group named by a security descriptor.
    Group,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Allow => "allow",
            Access::Deny => "deny",
            Access::Owner => "owner",
            Access::Group => "group",
        }
    }
}

/// One principal's rights on a file, from one ACL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclEntry {
    /// `posix-access`, `posix-default`, `nfs4` or `ntacl`.
    pub source: &'static str,
    pub access: Access,
    pub principal: String,
    /// `rwx` (POSIX), `nfs4_getfacl` letters, or Windows rights words.
    pub rights: String,
    /// `inherit-only` and the like; empty for plain entries.
    pub flags: String,
}

/// What a lookup found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Resolution {
    pub key: String,
    pub name: Option<String>,
    /// `builtin`, `nss`, `ldap`, `nfs4`, or `none` (not found / not asked).
    pub source: &'static str,
    /// Why it is unresolved, when a directory could not answer.
    pub error: Option<String>,
}
