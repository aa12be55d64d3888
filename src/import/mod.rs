//! Moving a project from another tool to git-ml in place: `git ml import dvc`, and reading the
//! other tool's remote while a team tries git-ml out.
//!
//! The invariant: an import writes nothing to the work tree until every piece of content it
//! will point to is in the cache, verified against the other tool's own hash; and what it writes
//! is one ordinary working-tree change (pointers, `gitml.toml`, `gitml.lock`, and the old tool's
//! files removed unless kept) that the user reviews and commits — or throws away with
//! `git checkout .`.

pub mod dvc;
pub mod dvc_remote;

use serde::Serialize;

/// Something the import could not carry over, where it was and why: never dropped silently.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct NotConverted {
    /// `file:line` and, for a stage, its name.
    pub origin: String,
    pub what: String,
    pub why: String,
}
