//! `git ml verify`: re-hash every cache object and report those whose bytes no longer match their
//! name (disk errors, a hand edit, a truncated copy). With `quarantine`, damaged objects are moved
//! to `<cache>/quarantine/` so nothing reads them and a later fetch or add can replace them.

use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use serde::Serialize;

use crate::data::cache::hash_file;
use crate::error::Result;
use crate::oid::Oid;
use crate::progress::Progress;
use crate::workspace::Workspace;

#[derive(Debug, Serialize)]
pub struct Corrupt {
    pub oid: Oid,
    /// What the bytes hash to now, or why they could not be read.
    pub actual: String,
    pub quarantined: bool,
}

#[derive(Debug, Serialize)]
pub struct VerifyReport {
    pub objects: u64,
    pub bytes: u64,
    pub corrupt: Vec<Corrupt>,
}

pub fn verify(ws: &Workspace, quarantine: bool, progress: &dyn Progress) -> Result<VerifyReport> {
    ws.cache.sweep_all_temps();
    let oids = ws.cache.list()?;
    let bytes = AtomicU64::new(0);
    progress.start("verifying", oids.len() as u64);
    let mut corrupt: Vec<Corrupt> = oids
        .par_iter()
        .filter_map(|oid| {
            let path = ws.cache.object_path(oid);
            let found = hash_file(&path);
            progress.advance(1);
            match found {
                Ok((actual, size)) => {
                    bytes.fetch_add(size, Ordering::Relaxed);
                    (actual != *oid).then(|| Corrupt {
                        oid: *oid,
                        actual: actual.to_string(),
                        quarantined: false,
                    })
                }
                Err(e) => Some(Corrupt {
                    oid: *oid,
                    actual: format!("unreadable: {e}"),
                    quarantined: false,
                }),
            }
        })
        .collect();
    progress.finish();
    if quarantine && !corrupt.is_empty() {
        let _lock =
            ws.lock(&|holder| progress.message(&format!("waiting for {holder} to finish")))?;
        for c in &mut corrupt {
            ws.cache.quarantine(&c.oid)?;
            c.quarantined = true;
        }
    }
    Ok(VerifyReport {
        objects: oids.len() as u64,
        bytes: bytes.into_inner(),
        corrupt,
    })
}
