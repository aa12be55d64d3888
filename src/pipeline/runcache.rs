//! The run cache: for each stage input seen before (key = hash of cmd, deps, params), the
//! pointers of the outputs it produced. Entries live in the cache (`<cache>/runs/ab/cdef...`) and
//! travel to remotes under the same name; an entry is pushed only after every object it points to,
//! so an entry on a remote can always be restored from it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::data::pointer::{Kind, Pointer};
use crate::error::Result;
use crate::progress::Silent;
use crate::remote::Transport;
use crate::remote::transfer::{self, Target, TransferReport};
use crate::workspace::Workspace;

/// A run-cache entry: output path -> its pointer (TOML text).
#[derive(Debug, Serialize, Deserialize)]
pub struct CacheEntry {
    pub outs: BTreeMap<String, String>,
}

impl CacheEntry {
    /// The outputs' pointers; `None` if any is malformed.
    pub fn pointers(&self, key: &str) -> Option<Vec<(String, Pointer)>> {
        self.outs
            .iter()
            .map(|(o, t)| {
                Pointer::parse(t, &format!("run cache entry {key}"))
                    .ok()
                    .map(|p| (o.clone(), p))
            })
            .collect()
    }

    fn targets(&self, key: &str) -> Vec<Target> {
        self.pointers(key)
            .unwrap_or_default()
            .into_iter()
            .map(|(o, p)| Target {
                path: format!("{o} (run cache)"),
                kind: p.kind,
                oid: p.oid,
                size: p.size,
            })
            .collect()
    }
}

/// `runs/ab/cdef...`: the entry's name under a cache or remote root.
pub fn name(key: &str) -> String {
    format!("runs/{}/{}", &key[..2], &key[2..])
}

pub fn read_local(ws: &Workspace, key: &str) -> Option<CacheEntry> {
    let text = std::fs::read_to_string(ws.cache.root().join(name(key))).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn write_local(ws: &Workspace, key: &str, entry: &CacheEntry) -> Result<()> {
    let path = ws.cache.root().join(name(key));
    fs_err::create_dir_all(path.parent().expect("fan-out dir"))?;
    crate::fsutil::atomic_write(
        &path,
        serde_json::to_string(entry)
            .expect("entry serialises")
            .as_bytes(),
        0o444,
    )?;
    Ok(())
}

/// Fetch the entry for `key` and the objects it points to from `remote`; true when it is now
/// usable locally.
pub fn pull(ws: &Workspace, remote: &dyn Transport, key: &str, jobs: usize) -> Result<bool> {
    let Some(bytes) = remote.get_named(&name(key))? else {
        return Ok(false);
    };
    let Ok(entry) = serde_json::from_slice::<CacheEntry>(&bytes) else {
        return Ok(false);
    };
    if entry.pointers(key).is_none() {
        return Ok(false);
    }
    let report = transfer::fetch(ws, remote, &entry.targets(key), jobs, &Silent)?;
    if !report.ok() {
        return Ok(false);
    }
    write_local(ws, key, &entry)?;
    Ok(true)
}

/// Every local entry's key.
pub fn local_keys(ws: &Workspace) -> Vec<String> {
    let mut keys = Vec::new();
    let Ok(fans) = std::fs::read_dir(ws.cache.root().join("runs")) else {
        return keys;
    };
    for fan in fans.flatten() {
        let prefix = fan.file_name().to_string_lossy().into_owned();
        if let Ok(entries) = std::fs::read_dir(fan.path()) {
            for e in entries.flatten() {
                let rest = e.file_name().to_string_lossy().into_owned();
                if prefix.len() == 2 && !rest.contains(crate::fsutil::TMP_MARKER) {
                    keys.push(format!("{prefix}{rest}"));
                }
            }
        }
    }
    keys.sort();
    keys
}

/// Push every local entry whose objects are all available: objects first, then the entries.
pub fn push(
    ws: &Workspace,
    remote: &dyn Transport,
    jobs: usize,
) -> Result<(usize, TransferReport)> {
    let mut entries = Vec::new();
    let mut targets = Vec::new();
    for key in local_keys(ws) {
        if let Some(e) = read_local(ws, &key) {
            targets.extend(e.targets(&key));
            entries.push((key, e));
        }
    }
    let report = transfer::push(ws, remote, &targets, jobs, &Silent)?;
    let failed: std::collections::HashSet<crate::oid::Oid> = report
        .failed
        .iter()
        .chain(&report.missing)
        .map(|f| f.oid)
        .collect();
    let mut pushed = 0;
    for (key, e) in &entries {
        // A directory's failure is reported on its root or on one of its files; skipping the
        // entry on any failure of this push keeps "entry on the remote => outputs there".
        let ok = report.ok()
            || e.pointers(key).is_some_and(|ps| {
                ps.iter().all(|(_, p)| !failed.contains(&p.oid))
                    && ps.iter().all(|(_, p)| p.kind == Kind::File)
            });
        if ok {
            let bytes = serde_json::to_vec(e).expect("entry serialises");
            remote.put_named(&name(key), &bytes)?;
            pushed += 1;
        }
    }
    Ok((pushed, report))
}
