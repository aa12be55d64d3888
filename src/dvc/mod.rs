//! DVC's file formats, parsed: `.dvc` files, `.dir` listings, `dvc.lock`, `dvc.yaml` (with its
//! `vars`, `${...}` interpolation, `foreach` and `matrix`), `.dvc/config`, and DVC's md5 names.
//!
//! Read by `import` (the conversion) and by `record` (metrics of commits from before it), so it
//! lives below both. Every parser is a pure function of text (`&str -> Result<T>`; files a
//! `dvc.yaml` refers to come through a reader the caller passes), which keeps them easy to fuzz.
//! A cloned DVC repository is hostile input: paths are checked to stay inside the repository,
//! md5 names to be md5 names, and every error names the file and, where it can, the line.

pub mod config;
pub mod files;
pub mod md5;
pub mod pipeline;
pub(crate) mod yaml;

pub use yaml::line_of;

/// DVC's cache and remote layout for an object: `files/md5/ab/cdef...` for DVC 3 entries, the
/// flat `ab/cdef...` for DVC 2 ones (`legacy`). `name` is an md5, optionally with `.dir`.
pub fn object_path(name: &str, legacy: bool) -> String {
    let (head, rest) = name.split_at(2.min(name.len()));
    if legacy {
        format!("{head}/{rest}")
    } else {
        format!("files/md5/{head}/{rest}")
    }
}

/// Join `base` (a `/`-separated directory relative to the repository root, `""` for the root)
/// and `rel`, resolving `.` and `..` lexically; `None` when the result leaves the repository, is
/// absolute, or is the root itself.
pub fn join_inside(base: &str, rel: &str) -> Option<String> {
    join_dir(base, rel).filter(|p| !p.is_empty())
}

/// Like [`join_inside`], but the repository root itself (`""`) is a valid answer: for working
/// directories.
pub fn join_dir(base: &str, rel: &str) -> Option<String> {
    if rel.starts_with('/') || rel.contains('\0') || rel.contains('\\') {
        return None;
    }
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for c in rel.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    if parts.iter().any(|p| p.eq_ignore_ascii_case(".git")) {
        return None;
    }
    Some(parts.join("/"))
}

/// The directory part of a repository-relative file path (`""` at the root).
pub fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside() {
        assert_eq!(join_inside("sub", "../data/x").as_deref(), Some("data/x"));
        assert_eq!(join_inside("", "./a/./b/").as_deref(), Some("a/b"));
        assert_eq!(join_inside("sub", "../../etc/passwd"), None);
        assert_eq!(join_inside("", "/etc/passwd"), None);
        assert_eq!(join_inside("", "."), None);
        assert_eq!(join_inside("", "a/.git/config"), None);
        assert_eq!(object_path("ab12", false), "files/md5/ab/12");
        assert_eq!(object_path("ab12.dir", true), "ab/12.dir");
    }
}
