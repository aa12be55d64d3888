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

    /// A DVC file (`.dvc`, `dvc.yaml`, `dvc.lock`, `.dvc/config`, a `.dir` listing) that cannot
    /// be read or is unsafe; `line` is 0 when the problem is not on one line.
    #[error("{file}{}: {message}", if *.line > 0 { format!(":{}", .line) } else { String::new() })]
    Dvc {
        file: String,
        line: usize,
        message: String,
    },

    /// Content a DVC file names that is missing or damaged (in the DVC cache and the work tree).
    #[error("{file}{}: {message}", if *.line > 0 { format!(":{}", .line) } else { String::new() })]
    DvcContent {
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

    #[error("{file}: {message}")]
    Metrics { file: String, message: String },

    /// A tracked table (CSV, TSV, JSON Lines) that cannot be profiled.
    #[error("{file}: {message}")]
    Table { file: String, message: String },

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

    #[error(
        "`{outer}` and `{inner}` conflict: the data of one would lie inside the other's, so neither can be checked out"
    )]
    ConflictingPointers { outer: String, inner: String },

    #[error("`{0}` ends in `.gitml`; that name is reserved for pointer files")]
    ReservedName(String),

    #[error("object {oid} for `{path}` is not in the cache")]
    ObjectMissing { oid: Oid, path: String },

    #[error("cache object {oid} is corrupt: its content hashes to {actual}")]
    CorruptObject { oid: Oid, actual: Oid },

    #[error("the cached content of `{path}` is corrupt (object {oid} hashes to {actual}); {}", if *.quarantined { "it was moved to the cache's quarantine and not written" } else { "it was not written" })]
    CorruptInCache {
        path: String,
        oid: Oid,
        actual: Oid,
        quarantined: bool,
    },

    #[error("{} local changes that are not in the cache and would be lost: {}", crate::text::plural(*.count as u64, "file has", "files have"), .paths.join(", "))]
    WouldLoseChanges { count: usize, paths: Vec<String> },

    #[error("`{path}` changed while it was being read; try again once it is no longer written to")]
    ChangedWhileReading { path: String },

    #[error("timed out after {secs} s waiting for the repository lock held by {holder}")]
    LockTimeout { secs: u64, holder: String },

    #[error("`{command}` failed: {message}")]
    Git { command: String, message: String },

    #[error("`{0}` does not name a commit")]
    UnknownRevision(String),

    #[error("no remote named `{name}`")]
    UnknownRemote { name: String, known: Vec<String> },

    #[error("no remote is configured")]
    NoRemote,

    #[error(
        "no data remote is configured, so the data of {0} was not {1} (run records and registry tags were)"
    )]
    NoDataRemote(String, &'static str),

    #[error("{count} remotes are configured and none is the default")]
    NoDefaultRemote { count: usize },

    #[error("remote `{remote}`: {message}")]
    RemoteConfig { remote: String, message: String },

    #[error("remote `{remote}` ({url}): {message}")]
    Remote {
        remote: String,
        url: String,
        message: String,
        kind: RemoteErrorKind,
    },

    #[error(
        "remote `{remote}` sent object {oid} corrupted: its content hashes to {actual}; it was not stored"
    )]
    RemoteCorrupt {
        remote: String,
        oid: Oid,
        actual: Oid,
    },

    #[error("{failed} of {total} object transfers failed")]
    TransferFailed { failed: usize, total: usize },

    #[error("gc cannot tell what {count} kept director{} need{}, because their manifests are neither in the cache nor on the remote (never pushed?): {}; nothing was removed", if *.count == 1 { "y" } else { "ies" }, if *.count == 1 { "s" } else { "" }, .dirs.join("; "))]
    GcUnreadable { count: usize, dirs: Vec<String> },

    #[error("{0}")]
    Other(String),
}

