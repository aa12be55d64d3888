//! Content digests of stage dependencies and outputs, the same oids `git ml add` would give, with
//! the stat index so that an unchanged file costs a `stat`, not a read. One [`Digester`] serves a
//! whole run: the index is loaded and the file-system clock read once, and what was learned is
//! saved at the end.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::data::index::StatIndex;
use crate::data::scan::{self, Hashing, Work};
use crate::error::Result;
use crate::oid::Oid;
use crate::progress::Silent;
use crate::workspace::Workspace;

pub struct Digester {
    /// The file-system clock when the run began: files written later are "racy" and re-hashed,
    /// which is what a stage's fresh outputs need.
    pub clock: i64,
    index: StatIndex,
    learned: Mutex<StatIndex>,
}

impl Digester {
    pub fn new(ws: &Workspace) -> Result<Digester> {
        Ok(Digester {
            clock: ws.clock()?,
            index: ws.load_index(),
            learned: Mutex::new(StatIndex::default()),
        })
    }

    /// Digest of each path (`None`: it does not exist).
    pub fn digests(
        &self,
        ws: &Workspace,
        paths: &[String],
    ) -> Result<BTreeMap<String, Option<Oid>>> {
        let resolver = scan::Resolver {
            index: &self.index,
            learned: &self.learned,
            cache: &ws.cache,
            mode: Hashing::HashOnly,
            clock_ns: self.clock,
            progress: &Silent,
        };
        let mut out = BTreeMap::new();
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
        Ok(out)
    }

    /// Save what was learned (a failed save only costs re-hashing next time).
    pub fn save(self, ws: &Workspace) {
        let learned = self.learned.into_inner().expect("index updates");
        if learned.is_dirty() {
            // Reload: `add` (for outputs) may have saved the index meanwhile.
            let mut index = ws.load_index();
            index.absorb(&learned);
            let _ = index.save();
        }
    }
}
