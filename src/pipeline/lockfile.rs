//! `gitml.lock`: per stage, what its last successful run saw. Committed; written in one
//! deterministic order (stages, then keys, sorted) so that two branches touching different stages
//! produce independent hunks.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const FILE: &str = "gitml.lock";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The command exactly as it ran.
    pub cmd: String,
    /// Dependency path -> oid.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub deps: BTreeMap<String, String>,
    /// Param label -> value (as JSON text, so any type compares exactly).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
    /// Output path -> oid.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outs: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockFile {
    #[serde(default)]
    pub stages: BTreeMap<String, Entry>,
}

const HEADER: &str = "# gitml.lock: written by `git ml run`; commit it. What each stage's last successful run saw.\n\n";

impl LockFile {
    pub fn load(root: &Path) -> Result<LockFile> {
        let path = root.join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LockFile::default()),
            Err(e) => return Err(e.into()),
        };
        Self::parse(&text)
    }

    /// Parse the text of a `gitml.lock` (from the work tree, the index or a commit).
    pub fn parse(text: &str) -> Result<LockFile> {
        toml::from_str(text).map_err(|e| Error::Config {
            file: FILE.into(),
            message: format!(
                "{}; if it has merge conflict markers, resolve them or re-run the affected stages with `git ml run`",
                crate::config::toml_error(text, &e)
            ),
        })
    }

    pub fn save(&self, root: &Path) -> Result<()> {
        let body = toml::to_string(self).map_err(|e| Error::Other(e.to_string()))?;
        crate::fsutil::atomic_write(
            &root.join(FILE),
            format!("{HEADER}{body}").as_bytes(),
            0o644,
        )?;
        Ok(())
    }
}
