//! An archive request: roots, tags, caps and filters, validated before anything is written.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::error::ArchiveError;
use esker_bundle::Caps;

/// Everything one `esker archive` needs, already validated.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ArchiveRequest {
    /// Absolute, existing, not nested in one another.
    pub roots: Vec<PathBuf>,
    pub tags: Vec<String>,
    pub description: String,
    pub max_files: u64,
    pub max_size: u64,
    pub exclude: Vec<String>,
    pub atime_older_days: Option<u64>,
    pub atime_newer_days: Option<u64>,
    pub group_depth: Option<usize>,
    pub store: String,
    pub jobs: usize,
    pub dry_run: bool,
    /// Compare content (BLAKE3) instead of size/mtime/ctime/inode to find changed files.
    pub checksum: bool,
    /// Read and keep extended attributes and ACLs.
    pub xattrs: bool,
}

impl ArchiveRequest {
    pub fn caps(&self) -> Caps {
        Caps { max_files: self.max_files, max_size: self.max_size }
    }

    /// Compiles `--exclude` patterns (a pattern matches a name, or a full path when it has `/`).
    pub fn exclude_set(&self) -> Result<Option<GlobSet>, ArchiveError> {
        if self.exclude.is_empty() {
            return Ok(None);
        }
        let mut builder = GlobSetBuilder::new();
        for pattern in &self.exclude {
            // `scratch/*` (a relative pattern with a slash) matches below any folder.
            let anchored = if pattern.contains('/') && !pattern.starts_with('/') && !pattern.starts_with("**") {
                format!("**/{pattern}")
            } else {
                pattern.clone()
            };
            let glob = Glob::new(&anchored).map_err(|error| ArchiveError::BadExclude {
                pattern: pattern.clone(),
                message: error.kind().to_string(),
            })?;
            builder.add(glob);
        }
        builder
            .build()
            .map(Some)
            .map_err(|error| ArchiveError::BadExclude { pattern: self.exclude.join(" "), message: error.to_string() })
    }

    /// Key identifying "the same roots" when looking for a run to resume.
    pub fn roots_key(&self) -> String {
        self.roots.iter().map(|root| hex::encode(root.as_os_str().as_bytes())).collect::<Vec<_>>().join(":")
    }

    pub fn roots_json(&self) -> String {
        serde_json::to_string(&self.roots.iter().map(|root| root.display().to_string()).collect::<Vec<_>>())
            .unwrap_or_else(|_| "[]".into())
    }

    /// Whether a file with this access time passes `--atime-older/--atime-newer`.
    pub fn atime_passes(&self, atime_ns: i64, now_ns: i64) -> bool {
        let day = 86_400_000_000_000i64;
        let older_ok = self.atime_older_days.is_none_or(|days| atime_ns < now_ns - day.saturating_mul(days as i64));
        let newer_ok = self.atime_newer_days.is_none_or(|days| atime_ns >= now_ns - day.saturating_mul(days as i64));
        older_ok && newer_ok
    }
}

/// `-t a,b -t c` → `[a, b, c]`, trimmed, without empties or repeats.
pub fn normalize_tags(raw: &[String]) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for tag in raw.iter().flat_map(|value| value.split(',')).map(str::trim).filter(|tag| !tag.is_empty()) {
        if !tags.iter().any(|known| known.eq_ignore_ascii_case(tag)) {
            tags.push(tag.to_string());
        }
    }
    tags
}

/// Makes roots absolute (lexically: `.` and `..` resolved, symlinks kept), checks that they
/// exist, and drops roots that lie inside another root.
pub fn resolve_roots(paths: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<String>), ArchiveError> {
    if paths.is_empty() {
        return Err(ArchiveError::NoRoots);
    }
    let mut roots: Vec<PathBuf> = Vec::new();
    for path in paths {
        let absolute = std::path::absolute(path).map_err(|error| ArchiveError::Root {
            path: path.display().to_string(),
            message: crate::error::io_message(&error),
        })?;
        let normal = normalize(&absolute);
        std::fs::symlink_metadata(&normal).map_err(|error| ArchiveError::Root {
            path: path.display().to_string(),
            message: crate::error::io_message(&error),
        })?;
        if !roots.contains(&normal) {
            roots.push(normal);
        }
    }
    let mut warnings = Vec::new();
    let all = roots.clone();
    roots.retain(|root| match all.iter().find(|other| *other != root && root.starts_with(other)) {
        Some(outer) => {
            warnings.push(format!(
                "{} lies inside {}; archiving it once, as part of {}",
                root.display(),
                outer.display(),
                outer.display()
            ));
            false
        }
        None => true,
    });
    Ok((roots, warnings))
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for component in path.components() {
        match component {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(part) => out.push(part),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_split_trim_and_dedupe() {
        let raw = vec!["a, b".to_string(), "B".to_string(), ",c,".to_string()];
        assert_eq!(normalize_tags(&raw), ["a", "b", "c"]);
    }

    #[test]
    fn nested_roots_are_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("inner")).expect("mkdir");
        let (roots, warnings) =
            resolve_roots(&[dir.path().join("inner"), dir.path().join("inner/../inner/."), dir.path().to_path_buf()])
                .expect("roots");
        assert_eq!(roots, vec![dir.path().to_path_buf()]);
        assert_eq!(warnings.len(), 1);
        assert!(resolve_roots(&[dir.path().join("missing")]).is_err());
    }
}
