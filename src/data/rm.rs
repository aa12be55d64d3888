//! `git ml rm`: stop tracking a path. The pointer and the `.gitignore` line go; the data stays in
//! the work tree (so git can take it over) unless `--delete`, and stays in the cache either way
//! until a gc.

use serde::Serialize;

use crate::data::gitignore;
use crate::data::pointer::Kind;
use crate::data::status::{Current, current};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::workspace::{Tracked, Workspace};

#[derive(Debug, Serialize)]
pub struct Removed {
    pub path: String,
    pub pointer: String,
    /// Whether the working data was deleted too.
    pub deleted_data: bool,
}

pub fn rm(
    ws: &Workspace,
    tracked: &[Tracked],
    delete: bool,
    force: bool,
    progress: &dyn Progress,
) -> Result<Vec<Removed>> {
    let _lock = ws.lock(&|holder| progress.message(&format!("waiting for {holder} to finish")))?;
    let mut out = Vec::new();
    let clock = ws.clock()?;
    let mut index = ws.load_index();
    for t in tracked {
        let ptr = ws.read_pointer(t)?;
        let mut deleted_data = false;
        if delete {
            // Deleting is only safe if what is there can be brought back from the cache.
            let learned = std::sync::Mutex::new(Default::default());
            let cur = current(ws, t, &index, &learned, clock, progress)?;
            let safe = match (&cur, ptr.kind) {
                (Current::Missing, _) => true,
                (Current::File { oid, .. }, Kind::File) => {
                    *oid == ptr.oid && ws.cache.contains(oid)
                }
                (Current::Dir { oid, .. }, Kind::Dir) => *oid == ptr.oid && ws.cache.contains(oid),
                _ => false,
            };
            if !safe && !force {
                return Err(Error::WouldLoseChanges {
                    count: 1,
                    paths: vec![t.path.clone()],
                });
            }
            let abs = ws.abs(&t.path);
            match cur {
                Current::Missing => {}
                Current::Dir { .. } => fs_err::remove_dir_all(&abs)?,
                _ => fs_err::remove_file(&abs)?,
            }
            deleted_data = true;
        }
        fs_err::remove_file(ws.abs(&t.pointer))?;
        gitignore::remove(ws.root(), &t.path)?;
        index.remove_tree(&t.path);
        out.push(Removed {
            path: t.path.clone(),
            pointer: t.pointer.clone(),
            deleted_data,
        });
    }
    index.save()?;
    Ok(out)
}
