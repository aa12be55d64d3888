//! Content digests of stage dependencies and outputs, the same oids `git ml add` would give, with
//! the stat index so that an unchanged file costs a `stat`, not a read.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::data::index::StatIndex;
use crate::data::scan::{self, Hashing, Work};
use crate::error::Result;
use crate::oid::Oid;
use crate::progress::Silent;
use crate::workspace::Workspace;

/// Digest of each path (`None`: it does not exist). Learned stats are saved to the index.
pub fn digests(ws: &Workspace, paths: &[String]) -> Result<BTreeMap<String, Option<Oid>>> {
    let clock = ws.clock()?;
    let mut index = ws.load_index();
    let learned = Mutex::new(StatIndex::default());
    let mut out = BTreeMap::new();
    {
        let resolver = scan::Resolver {
            index: &index,
            learned: &learned,
            cache: &ws.cache,
            mode: Hashing::HashOnly,
            clock_ns: clock,
            progress: &Silent,
        };
        for rel in paths {
            let abs = ws.abs(rel);
            let oid = match scan::scan(&abs, rel, &ws.cache)? {
                Work::File(stat) => {
                    let files = [(String::new(), stat)];
                    Some(resolver.resolve_files(&files, rel, &abs)?[0].0)
                }
                Work::Dir(entries, _) => {
                    let (manifest, _) = resolver.dir_manifest(&entries, rel, &abs)?;
                    Some(manifest.to_objects().root_oid)
                }
                _ => None,
            };
            out.insert(rel.clone(), oid);
        }
    }
    let learned = learned.into_inner().expect("index updates");
    if learned.is_dirty() {
        index.absorb(&learned);
        // A failed save only costs re-hashing next time.
        let _ = index.save();
    }
    Ok(out)
}
