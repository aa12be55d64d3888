//! post-commit and post-rewrite: a new commit gets the pending runs whose inputs it carries; a
//! rewritten one (amend, rebase) keeps the runs of the commit it replaces.
//!
//! git copies notes on amend and rebase when `notes.rewriteRef` names ours (every git-ml command
//! sets that up); this hook copies them itself where git did not, and never removes any.

use serde::Serialize;

use crate::error::Result;
use crate::record::at::Reader;
use crate::workspace::Workspace;

#[derive(Debug, Default, Serialize)]
pub struct RewriteReport {
    /// Run ids attached to new commits.
    pub adopted: Vec<String>,
    /// Commits whose runs were copied from the commit they replace.
    pub copied: usize,
}

/// post-commit: adopt the pending runs HEAD carries.
pub fn post_commit(ws: &Workspace) -> Result<RewriteReport> {
    let head = crate::git::resolve_commit(ws.root(), "HEAD")?;
    let mut reader = Reader::new(ws)?;
    Ok(RewriteReport {
        adopted: crate::record::pending::adopt(&mut reader, &head)?,
        copied: 0,
    })
}

/// post-rewrite: `pairs` is what git gives on standard input (`<old> <new> [extra]` lines).
pub fn post_rewrite(ws: &Workspace, pairs: &str) -> Result<RewriteReport> {
    let root = ws.root();
    let index = crate::record::notes::NotesIndex::load(root)?;
    let mut report = RewriteReport::default();
    let mut reader = Reader::new(ws)?;
    for line in pairs.lines() {
        let mut f = line.split_whitespace();
        let (Some(old), Some(new)) = (f.next(), f.next()) else {
            continue;
        };
        if index.has(old)
            && !index.has(new)
            && let Some(text) = index.text(root, old)?
        {
            let lines: Vec<String> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect();
            let _lock = ws.lock(&|_| {})?;
            crate::record::notes::append(root, new, &lines)?;
            report.copied += 1;
        }
        report
            .adopted
            .extend(crate::record::pending::adopt(&mut reader, new)?);
    }
    Ok(report)
}
