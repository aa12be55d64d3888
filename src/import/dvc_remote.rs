//! `git ml fetch --from-dvc-remote NAME`: the content that pointers need, read from the DVC
//! remote the project used before the import, so a team trying git-ml needs no second copy of
//! its data.
//!
//! `gitml-dvc.toml` says which DVC object (md5, and layout) each pointer's content was; objects
//! are read in DVC's layout (`files/md5/ab/cdef...`, or DVC 2's `ab/cdef...`) from the remote's
//! URL, checked against their md5 while they stream into the cache, and stored under their
//! BLAKE3 name only if that is the name the pointer expects. Directories are rebuilt from DVC's
//! `.dir` listing and must hash to the pointer's oid.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use rayon::prelude::*;

use super::dvc::MAP_FILE;
use crate::data::cache::Verified;
use crate::data::manifest::{Entry as MEntry, EntryKind, Manifest};
use crate::data::pointer::Kind;
use crate::dvc::files;
use crate::dvc::md5::Md5Check;
use crate::dvc::object_path;
use crate::error::{Error, Result};
use crate::oid::Oid;
use crate::progress::Progress;
use crate::remote::Transport;
use crate::remote::transfer::{Failure, Selection, TransferReport};
use crate::workspace::Workspace;

/// One pointer's DVC name, from `gitml-dvc.toml`.
#[derive(Debug, Clone)]
pub struct DvcName {
    pub oid: Oid,
    pub md5: String,
    pub legacy: bool,
    /// Files of a directory whose executable bit DVC's listing does not record.
    pub executable: Vec<String>,
}

/// Parse `gitml-dvc.toml`: data path -> DVC name.
pub fn parse_map(text: &str) -> Result<HashMap<String, DvcName>> {
    let bad = |m: String| Error::Config {
        file: MAP_FILE.into(),
        message: m,
    };
    let table: toml::Table = toml::from_str(text).map_err(|e| bad(e.to_string().trim().into()))?;
    let mut out = HashMap::new();
    let Some(paths) = table.get("paths").and_then(|p| p.as_table()) else {
        return Ok(out);
    };
    for (path, v) in paths {
        let get = |k: &str| v.get(k).and_then(|x| x.as_str());
        let oid = get("oid")
            .and_then(|o| o.parse::<Oid>().ok())
            .ok_or_else(|| bad(format!("`{path}`: `oid` is missing or not an oid")))?;
        let md5 = get("md5").ok_or_else(|| bad(format!("`{path}`: no `md5`")))?;
        let hex = md5.strip_suffix(".dir").unwrap_or(md5);
        if !crate::dvc::md5::is_md5(hex) {
            return Err(bad(format!("`{path}`: `{md5}` is not an md5")));
        }
        let executable = v
            .get("executable")
            .and_then(|e| e.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        out.insert(
            path.clone(),
            DvcName {
                oid,
                md5: md5.to_string(),
                legacy: get("layout") == Some("dvc2"),
                executable,
            },
        );
    }
    Ok(out)
}

/// The remote's settings, with the keys DVC keeps for it in `.dvc/config.local` (read in place,
/// never copied).
fn spec_with_dvc_keys(ws: &Workspace, name: &str) -> Result<crate::remote::RemoteSpec> {
    let mut spec = crate::remote::spec(&ws.config, name)?;
    let local = ws.root().join(".dvc/config.local");
    if let Ok(text) = std::fs::read_to_string(&local) {
        let cfg = crate::dvc::config::parse(&text, ".dvc/config.local")?;
        let key = |k: &str| cfg.remote_key(name, k).map(str::to_string);
        if spec.access_key_id.is_none() {
            spec.access_key_id = key("access_key_id");
        }
        if spec.secret_access_key.is_none() {
            spec.secret_access_key = key("secret_access_key");
        }
        if spec.session_token.is_none() {
            spec.session_token = key("session_token");
        }
        for s in [&spec.secret_access_key, &spec.session_token]
            .into_iter()
            .flatten()
        {
            crate::error::register_secret(s);
        }
    }
    Ok(spec)
}

struct Reader<'a> {
    ws: &'a Workspace,
    remote: &'a dyn Transport,
    progress: &'a dyn Progress,
}

