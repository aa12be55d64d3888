//! Errors of the core, each carrying the path, object or key it is about.
//!
//! Every variant renders as one line without a trailing period; [`Error::hint`] gives the command
//! or edit that fixes it, which the CLI prints as `hint: ...`. I/O errors come from `fs-err`, so
//! their message already names the file.

use std::path::PathBuf;

use crate::oid::Oid;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not inside a git repository (looked from `{}` upwards)", .0.display())]
    NotARepo(PathBuf),

    #[error("`{}` is a bare repository; git-ml needs a work tree", .0.display())]
    BareRepo(PathBuf),

    #[error("git-ml is not initialised in `{}`", .0.display())]
    NotInitialised(PathBuf),

    #[error(transparent)]
    Io(#[from] std::io::Error),

    #[error("`{}` is outside the repository `{}`", .path.display(), .root.display())]
    OutsideRepo { path: PathBuf, root: PathBuf },

    #[error("`{}` is inside the git directory", .0.display())]
    InGitDir(PathBuf),

    #[error("`{}` is the repository root; track a file or directory inside it", .0.display())]
    RepoRoot(PathBuf),

    #[error("`{}` does not exist", .0.display())]
    NotFound(PathBuf),

    #[error("`{path}` is a symlink to `{target}`, which leads out of {scope}")]
    SymlinkEscapes {
        path: String,
        target: String,
        scope: &'static str,
    },

    #[error("`{path}` is a symlink; git-ml tracks files and directories, not links")]
    SymlinkRoot { path: String },

    #[error("`{path}`: unsupported file type (not a file, directory or symlink)")]
    UnsupportedFileType { path: String },

    #[error("{file}:{line}: {message}")]
    Pointer {
        file: String,
        line: usize,
        message: String,
    },

    #[error("manifest {oid}: {message}")]
    Manifest { oid: Oid, message: String },

    #[error("invalid path `{path}` in {origin}: {reason}")]
    UnsafePath {
        path: String,
        origin: String,
        reason: &'static str,
    },

    #[error("{file}: {message}")]
    Config { file: String, message: String },

    #[error("invalid value for `{key}` ({origin}): {message}")]
    ConfigValue {
        key: String,
        origin: String,
        message: String,
    },

    #[error("`{0}` is not tracked by git-ml")]
    NotTracked(String),

    #[error("`{path}` is inside `{parent}`, which git-ml already tracks")]
    InsideTracked { path: String, parent: String },

    #[error("`{path}` contains `{inner}`, which git-ml already tracks")]
    ContainsTracked { path: String, inner: String },

    #[error("`{0}` ends in `.gitml`; that name is reserved for pointer files")]
    ReservedName(String),

    #[error("object {oid} for `{path}` is not in the cache")]
    ObjectMissing { oid: Oid, path: String },

    #[error("cache object {oid} is corrupt: its content hashes to {actual}")]
    CorruptObject { oid: Oid, actual: Oid },

    #[error("{count} file(s) have local changes that are not in the cache and would be lost: {}", .paths.join(", "))]
    WouldLoseChanges { count: usize, paths: Vec<String> },

    #[error("`{path}` changed while it was being read; try again once it is no longer written to")]
    ChangedWhileReading { path: String },

    #[error("timed out after {secs} s waiting for the repository lock held by {holder}")]
    LockTimeout { secs: u64, holder: String },

    #[error("{0}")]
    Other(String),
}

impl Error {
    /// The command or edit that most likely fixes this error, printed as `hint: ...`.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Error::NotARepo(_) => "run `git init` first, or `cd` into a repository".into(),
            Error::NotInitialised(_) => "run `git ml init` at the repository root".into(),
            Error::OutsideRepo { .. } => "git-ml only tracks paths inside the work tree".into(),
            Error::SymlinkEscapes { .. } => {
                "replace the link with the data it points to, or track the target instead".into()
            }
            Error::SymlinkRoot { path } => format!("track the link's target instead of `{path}`"),
            Error::Pointer { file, .. } => format!(
                "restore it with `git checkout -- {file}`, or re-create it with `git ml add`"
            ),
            Error::Manifest { .. } => {
                "run `git ml verify` to find damaged cache objects; fetch them again from a remote"
                    .into()
            }
            Error::NotTracked(p) => format!("track it first with `git ml add {p}`"),
            Error::InsideTracked { parent, .. } => {
                format!("re-add the whole directory with `git ml add {parent}`")
            }
            Error::ContainsTracked { inner, .. } => {
                format!("stop tracking the inner path first with `git ml rm {inner}`")
            }
            Error::ObjectMissing { .. } => {
                "the data was never added on this machine; fetch it from a remote (`git ml pull`)"
                    .into()
            }
            Error::CorruptObject { .. } => {
                "run `git ml verify` to list every damaged object; re-add the data or fetch it again"
                    .into()
            }
            Error::WouldLoseChanges { .. } => {
                "keep them with `git ml add <path>`, or discard them with `--force`".into()
            }
            Error::LockTimeout { .. } => {
                "if that process is gone, the lock frees itself; raise `core.lock_timeout` to wait longer"
                    .into()
            }
            Error::Config { .. } | Error::ConfigValue { .. } => {
                "see docs/configuration.md for the keys and their types".into()
            }
            _ => return None,
        })
    }
}
