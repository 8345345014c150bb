//! Reading and restoring extended attributes without following symlinks (`llistxattr`,
//! `lgetxattr`, `lsetxattr`).

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub use esker_model::Xattr;

/// Attributes CIFS/SMB mounts serve without listing them.
const CIFS_UNLISTED: [&str; 1] = ["system.cifs_acl"];

/// Whether the folder is on a CIFS/SMB mount (whose ACL attribute is not listed).
pub fn is_cifs(folder: &Path) -> bool {
    const CIFS_MAGIC: i64 = 0xFF53_4D42;
    const SMB2_MAGIC: i64 = 0xFE53_4D42;
    nix::sys::statfs::statfs(folder)
        .map(|stat| {
            // The field's integer type differs between platforms.
            #[allow(clippy::unnecessary_cast)]
            let kind = stat.filesystem_type().0 as i64;
            kind == CIFS_MAGIC || kind == SMB2_MAGIC
        })
        .unwrap_or(false)
}

/// Every attribute of `path` the process may read, sorted by name. A file system without
/// xattr support gives an empty list; attributes that vanish between list and read are
/// left out.
pub fn read_xattrs(path: &Path, on_cifs: bool) -> io::Result<Vec<Xattr>> {
    let names = match xattr::list(path) {
        Ok(names) => names,
        Err(error) if is_unsupported(&error) => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut xattrs = Vec::new();
    let mut push = |name: &OsStr| -> io::Result<()> {
        match xattr::get(path, name) {
            Ok(Some(value)) => xattrs.push(Xattr { name: name.as_bytes().to_vec(), value }),
            Ok(None) => {}
            // `trusted.*` without CAP_SYS_ADMIN and similar: not readable by this process.
            Err(error) if error.kind() == io::ErrorKind::PermissionDenied || is_unsupported(&error) => {}
            Err(error) => return Err(error),
        }
        Ok(())
    };
    for name in names {
        push(&name)?;
    }
    if on_cifs {
        for name in CIFS_UNLISTED {
            push(OsStr::new(name))?;
        }
    }
    xattrs.sort_by(|left, right| left.name.cmp(&right.name));
    xattrs.dedup_by(|left, right| left.name == right.name);
    Ok(xattrs)
}

fn is_unsupported(error: &io::Error) -> bool {
    error.raw_os_error() == Some(libc::ENOTSUP) || error.raw_os_error() == Some(libc::ENODATA)
}

/// An attribute that could not be set back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct XattrFailure {
    pub name: String,
    pub error: String,
}

/// Sets every attribute on `path` (not following symlinks); returns the ones refused
/// (e.g. `trusted.*` or `security.*` without the rights, or a file system without xattrs).
pub fn restore_xattrs(path: &Path, xattrs: &[Xattr]) -> Vec<XattrFailure> {
    xattrs
        .iter()
        .filter_map(|attribute| {
            xattr::set(path, OsStr::from_bytes(&attribute.name), &attribute.value)
                .err()
                .map(|error| XattrFailure { name: attribute.name_text(), error: crate::error::io_message(&error) })
        })
        .collect()
}

/// Sets every attribute on an open file or folder; returns the ones refused.
pub fn restore_xattrs_fd(fd: std::os::fd::BorrowedFd, xattrs: &[Xattr]) -> Vec<XattrFailure> {
    xattrs
        .iter()
        .filter_map(|attribute| {
            rustix::fs::fsetxattr(
                fd,
                OsStr::from_bytes(&attribute.name),
                &attribute.value,
                rustix::fs::XattrFlags::empty(),
            )
            .err()
            .map(|errno| XattrFailure {
                name: attribute.name_text(),
                error: crate::error::io_message(&io::Error::from(errno)),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_attributes_round_trip_sorted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let source = dir.path().join("source");
        let target = dir.path().join("target");
        std::fs::write(&source, b"x").expect("write");
        std::fs::write(&target, b"x").expect("write");
        xattr::set(&source, "user.zeta", b"last").expect("this file system must support user xattrs");
        xattr::set(&source, "user.alpha", b"\x00binary\xff").expect("set");
        let read = read_xattrs(&source, false).expect("read");
        let names: Vec<String> = read.iter().map(Xattr::name_text).collect();
        assert_eq!(names, ["user.alpha", "user.zeta"]);
        assert_eq!(read[0].text_value(), None);
        assert_eq!(read[1].text_value(), Some("last"));
        assert!(restore_xattrs(&target, &read).is_empty());
        assert_eq!(read_xattrs(&target, false).expect("read back"), read);
        let refused = restore_xattrs(&target, &[Xattr { name: b"bogus.name".to_vec(), value: vec![] }]);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].name, "bogus.name");
    }
}
