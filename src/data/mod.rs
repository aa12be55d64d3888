//! Data pointers and the content cache: tracking large files and directories by content hash.
//!
//! `add` stores content in the [`cache`] and writes a [`pointer`]; `status` compares the work tree
//! with the pointers; `checkout` makes the work tree match them. Directories are [`manifest`]s.
//! The stat [`index`] keeps all of this from re-reading unchanged files.

pub mod add;
pub mod cache;
pub mod checkout;
pub mod gitignore;
pub mod index;
pub mod link;
pub mod ls;
pub mod manifest;
pub mod path;
pub mod pointer;
pub mod rm;
pub mod scan;
pub mod status;
pub mod verify;

use crate::error::{Error, Result};
use crate::oid::Oid;
use crate::workspace::Workspace;
use manifest::Manifest;

/// Load a directory manifest from the local cache, verifying every object.
pub fn load_manifest(ws: &Workspace, oid: Oid, display: &str) -> Result<Manifest> {
    let root = read_root(ws, oid, display)?;
    Manifest::from_objects(oid, &root, &|chunk| read_chunk(ws, chunk, display))
}

/// The entries that differ between the cached manifest `oid` and `current`, whose chunks are
/// `refs` (see [`Manifest::changed_since`]): `(recorded, current)`.
pub fn manifest_changes(
    ws: &Workspace,
    oid: Oid,
    display: &str,
    current: &Manifest,
    refs: &[manifest::ChunkRef],
) -> Result<(Vec<manifest::Entry>, Vec<manifest::Entry>)> {
    let root = read_root(ws, oid, display)?;
    current.changed_since(refs, oid, &root, &|chunk| read_chunk(ws, chunk, display))
}

fn read_root(ws: &Workspace, oid: Oid, display: &str) -> Result<Vec<u8>> {
    ws.cache.read_verified(&oid).map_err(|e| {
        if ws.cache.contains(&oid) {
            e
        } else {
            missing(oid, display)
        }
    })
}

fn read_chunk(ws: &Workspace, chunk: Oid, display: &str) -> Result<Vec<u8>> {
    std::fs::read(ws.cache.object_path(&chunk)).map_err(|_| missing(chunk, display))
}

fn missing(oid: Oid, display: &str) -> Error {
    Error::ObjectMissing {
        oid,
        path: display.to_string(),
    }
}
