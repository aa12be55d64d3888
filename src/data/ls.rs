//! `git ml ls`: the tracked paths with their size, file count and whether the cache holds them.
//! Reads pointers and the cache only, never the tracked data.

use rayon::prelude::*;
use serde::Serialize;

use crate::data::manifest::EntryKind;
use crate::data::pointer::Kind;
use crate::data::status::CacheState;
use crate::error::Result;
use crate::oid::Oid;
use crate::workspace::{Tracked, Workspace};

#[derive(Debug, Serialize)]
pub struct Listed {
    pub path: String,
    pub pointer: String,
    #[serde(rename = "type")]
    pub kind: Kind,
    pub oid: Oid,
    pub size: u64,
    pub files: u64,
    pub cache: CacheState,
}

pub fn ls(ws: &Workspace, tracked: &[Tracked]) -> Result<Vec<Listed>> {
    tracked
        .par_iter()
        .map(|t| {
            let ptr = ws.read_pointer(t)?;
            let cache = if !ws.cache.contains(&ptr.oid) {
                CacheState::Missing
            } else if ptr.kind == Kind::File {
                CacheState::Present
            } else {
                match super::load_manifest(ws, ptr.oid, &t.path) {
                    Ok(m)
                        if m.entries.iter().all(|e| match &e.kind {
                            EntryKind::File { oid, .. } => ws.cache.contains(oid),
                            _ => true,
                        }) =>
                    {
                        CacheState::Present
                    }
                    _ => CacheState::Partial,
                }
            };
            Ok(Listed {
                path: t.path.clone(),
                pointer: t.pointer.clone(),
                kind: ptr.kind,
                oid: ptr.oid,
                size: ptr.size,
                files: ptr.files,
                cache,
            })
        })
        .collect()
}
