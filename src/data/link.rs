//! Materialising cache objects in the work tree, with link modes and fallback.
//!
//! Every object is verified on its way out: a copy is hashed while it is made (the bytes that
//! land in the work tree are the bytes hashed), a reflink is hashed after it is made, and an
//! object about to be linked (hard link or symlink) is hashed first and given its own inode if a
//! remote or another cache shares it. A corrupt object never reaches the work tree or the stat
//! index; the caller quarantines it.
//!
//! The new file is built beside its destination under a temporary name and renamed over it, so
//! the destination is at every instant either the old file or the complete new one, even if the
//! process is killed. The mode actually used is reported, since a reflink request may fall back
//! to a copy. A file system that cannot reflink is detected on the first file, not re-tried on
//! every one.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use fs_err as fs;

use crate::config::LinkMode;
use crate::data::cache::{Cache, SMALL_FILE, copy_and_hash, hash_file};
use crate::data::index::Stat;
use crate::error::{Error, Result};
use crate::fsutil;
use crate::oid::Oid;

pub struct Materialiser {
    modes: Vec<LinkMode>,
    reflink_unsupported: AtomicBool,
}

impl Materialiser {
    pub fn new(modes: &[LinkMode]) -> Materialiser {
        Materialiser {
            modes: modes.to_vec(),
            reflink_unsupported: AtomicBool::new(false),
        }
    }

    /// Place the cache object `oid` at `dest`, verified. Returns the mode that worked and, for a
    /// real file (not a symlink), its stat as placed. A corrupt object is
    /// [`Error::CorruptObject`] and nothing is placed.
    pub fn place(
        &self,
        cache: &Cache,
        oid: &Oid,
        dest: &Path,
        executable: bool,
    ) -> Result<(LinkMode, Option<Stat>)> {
        let object = cache.object_path(oid);
        let object = object.as_path();
        let temp = fsutil::temp_path_for(dest);
        let mut last_err: Option<std::io::Error> = None;
        let corrupt = |actual: Oid| Error::CorruptObject { oid: *oid, actual };
        for &mode in &self.modes {
            let made = match mode {
                LinkMode::Reflink if self.reflink_unsupported.load(Ordering::Relaxed) => continue,
                // Hard links share the object's read-only, non-executable mode.
                LinkMode::Hardlink if executable => continue,
                LinkMode::Reflink => match reflink(object, &temp, executable) {
                    Ok(stat) => {
                        let (actual, _) = hash_file(&temp)?;
                        if actual != *oid {
                            let _ = std::fs::remove_file(&temp);
                            return Err(corrupt(actual));
                        }
                        Ok(stat)
                    }
                    Err(e) => {
                        self.reflink_unsupported.store(true, Ordering::Relaxed);
                        Err(e)
                    }
                },
                LinkMode::Copy => match copy_verified(object, &temp, executable) {
                    Ok((actual, _)) if actual != *oid => {
                        let _ = std::fs::remove_file(&temp);
                        return Err(corrupt(actual));
                    }
                    Ok((_, stat)) => Ok(stat),
                    Err(e) => Err(e),
                },
                LinkMode::Hardlink | LinkMode::Symlink => {
                    cache.prepare_for_worktree_link(oid)?;
                    if mode == LinkMode::Hardlink {
                        std::fs::hard_link(object, &temp)
                            .and_then(|_| std::fs::symlink_metadata(&temp))
                            .map(|m| Some(Stat::of(&m)))
                    } else {
                        std::os::unix::fs::symlink(object, &temp).map(|_| None)
                    }
                }
            };
            match made {
                Ok(stat) => {
                    if let Err(e) = fs::rename(&temp, dest) {
                        let _ = std::fs::remove_file(&temp);
                        return Err(e.into());
                    }
                    return Ok((mode, stat));
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&temp);
                    last_err = Some(e);
                }
            }
        }
        let e = last_err.unwrap_or_else(|| std::io::Error::other("no usable link mode"));
        Err(std::io::Error::new(e.kind(), format!("{e} (placing `{}`)", dest.display())).into())
    }
}

fn reflink(object: &Path, temp: &Path, executable: bool) -> std::io::Result<Option<Stat>> {
    use std::os::unix::fs::PermissionsExt;
    reflink_copy::reflink(object, temp)?;
    std::fs::set_permissions(
        temp,
        std::fs::Permissions::from_mode(fsutil::worktree_mode(executable)),
    )?;
    Ok(Some(Stat::of(&std::fs::symlink_metadata(temp)?)))
}

/// A plain copy with the final mode set at creation, hashed as it is made: a small object is read
/// once into memory, hashed and written from that buffer; a large one is copied by the kernel and
/// the copy hashed (see [`copy_and_hash`]). Returns what the copy hashes to and its stat.
fn copy_verified(
    object: &Path,
    temp: &Path,
    executable: bool,
) -> std::io::Result<(Oid, Option<Stat>)> {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let mut src = std::fs::File::open(object)?;
    let len = src.metadata()?.len();
    if len <= SMALL_FILE {
        let mut buf = Vec::with_capacity(len as usize + 1);
        src.read_to_end(&mut buf)?;
        let actual = Oid::of(&buf);
        let mut dst = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(fsutil::worktree_mode(executable))
            .open(temp)?;
        dst.write_all(&buf)?;
        dst.flush()?;
        return Ok((actual, Some(Stat::of(&dst.metadata()?))));
    }
    let src = fs::File::from_parts(src, object);
    let (actual, _) = copy_and_hash(&src, temp)?;
    std::fs::set_permissions(
        temp,
        std::fs::Permissions::from_mode(fsutil::worktree_mode(executable)),
    )?;
    Ok((actual, Some(Stat::of(&std::fs::symlink_metadata(temp)?))))
}