/// What went wrong talking to a remote, for the hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteErrorKind {
    /// Could not connect (wrong endpoint, server down, no network).
    Unreachable,
    /// The server refused the credentials or the permission.
    Denied,
    /// No credentials were found.
    NoCredentials,
    /// The bucket, container or directory does not exist.
    NoSuchStore,
    /// The remote is read-only (HTTP).
    ReadOnly,
    /// An object a pointer needs is not on the remote.
    MissingObject,
    Other,
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
            Error::Dvc { .. } => {
                "fix the file (`dvc status` reads it the same way), then run `git ml import dvc` again; nothing was changed".into()
            }
            Error::DvcContent { .. } => {
                "`dvc pull` (or `dvc fetch`, then `dvc checkout`) brings the content back; nothing was changed".into()
            }
            Error::Manifest { .. } => {
                "run `git ml verify` to find damaged cache objects; fetch them again from a remote"
                    .into()
            }
            Error::ConflictingPointers { outer, inner } => format!(
                "keep one: `git rm {}` or `git rm {}`, then commit",
                crate::text::shell_path(outer),
                crate::text::shell_path(inner)
            ),
            Error::NotTracked(p) => format!(
                "track it first with `git ml add {}`",
                crate::text::shell_path(p)
            ),
            Error::InsideTracked { parent, .. } => {
                format!(
                    "re-add the whole directory with `git ml add {}`",
                    crate::text::shell_path(parent)
                )
            }
            Error::ContainsTracked { inner, .. } => {
                format!(
                    "stop tracking the inner path first with `git ml rm {}`",
                    crate::text::shell_path(inner)
                )
            }
            Error::ObjectMissing { .. } => {
                "the data was never added on this machine; fetch it from a remote (`git ml pull`)"
                    .into()
            }
            Error::CorruptInCache { path, .. } => format!(
                "fetch a good copy with `git ml pull {}` (or add the data again from its source); `git ml verify` checks the rest of the cache",
                crate::text::shell_path(path)
            ),
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
            Error::UnknownRevision(_) => "name a branch, tag or commit (`git log --oneline`)".into(),
            Error::UnknownRemote { known, .. } if known.is_empty() => {
                "add one with `git ml remote add NAME URL`".into()
            }
            Error::UnknownRemote { known, .. } => format!("known remotes: {}", known.join(", ")),
            Error::NoRemote | Error::NoDataRemote(..) => {
                "add one with `git ml remote add NAME URL`".into()
            }
            Error::NoDefaultRemote { .. } => {
                "pass `-r NAME`, or choose a default with `git ml remote default NAME`".into()
            }
            Error::RemoteConfig { .. } => "see docs/configuration.md, section Remotes".into(),
            Error::Remote { kind, url, .. } => match kind {
                RemoteErrorKind::Unreachable => {
                    "check the remote's `url` and `endpoint` (`git ml remote list`) and that the server is up".into()
                }
                RemoteErrorKind::Denied if url.starts_with("gs://") => "check the credentials: `GOOGLE_APPLICATION_CREDENTIALS` or `GOOGLE_SERVICE_ACCOUNT` (a service account with access to the bucket)".into(),
                RemoteErrorKind::Denied if url.starts_with("az://") || url.starts_with("azure://") => "check the credentials: the remote's `account` and `AZURE_STORAGE_ACCOUNT_KEY` or `AZURE_STORAGE_SAS_TOKEN`".into(),
                RemoteErrorKind::Denied => "check the credentials: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, the remote's `profile`, or `.git/gitml/config.toml`".into(),
                RemoteErrorKind::NoCredentials if url.starts_with("gs://") => "set `GOOGLE_APPLICATION_CREDENTIALS` (a service account key file) or `GOOGLE_SERVICE_ACCOUNT`; on a Google Cloud machine, `GITML_GCS_INSTANCE_CREDENTIALS=1` uses its metadata server; a public bucket: `anonymous = true`".into(),
                RemoteErrorKind::NoCredentials if url.starts_with("az://") || url.starts_with("azure://") => "set `AZURE_STORAGE_ACCOUNT_KEY` or `AZURE_STORAGE_SAS_TOKEN` (and the remote's `account`, or `AZURE_STORAGE_ACCOUNT_NAME`); with a managed identity, `GITML_AZURE_MANAGED_IDENTITY=1`; a public container: `anonymous = true`".into(),
                RemoteErrorKind::NoCredentials => "set `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, name an AWS `profile`, or put the keys in `.git/gitml/config.toml` (never in gitml.toml)".into(),
                RemoteErrorKind::NoSuchStore => "create the bucket or directory first, or fix the remote's `url`".into(),
                RemoteErrorKind::ReadOnly => "HTTP remotes are read-only; push to a directory or object-store remote".into(),
                RemoteErrorKind::MissingObject => "push it from a machine that has it (`git ml push`), or pick another remote with `-r`".into(),
                RemoteErrorKind::Other => return None,
            },
            Error::RemoteCorrupt { .. } => {
                "the copy on the remote is damaged; push it again from a machine that has it (`git ml push`)".into()
            }
            Error::TransferFailed { .. } => {
                "run the command again: objects already transferred are not sent twice".into()
            }
            Error::Table { .. } => {
                "git ml profiles CSV and TSV with a header row and JSON Lines (one object per line), in UTF-8, and Parquet; see docs/data-checks.md".into()
            }
            Error::Metrics { .. } => {
                "metrics and params files are JSON, YAML or TOML tables of names and values; see docs/formats.md (run records)".into()
            }
            Error::GcUnreadable { .. } => {
                "push that data from a machine that has it (`git ml push --all-branches`), or pass `--skip-unreadable` to collect the rest (objects younger than `gc.grace` are kept anyway)".into()
            }
            // The hint names the docs of the file that failed, not always gitml.toml's.
            Error::Config { file, .. } if file.starts_with(crate::pipeline::lockfile::FILE) => {
                "gitml.lock is written by `git ml run`: take one side of a conflict (the merge driver does, `git ml init` registers it) or delete the broken stage entry and run again; see docs/formats.md (gitml.lock)".into()
            }
            Error::Config { file, .. } if file.ends_with(".j2") => {
                "the report template is MiniJinja (Jinja2) text; see docs/configuration.md, `[report] template`, for the variables it gets".into()
            }
            Error::Config { file, .. } if file.starts_with("gitml-dvc") => {
                "written by `git ml import dvc`; see docs/coming-from-dvc.md".into()
            }
            Error::Config { .. } | Error::ConfigValue { .. } => {
                "see docs/configuration.md for the keys and their types".into()
            }
            _ => return None,
        })
    }
}

