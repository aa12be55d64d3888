//! Profiles travel with the data: a push sends the profiles of the tables it pushed (once per
//! remote), a pull fetches the profiles of the tables it brought, so CI reads what a laptop
//! computed instead of reading the data again.
//!
//! A profile from a remote is checked for its format version and for naming the content it is
//! stored under; its numbers are trusted as the remote's objects are (whoever may write to the
//! remote may write them). `git ml data show --recompute` computes one again from the content.

use std::collections::{BTreeMap, HashSet};

use crate::data::pointer::Kind;
use crate::error::Result;
use crate::oid::Oid;
use crate::remote::Transport;
use crate::remote::transfer::Target;
use crate::workspace::Workspace;

/// The tables among `targets`: path -> content oid (inside directories whose manifest is here).
fn tables(ws: &Workspace, targets: &[Target]) -> Result<BTreeMap<String, Oid>> {
    let select = super::selection(&ws.config.project)?;
    let ptrs: BTreeMap<String, crate::data::pointer::Pointer> = targets
        .iter()
        .map(|t| {
            (
                t.path.clone(),
                crate::data::pointer::Pointer {
                    kind: t.kind,
                    oid: t.oid,
                    size: t.size,
                    files: 0,
                    executable: false,
                },
            )
        })
        .collect();
    Ok(super::tracked_tables(ws, &ptrs, &select).0)
}

/// Where a push records that a remote has a profile, so the next push does not send it again.
fn marker(ws: &Workspace, remote: &dyn Transport, oid: &Oid) -> std::path::PathBuf {
    let url = Oid::of(remote.url().as_bytes()).hex();
    ws.cache.root().join(format!(
        "profiles/v{}/pushed/{}/{}",
        super::VERSION,
        &url[..16],
        oid.hex()
    ))
}

/// Forget that `remote` has the profile of `oid` (gc removed it there).
pub fn forget_pushed(ws: &Workspace, remote: &dyn Transport, oid: &Oid) -> Result<()> {
    super::remove_if_there(&marker(ws, remote, oid))
}

/// Send the local profiles of the tables among `targets` that the remote has not had from us;
/// `pushed` says which contents the remote now holds (a profile never goes ahead of its data).
/// Returns how many were sent.
pub fn push(
    ws: &Workspace,
    remote: &dyn Transport,
    targets: &[Target],
    failed: &HashSet<Oid>,
) -> Result<usize> {
    let mut sent = 0;
    for (_, oid) in tables(ws, targets)? {
        if failed.contains(&oid) {
            continue;
        }
        let mark = marker(ws, remote, &oid);
        if mark.exists() {
            continue;
        }
        let Ok(bytes) = std::fs::read(ws.cache.root().join(super::name(&oid))) else {
            continue;
        };
        if super::parse_stored(&bytes, &oid).is_none() {
            continue;
        }
        remote.put_named(&super::name(&oid), &bytes)?;
        fs_err::create_dir_all(mark.parent().expect("marker dir"))?;
        fs_err::write(&mark, b"")?;
        sent += 1;
    }
    Ok(sent)
}

/// The contents among `targets`' tables that the cache lacks (call before fetching them).
pub fn missing(ws: &Workspace, targets: &[Target]) -> Result<HashSet<Oid>> {
    let files: Vec<Target> = targets
        .iter()
        .filter(|t| t.kind == Kind::File || ws.cache.contains(&t.oid))
        .cloned()
        .collect();
    let t = tables(ws, &files)?;
    let oids: Vec<Oid> = t.values().copied().collect();
    let mask = ws.cache.missing_mask(&oids);
    let mut out: HashSet<Oid> = oids
        .into_iter()
        .zip(mask)
        .filter_map(|(o, m)| m.then_some(o))
        .collect();
    // A directory whose manifest is not here yet: all its tables are new.
    for d in targets
        .iter()
        .filter(|t| t.kind == Kind::Dir && !ws.cache.contains(&t.oid))
    {
        out.insert(d.oid);
    }
    Ok(out)
}

/// Fetch the profiles of the tables among `targets` whose content was missing before this pull
/// (`before`, from [`missing`]) and has no local profile. Returns how many were stored.
pub fn pull(
    ws: &Workspace,
    remote: &dyn Transport,
    targets: &[Target],
    before: &HashSet<Oid>,
) -> Result<usize> {
    let new_dirs: HashSet<&str> = targets
        .iter()
        .filter(|t| t.kind == Kind::Dir && before.contains(&t.oid))
        .map(|t| t.path.as_str())
        .collect();
    let mut stored = 0;
    for (path, oid) in tables(ws, targets)? {
        let in_new_dir = new_dirs.iter().any(|d| path.starts_with(&format!("{d}/")));
        if !(before.contains(&oid) || in_new_dir) || super::read_local(ws, &oid).is_some() {
            continue;
        }
        let Some(bytes) = remote.get_named(&super::name(&oid))? else {
            continue;
        };
        if super::parse_stored(&bytes, &oid).is_some() {
            super::write_local_bytes(ws, &oid, &bytes)?;
            stored += 1;
        } else {
            tracing::warn!(
                "the remote's profile of `{path}` is not a profile of its content; ignored"
            );
        }
    }
    Ok(stored)
}
