//! Validation of paths that come from untrusted files (manifests, pointers).
//!
//! A manifest may only name paths strictly inside the directory it describes: no absolute paths,
//! no `.` or `..` components, no empty components, no NUL, no `.git`. Symlink targets must stay
//! inside the tracked directory. Checked on read, before anything is written.

use crate::error::{Error, Result};

/// Check a `/`-separated relative path; `origin` names the file it came from.
pub fn check_relative(path: &str, origin: &dyn Fn() -> String) -> Result<()> {
    let bad = |reason: &'static str| Error::UnsafePath {
        path: path.to_string(),
        origin: origin(),
        reason,
    };
    if path.is_empty() {
        return Err(bad("empty path"));
    }
    if path.starts_with('/') {
        return Err(bad("absolute paths are not allowed"));
    }
    if path.contains('\0') {
        return Err(bad("NUL byte in path"));
    }
    for component in path.split('/') {
        match component {
            "" => return Err(bad("empty path component")),
            "." | ".." => return Err(bad("`.` and `..` components are not allowed")),
            c if c.eq_ignore_ascii_case(".git") => {
                return Err(bad("`.git` components are not allowed"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Whether a symlink at `link_path` (relative to a tracked root) with `target` resolves, lexically,
/// to a location inside that root.
pub fn symlink_stays_inside(link_path: &str, target: &str) -> bool {
    if target.is_empty() || target.starts_with('/') || target.contains('\0') {
        return false;
    }
    let mut depth: Vec<&str> = link_path.split('/').collect();
    depth.pop(); // the link itself
    for component in target.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                if depth.pop().is_none() {
                    return false;
                }
            }
            c => depth.push(c),
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_escapes() {
        let o = || "m".to_string();
        for bad in [
            "",
            "/etc/passwd",
            "a/../b",
            "../x",
            "a//b",
            "./a",
            "a/.git/hooks",
            "a/\0",
        ] {
            assert!(check_relative(bad, &o).is_err(), "{bad:?} accepted");
        }
        for good in ["a", "a/b c/ü.csv", "...", "a/.gitignore", "x.gitml"] {
            assert!(check_relative(good, &o).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn symlink_targets() {
        assert!(symlink_stays_inside("a/link", "b"));
        assert!(symlink_stays_inside("a/link", "../c"));
        assert!(!symlink_stays_inside("a/link", "../../c"));
        assert!(!symlink_stays_inside("link", "../x"));
        assert!(!symlink_stays_inside("link", "/etc/passwd"));
        assert!(symlink_stays_inside("a/b/link", "../../top"));
    }
}
