//! Extended attributes and access control lists: reading xattrs, parsing the ACL formats
//! found on file shares (POSIX, NFSv4, Windows security descriptors) into principals with
//! rights, and resolving uid, gid and SID to names (local NSS, then LDAP/Active Directory).

mod entry;
mod identity;
mod ldap;
mod nfs4;
mod ntacl;
mod posix;
mod sid;
mod xattrs;

pub use entry::{Access, AclEntry, acl_entries};
pub use identity::{IdentityKey, Resolution, Resolver, ResolverReport};
pub use ldap::{LdapError, LdapSettings};

/// The default LDAP filters and name attributes (`[ldap]` keys left unset).
pub mod ldap_defaults {
    pub use super::ldap::{DEFAULT_GROUP_FILTER, DEFAULT_NAME_ATTRIBUTES, DEFAULT_SID_FILTER, DEFAULT_USER_FILTER};
}
pub use nfs4::parse_nfs4_acl;
pub use ntacl::{SecurityDescriptor, parse_ntacl_xattr, parse_security_descriptor};
pub use posix::{PosixAcl, PosixTag, parse_posix_acl};
pub use sid::Sid;
pub use xattrs::{Xattr, XattrFailure, is_cifs, read_xattrs, restore_xattrs, restore_xattrs_fd};

/// Why an ACL value could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {format}: {reason}")]
pub struct AclParseError {
    pub format: &'static str,
    pub reason: String,
}

impl AclParseError {
    pub(crate) fn new(format: &'static str, reason: impl Into<String>) -> AclParseError {
        AclParseError { format, reason: reason.into() }
    }
}
