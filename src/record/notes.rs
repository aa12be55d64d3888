//! Reading and appending run records in `refs/notes/gitml`, through the `git` binary.
//!
//! Reading many commits costs two git processes whatever their number: `git notes list` maps
//! commits to note blobs, one `git cat-file --batch` reads the blobs. Appending rewrites the
//! commit's note as old lines + the new line (`git notes add -f`), under the repository lock, so
//! two local records never lose each other; across clones, the union is made by `sync`.

use std::collections::HashMap;
use std::path::Path;

use super::{NoteRuns, parse_note};
use crate::error::Result;
use crate::git;

pub const REF: &str = "refs/notes/gitml";

/// Which commits have a note, and its blob.
#[derive(Debug, Default)]
pub struct NotesIndex {
    blobs: HashMap<String, String>,
}

impl NotesIndex {
    pub fn load(root: &Path) -> Result<NotesIndex> {
        // A repository without the notes ref answers with an error: that is "no notes".
        let out = match git::run(root, &["notes", "--ref", REF, "list"]) {
            Ok(o) => o,
            Err(crate::Error::Git { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut blobs = HashMap::new();
        for line in String::from_utf8_lossy(&out).lines() {
            if let Some((blob, commit)) = line.split_once(' ') {
                blobs.insert(commit.trim().to_string(), blob.to_string());
            }
        }
        Ok(NotesIndex { blobs })
    }

    pub fn has(&self, commit: &str) -> bool {
        self.blobs.contains_key(commit)
    }

    /// The runs of each of `commits` that has a note (parsed; bad lines become warnings).
    pub fn runs(&self, root: &Path, commits: &[String]) -> Result<HashMap<String, NoteRuns>> {
        let wanted: Vec<String> = commits
            .iter()
            .filter_map(|c| self.blobs.get(c).cloned())
            .collect();
        let bodies = git::cat_batch(root, &wanted)?;
        let mut out = HashMap::new();
        for c in commits {
            if let Some(body) = self.blobs.get(c).and_then(|b| bodies.get(b)) {
                out.insert(c.clone(), parse_note(&String::from_utf8_lossy(body), c));
            }
        }
        Ok(out)
    }

    /// The raw note text of `commit`, if any.
    pub fn text(&self, root: &Path, commit: &str) -> Result<Option<String>> {
        let Some(blob) = self.blobs.get(commit) else {
            return Ok(None);
        };
        Ok(git::cat_batch(root, std::slice::from_ref(blob))?
            .remove(blob)
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }
}

/// Add `lines` to the note of `commit` (callers hold the repository lock). Lines already there
/// are not repeated.
pub fn append(root: &Path, commit: &str, lines: &[String]) -> Result<()> {
    let index = NotesIndex::load(root)?;
    let mut text = index.text(root, commit)?.unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let mut added = false;
    for line in lines {
        if !text.lines().any(|l| l == line) {
            text.push_str(line);
            text.push('\n');
            added = true;
        }
    }
    if !added {
        return Ok(());
    }
    git::run_updating_ref(
        root,
        REF,
        &["notes", "--ref", REF, "add", "-f", "-F", "-", commit],
        text.as_bytes(),
    )?;
    Ok(())
}
