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
    let missing = |oid| Error::ObjectMissing {
        oid,
        path: display.to_string(),
    };
    let root = ws.cache.read_verified(&oid).map_err(|e| {
        if ws.cache.contains(&oid) {
            e
        } else {
            missing(oid)
        }
    })?;
    Manifest::from_objects(oid, &root, &|chunk| {
        std::fs::read(ws.cache.object_path(&chunk)).map_err(|_| missing(chunk))
    })
}
