//! Materialising cache objects in the work tree, with link modes and fallback.
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
use crate::data::index::Stat;
use crate::error::Result;
use crate::fsutil;

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

    /// Place `object` (a read-only cache file) at `dest`. Returns the mode that worked and, for a
    /// real file (not a symlink), its stat as placed.
    pub fn place(
        &self,
        object: &Path,
        dest: &Path,
        executable: bool,
    ) -> Result<(LinkMode, Option<Stat>)> {
        let temp = fsutil::temp_path_for(dest);
        let mut last_err: Option<std::io::Error> = None;
        for &mode in &self.modes {
            let made = match mode {
                LinkMode::Reflink if self.reflink_unsupported.load(Ordering::Relaxed) => continue,
                // Hard links share the object's read-only, non-executable mode.
                LinkMode::Hardlink if executable => continue,
                LinkMode::Reflink => reflink(object, &temp, executable).inspect_err(|_| {
                    self.reflink_unsupported.store(true, Ordering::Relaxed);
                }),
                LinkMode::Copy => copy(object, &temp, executable),
                LinkMode::Hardlink => std::fs::hard_link(object, &temp)
                    .and_then(|_| std::fs::symlink_metadata(&temp))
                    .map(|m| Some(Stat::of(&m))),
                LinkMode::Symlink => std::os::unix::fs::symlink(object, &temp).map(|_| None),
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

/// A plain copy with the final mode set at creation; the kernel copies the bytes
/// (`copy_file_range`), and the stat comes from the open file.
fn copy(object: &Path, temp: &Path, executable: bool) -> std::io::Result<Option<Stat>> {
    let mut src = std::fs::File::open(object)?;
    let mut dst = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(fsutil::worktree_mode(executable))
        .open(temp)?;
    std::io::copy(&mut src, &mut dst)?;
    dst.flush()?;
    Ok(Some(Stat::of(&dst.metadata()?)))
}