/// Secrets (keys, tokens) this process knows; [`redact`] removes them from any text we print.
static SECRETS: std::sync::RwLock<Vec<String>> = std::sync::RwLock::new(Vec::new());

/// Remember a secret so that no message, log line or JSON output can show it.
pub fn register_secret(secret: &str) {
    // Short values would redact ordinary words; real keys are long.
    if secret.len() >= 6
        && let Ok(mut s) = SECRETS.write()
        && !s.iter().any(|k| k == secret)
    {
        s.push(secret.to_string());
    }
}

/// Where `url` (or any text) carries credentials in a URL's user-info part
/// (`https://user:token@host/...`): the byte ranges of each user-info.
pub fn userinfo_ranges(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find("://") {
        let start = from + i + 3;
        let rest = &text[start..];
        let end = rest
            .find(|c: char| c == '/' || c.is_whitespace() || "`\"'()<>?#".contains(c))
            .unwrap_or(rest.len());
        if let Some(at) = rest[..end].rfind('@') {
            ranges.push(start..start + at);
        }
        from = start;
    }
    ranges
}

/// `text` with every registered secret, and every URL user-info, replaced by `***`.
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    for r in userinfo_ranges(text).into_iter().rev() {
        out.replace_range(r, "***");
    }
    if let Ok(secrets) = SECRETS.read() {
        for s in secrets.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_credentials_are_redacted() {
        assert_eq!(
            redact("GET https://u:p4ss@host/x failed; see `http://tok@h2:80`"),
            "GET https://***@host/x failed; see `http://***@h2:80`"
        );
        assert_eq!(redact("s3://bucket/a@b.csv"), "s3://bucket/a@b.csv");
        assert!(userinfo_ranges("https://host/x").is_empty());
    }
}
