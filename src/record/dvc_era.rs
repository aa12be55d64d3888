//! Metrics and params of commits from before `git ml import dvc`. A file DVC cached (stage
//! metrics are cached by default) was never in the commit's tree: that commit's `dvc.lock` (or
//! the file's own `.dvc` file) names its md5, and the DVC cache, where it is still present,
//! holds its bytes. They are checked against the md5 before they are believed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::dvc::files::{self, Entry};
use crate::dvc::md5::Md5Check;
use crate::dvc::{join_inside, object_path, parent};
use crate::error::Result;
use crate::git::Batch;

/// Metrics and params files are small; anything larger is not read from the DVC cache.
const MAX_FILE: u64 = 64 * 1024 * 1024;

/// The DVC cache directory as the commit's `.dvc/config` (or this machine's) names it.
fn cache_dir(batch: &mut Batch, commit: &str) -> Result<PathBuf> {
    let root = batch.root().to_path_buf();
    let mut texts = Vec::new();
    if let Ok(t) = std::fs::read_to_string(root.join(".dvc/config.local")) {
        texts.push(t);
    }
    if let Some(b) = batch.file(commit, ".dvc/config")? {
        texts.push(String::from_utf8_lossy(&b).into_owned());
    }
    for t in texts {
        if let Ok(cfg) = crate::dvc::config::parse(&t, ".dvc/config")
            && let Some((dir, _)) = cfg.cache.get("dir")
        {
            let p = std::path::Path::new(dir);
            return Ok(if p.is_absolute() {
                p.to_path_buf()
            } else {
                root.join(".dvc").join(p)
            });
        }
    }
    Ok(root.join(".dvc/cache"))
}

/// What DVC recorded for `path` at `commit`: the entry, from `dvc.lock` files on the way down to
/// it or from `path.dvc`.
fn entry(batch: &mut Batch, commit: &str, path: &str) -> Result<Option<Entry>> {
    let dvc_file = format!("{path}.dvc");
    if let Some(b) = batch.file(commit, &dvc_file)?
        && let Ok(f) = files::parse_dvc_file(&String::from_utf8_lossy(&b), &dvc_file)
    {
        let base = parent(&dvc_file);
        if let Some(e) = f
            .outs
            .into_iter()
            .find(|o| join_inside(base, &o.path).as_deref() == Some(path))
        {
            return Ok(Some(e));
        }
    }
    let mut dir = parent(path);
    loop {
        let lock = if dir.is_empty() {
            "dvc.lock".to_string()
        } else {
            format!("{dir}/dvc.lock")
        };
        if let Some(b) = batch.file(commit, &lock)?
            && let Ok(stages) = files::parse_lock(&String::from_utf8_lossy(&b), &lock)
        {
            let wdirs = stage_wdirs(batch, commit, dir);
            for (name, s) in stages {
                // Lock paths are relative to the stage's working directory.
                let base = wdirs
                    .get(&name)
                    .and_then(|w| crate::dvc::join_dir(dir, w))
                    .unwrap_or_else(|| dir.to_string());
                if let Some(e) = s
                    .outs
                    .into_iter()
                    .find(|o| join_inside(&base, &o.path).as_deref() == Some(path))
                {
                    return Ok(Some(e));
                }
            }
        }
        if dir.is_empty() {
            return Ok(None);
        }
        dir = parent(dir);
    }
}

/// Whether DVC-era files can be read at all: the DVC cache (`.dvc/`) is still in the work tree.
pub fn possible(root: &std::path::Path) -> bool {
    root.join(".dvc").is_dir()
}

/// Stage name -> `wdir`, from the `dvc.yaml` next to a `dvc.lock` at `commit` (its templating
/// reads files from the same commit). Empty when there is none or it does not parse.
fn stage_wdirs(batch: &mut Batch, commit: &str, dir: &str) -> BTreeMap<String, String> {
    let yaml = if dir.is_empty() {
        "dvc.yaml".to_string()
    } else {
        format!("{dir}/dvc.yaml")
    };
    let Ok(Some(text)) = batch.file(commit, &yaml) else {
        return BTreeMap::new();
    };
    let cell = std::cell::RefCell::new(batch);
    let read = |rel: &str| -> Option<String> {
        let p = join_inside(dir, rel)?;
        let bytes = cell.borrow_mut().file(commit, &p).ok()??;
        String::from_utf8(bytes).ok()
    };
    let Ok(parsed) = crate::dvc::pipeline::parse(&String::from_utf8_lossy(&text), &yaml, &read)
    else {
        return BTreeMap::new();
    };
    parsed
        .stages
        .into_iter()
        .filter_map(|s| s.wdir.map(|w| (s.name, w)))
        .collect()
}

/// The bytes of `path` as DVC cached them at `commit`; `None` when DVC recorded nothing for it
/// there or the DVC cache no longer holds a copy whose md5 matches.
pub fn file(batch: &mut Batch, commit: &str, path: &str) -> Result<Option<Vec<u8>>> {
    if !possible(batch.root()) {
        return Ok(None);
    }
    if batch.file(commit, ".dvc/config")?.is_none() && batch.file(commit, "dvc.lock")?.is_none() {
        // Not a DVC commit: nothing to look for (and nothing else is read).
        if batch.file(commit, &format!("{path}.dvc"))?.is_none() {
            return Ok(None);
        }
    }
    let Some(e) = entry(batch, commit, path)? else {
        return Ok(None);
    };
    let Some(md5) = e.md5.filter(|m| !m.ends_with(".dir")) else {
        return Ok(None);
    };
    let cache = cache_dir(batch, commit)?;
    for legacy in [e.legacy, !e.legacy] {
        let obj = cache.join(object_path(&md5, legacy));
        let Ok(meta) = std::fs::metadata(&obj) else {
            continue;
        };
        if !meta.is_file() || meta.len() > MAX_FILE {
            continue;
        }
        let bytes = fs_err::read(&obj)?;
        let mut check = Md5Check::new(e.legacy);
        check.update(&bytes);
        if check.finish().matches(&md5) {
            return Ok(Some(bytes));
        }
    }
    Ok(None)
}