impl Reader<'_> {
    /// Stream DVC object `md5` into the cache, checked; returns its oid and size. `expected`:
    /// the oid it must have (files); directories' files are named by what arrives.
    fn object(&self, md5: &str, legacy: bool, expected: Option<Oid>) -> Result<(Oid, u64)> {
        for layout in [legacy, !legacy] {
            let name = object_path(md5, layout);
            let mut writer = self.ws.cache.writer()?;
            let mut check = Md5Check::new(layout);
            let found = self.remote.read_raw(&name, &mut |chunk| {
                check.update(chunk);
                self.progress.advance(chunk.len() as u64);
                writer.write(chunk)
            })?;
            if !found {
                continue;
            }
            let digests = check.finish();
            if !digests.matches(md5) {
                return Err(Error::Other(format!(
                    "DVC remote `{}` sent `{name}` corrupted: its md5 is {}; it was not stored",
                    self.remote.name(),
                    digests.plain
                )));
            }
            return match expected {
                Some(oid) => match writer.finish(&oid)? {
                    Verified::Stored(n) => Ok((oid, n)),
                    Verified::Mismatch(actual) => Err(Error::Other(format!(
                        "DVC object {md5} hashes to {actual}, not to the pointer's {oid}: the pointer changed after the import"
                    ))),
                },
                None => writer.finish_computed(),
            };
        }
        Err(Error::Other(format!(
            "DVC object {md5} is not on remote `{}` (`{}`)",
            self.remote.name(),
            object_path(md5, legacy)
        )))
    }

    fn directory(&self, name: &DvcName, expected: Oid) -> Result<(u64, u64)> {
        let hex = name.md5.strip_suffix(".dir").unwrap_or(&name.md5);
        let mut listing = None;
        for layout in [name.legacy, !name.legacy] {
            let mut bytes = Vec::new();
            let found = self
                .remote
                .read_raw(&object_path(&name.md5, layout), &mut |c| {
                    if (bytes.len() + c.len()) as u64 > files::MAX_DIR_LISTING {
                        return Err(Error::Other(format!(
                            "the listing {} is larger than 1 GiB",
                            name.md5
                        )));
                    }
                    bytes.extend_from_slice(c);
                    Ok(())
                })?;
            if found {
                listing = Some(bytes);
                break;
            }
        }
        let bytes = listing.ok_or_else(|| {
            Error::Other(format!(
                "DVC listing {} is not on remote `{}`",
                name.md5,
                self.remote.name()
            ))
        })?;
        let actual = crate::dvc::md5::of(&bytes);
        if actual != hex {
            return Err(Error::Other(format!(
                "DVC remote `{}` sent listing {} corrupted: its md5 is {actual}; nothing was stored",
                self.remote.name(),
                name.md5
            )));
        }
        let entries = files::parse_dir(&bytes, &name.md5)?;
        let got: Vec<Result<MEntry>> = entries
            .par_iter()
            .map(|e| {
                let (oid, size) = self.object(&e.md5, name.legacy, None)?;
                Ok(MEntry {
                    path: e.relpath.clone(),
                    kind: EntryKind::File {
                        oid,
                        size,
                        executable: e.isexec || name.executable.contains(&e.relpath),
                    },
                })
            })
            .collect();
        let manifest = Manifest::new(got.into_iter().collect::<Result<Vec<_>>>()?);
        let objects = manifest.to_objects();
        if objects.root_oid != expected {
            return Err(Error::Other(format!(
                "the directory rebuilt from DVC listing {} hashes to {}, not to the pointer's {expected}: the pointer changed after the import",
                name.md5, objects.root_oid
            )));
        }
        for (_, b) in &objects.chunks {
            self.ws.cache.insert_bytes(b)?;
        }
        self.ws.cache.insert_bytes(&objects.root)?;
        Ok((manifest.files() + 1, manifest.size()))
    }
}

/// Whether the cache already holds everything `oid` (of kind `kind`) needs.
fn complete(ws: &Workspace, kind: Kind, oid: &Oid, path: &str) -> bool {
    match kind {
        Kind::File => ws.cache.contains(oid),
        Kind::Dir => crate::data::load_manifest(ws, *oid, path).is_ok_and(|m| {
            let oids: Vec<Oid> = m
                .entries
                .iter()
                .filter_map(|e| match e.kind {
                    EntryKind::File { oid, .. } => Some(oid),
                    _ => None,
                })
                .collect();
            ws.cache.count_missing(&oids) == 0
        }),
    }
}

/// Fetch what the selected pointers lack from DVC remote `name` (a remote of `gitml.toml`,
/// converted by the import, whose URL still holds DVC's objects).
pub fn fetch(
    ws: &Workspace,
    name: &str,
    selection: &Selection,
    jobs: usize,
    progress: &dyn Progress,
) -> Result<TransferReport> {
    let t0 = Instant::now();
    let map_text = std::fs::read_to_string(ws.root().join(MAP_FILE)).map_err(|_| {
        Error::Other(format!(
            "`{MAP_FILE}` is missing: only pointers written by `git ml import dvc` can be fetched from a DVC remote"
        ))
    })?;
    let map = parse_map(&map_text)?;
    let by_oid: HashMap<Oid, &DvcName> = map.values().map(|n| (n.oid, n)).collect();
    let targets = crate::remote::transfer::targets(ws, selection)?;
    let spec = spec_with_dvc_keys(ws, name)?;
    let remote = crate::remote::open(&spec, ws.root(), &ws.config)?;
    remote.check()?;
    let report = Mutex::new(TransferReport {
        remote: name.to_string(),
        ..Default::default()
    });
    let reader = Reader {
        ws,
        remote: remote.as_ref(),
        progress,
    };
    let total: u64 = targets.iter().map(|t| t.size).sum();
    progress.start("fetching from DVC", total);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(|e| Error::Other(format!("cannot start {jobs} transfer threads: {e}")))?;
    pool.install(|| {
        targets.par_iter().for_each(|t| {
            if complete(ws, t.kind, &t.oid, &t.path) {
                report.lock().expect("report").skipped += 1;
                return;
            }
            let named = map.get(&t.path).filter(|n| n.oid == t.oid).or_else(|| by_oid.get(&t.oid).copied());
            let Some(n) = named else {
                report.lock().expect("report").missing.push(Failure {
                    oid: t.oid,
                    path: t.path.clone(),
                    error: format!("not imported from DVC (no entry with this oid in `{MAP_FILE}`): it was added after the import; fetch it from a git-ml remote"),
                    outage: None,
                });
                return;
            };
            let result = match t.kind {
                Kind::File => reader.object(n.md5.as_str(), n.legacy, Some(t.oid)).map(|(_, s)| (1, s)),
                Kind::Dir => reader.directory(n, t.oid),
            };
            let mut r = report.lock().expect("report");
            match result {
                Ok((objects, bytes)) => {
                    r.transferred += objects;
                    r.bytes += bytes;
                }
                Err(e) => r.failed.push(Failure::of(t.oid, &t.path, e)),
            }
        })
    });
    progress.finish();
    let mut report = report.into_inner().expect("report");
    report.seconds = t0.elapsed().as_secs_f64();
    Ok(report)
}
