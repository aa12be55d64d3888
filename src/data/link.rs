//! Materialising cache objects in the work tree, with link modes and fallback.
//!
//! The new file is built beside its destination under a temporary name and renamed over it, so
//! the destination is at every instant either the old file or the complete new one, even if the
//! process is killed. The mode actually used is reported, since a reflink request may fall back
//! to a copy.

use std::path::Path;

use fs_err as fs;

use crate::config::LinkMode;
use crate::error::Result;
use crate::fsutil;

/// Place `object` (a read-only cache file) at `dest`, trying `modes` in order. Returns the mode
/// that worked.
pub fn materialise(
    object: &Path,
    dest: &Path,
    executable: bool,
    modes: &[LinkMode],
) -> Result<LinkMode> {
    let temp = fsutil::temp_path_for(dest);
    let mut last_err: Option<std::io::Error> = None;
    for &mode in modes {
        // Hard links share the object's read-only, non-executable mode.
        if mode == LinkMode::Hardlink && executable {
            continue;
        }
        let made = match mode {
            LinkMode::Reflink => {
                reflink_copy::reflink(object, &temp).and_then(|_| set_mode(&temp, executable))
            }
            LinkMode::Copy => {
                std::fs::copy(object, &temp).and_then(|_| set_mode(&temp, executable))
            }
            LinkMode::Hardlink => std::fs::hard_link(object, &temp),
            LinkMode::Symlink => std::os::unix::fs::symlink(object, &temp),
        };
        match made {
            Ok(()) => {
                if let Err(e) = fs::rename(&temp, dest) {
                    let _ = std::fs::remove_file(&temp);
                    return Err(e.into());
                }
                return Ok(mode);
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

fn set_mode(path: &Path, executable: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        path,
        std::fs::Permissions::from_mode(fsutil::worktree_mode(executable)),
    )
}
