//! Push, fetch and "what is not pushed yet": planning which objects move, then moving them in
//! parallel.
//!
//! Push order keeps the remote invariant (see the module above): all file objects first, then a
//! directory's manifest chunks (each only once every file it lists is on the remote), then its root
//! (only once every chunk is). So asking the remote for a directory's root, then for the chunks of
//! a missing root, prunes the work: a 100,000-file directory with one changed file costs a handful
//! of requests plus that file. Objects already on the remote are never sent again, which is also
//! what makes an interrupted push resumable. Fetch goes the other way — roots, chunks, files —
//! and every object is verified by hash before it enters the cache.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;

use super::Transport;
use crate::data::manifest::{EntryKind, Manifest};
use crate::data::pointer::{Kind, Pointer};
use crate::error::{Error, Result};
use crate::oid::Oid;
use crate::progress::Progress;
use crate::workspace::Workspace;

/// One tracked path and the object its pointer names.
#[derive(Debug, Clone)]
pub struct Target {
    pub path: String,
    pub kind: Kind,
    pub oid: Oid,
    pub size: u64,
}

impl Target {
    fn new(path: String, p: &Pointer) -> Target {
        Target {
            path,
            kind: p.kind,
            oid: p.oid,
            size: p.size,
        }
    }
}

/// Which pointers a transfer is about.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Data or pointer paths as the user typed them (relative to the current directory).
    pub paths: Vec<PathBuf>,
    /// Revisions whose committed pointers to use instead of the work tree's.
    pub revs: Vec<String>,
    pub all_branches: bool,
    pub all_tags: bool,
}

impl Selection {
    pub fn uses_revisions(&self) -> bool {
        !self.revs.is_empty() || self.all_branches || self.all_tags
    }
}

/// The targets a selection names: the work tree's pointers, or those committed at revisions.
pub fn targets(ws: &Workspace, sel: &Selection) -> Result<Vec<Target>> {
    if !sel.uses_revisions() {
        let tracked = ws.select_tracked(&sel.paths)?;
        return tracked
            .iter()
            .map(|t| Ok(Target::new(t.path.clone(), &ws.read_pointer(t)?)))
            .collect();
    }
    let root = ws.root();
    let mut commits = Vec::new();
    for rev in &sel.revs {
        commits.push(crate::git::resolve_commit(root, rev)?);
    }
    let mut prefixes = Vec::new();
    if sel.all_branches {
        prefixes.push("refs/heads");
    }
    if sel.all_tags {
        prefixes.push("refs/tags");
    }
    if !prefixes.is_empty() {
        commits.extend(crate::git::ref_tips(root, &prefixes)?);
    }
    commits.sort();
    commits.dedup();
    let paths = sel
        .paths
        .iter()
        .map(|p| {
            let rel = ws.repo.relativize(&ws.cwd, p)?;
            Ok(crate::data::pointer::data_path(&rel)
                .map(str::to_string)
                .unwrap_or(rel))
        })
        .collect::<Result<Vec<_>>>()?;
    let found = crate::git::pointers_at(root, &commits, &paths)?;
    if found.is_empty() && !paths.is_empty() {
        return Err(Error::NotTracked(paths.join(", ")));
    }
    Ok(found
        .into_iter()
        .map(|c| Target::new(c.path, &c.pointer))
        .collect())
}

/// Run `f` over `items` on `jobs` threads; results in input order.
pub(crate) fn parallel<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= items.len() {
                        break;
                    }
                    let r = f(&items[i]);
                    *results[i].lock().expect("result slot") = Some(r);
                }
            });
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .expect("result slot")
                .expect("every item ran")
        })
        .collect()
}

/// Once the remote stops answering, the remaining transfers are not attempted: each would wait
/// out its own retries (seconds apiece) only to fail the same way.
pub(crate) struct Breaker(std::sync::atomic::AtomicBool);

impl Breaker {
    pub(crate) fn new() -> Breaker {
        Breaker(std::sync::atomic::AtomicBool::new(false))
    }

    pub(crate) fn run<T>(&self, op: impl FnOnce() -> Result<T>) -> Result<T> {
        if self.0.load(Ordering::Relaxed) {
            return Err(Error::Other(
                "not attempted: the remote stopped answering".into(),
            ));
        }
        let r = op();
        if let Err(Error::Remote {
            kind: crate::error::RemoteErrorKind::Unreachable,
            ..
        }) = &r
        {
            self.0.store(true, Ordering::Relaxed);
        }
        r
    }
}

/// Which of `oids` the remote lacks. Lists the remote once when that is fewer requests than
/// asking per object.
fn remote_missing(remote: &dyn Transport, oids: &[Oid], jobs: usize) -> Result<HashSet<Oid>> {
    if oids.is_empty() {
        return Ok(HashSet::new());
    }
    if remote.prefers_listing() && oids.len() > 1000 {
        let have: HashSet<Oid> = remote.list()?.into_iter().map(|o| o.oid).collect();
        return Ok(oids.iter().filter(|o| !have.contains(o)).copied().collect());
    }
    let answers = parallel(oids, jobs, |o| remote.has(o));
    let mut missing = HashSet::new();
    for (oid, has) in oids.iter().zip(answers) {
        if !has? {
            missing.insert(*oid);
        }
    }
    Ok(missing)
}

/// A directory's manifest as the transfer needs it: chunks and, per chunk, its file objects.
struct DirObjects {
    root: Oid,
    chunks: Vec<(Oid, Vec<(Oid, u64)>)>,
}

fn dir_objects(ws: &Workspace, root: Oid, path: &str) -> Result<DirObjects> {
    let root_bytes = ws.cache.read_verified(&root).map_err(|e| {
        if ws.cache.contains(&root) {
            e
        } else {
            Error::ObjectMissing {
                oid: root,
                path: path.to_string(),
            }
        }
    })?;
    let refs = Manifest::chunk_refs(root, &root_bytes)?;
    let manifest = crate::data::load_manifest(ws, root, path)?;
    // Entries come out in chunk order; each chunk ref says how many it holds.
    let mut entries = manifest.entries.into_iter();
    let mut chunks = Vec::new();
    for r in refs {
        let files = entries
            .by_ref()
            .take(r.entries as usize)
            .filter_map(|e| match e.kind {
                EntryKind::File { oid, size, .. } => Some((oid, size)),
                _ => None,
            })
            .collect();
        chunks.push((r.oid, files));
    }
    Ok(DirObjects { root, chunks })
}

/// One object that could not be moved, and why.
#[derive(Debug, Serialize)]
pub struct Failure {
    pub oid: Oid,
    /// A tracked path that needs it.
    pub path: String,
    pub error: String,
    /// The remote-wide error behind it (unreachable, stalled, credentials refused, no bucket),
    /// when that is what it was: every other object then fails the same way, and the command
    /// says so once ([`TransferReport::outage`]).
    #[serde(skip)]
    pub outage: Option<Error>,
}

impl Failure {
    pub(crate) fn of(oid: Oid, path: &str, e: Error) -> Failure {
        use crate::error::RemoteErrorKind as K;
        let remote_wide = matches!(
            &e,
            Error::Remote {
                kind: K::Unreachable | K::Denied | K::NoCredentials | K::NoSuchStore,
                ..
            }
        );
        Failure {
            oid,
            path: path.to_string(),
            error: crate::error::redact(&e.to_string()),
            outage: remote_wide.then_some(e),
        }
    }
}

#[derive(Debug, Default, Serialize)]
pub struct TransferReport {
    pub remote: String,
    /// Objects sent or received, and their bytes.
    pub transferred: u64,
    pub bytes: u64,
    /// Objects that were already where they had to go.
    pub skipped: u64,
    /// Objects a pointer needs that are in neither place (push: not in the local cache).
    pub missing: Vec<Failure>,
    /// `push --verify`: objects the remote held damaged and that were replaced (also counted
    /// in `transferred`).
    pub repaired: u64,
    /// A push that created the remote's directory: where.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    pub failed: Vec<Failure>,
    pub seconds: f64,
}

impl TransferReport {
    pub fn ok(&self) -> bool {
        self.missing.is_empty() && self.failed.is_empty()
    }
}

/// The objects a push would send, in dependency layers.
struct PushPlan {
    files: Vec<(Oid, u64, String)>,
    /// chunk -> (size, its files, a path for messages)
    chunks: Vec<(Oid, Vec<Oid>, String)>,
    /// root -> its chunks
    roots: Vec<(Oid, Vec<Oid>, String)>,
    missing_local: Vec<Failure>,
    skipped: u64,
    /// Objects the remote has (what `--verify` re-hashes), with a path for messages.
    present: Vec<(Oid, String)>,
}

/// Plan a push. Every object the selected pointers need is asked about — roots, chunks and every
/// file — even below a root the remote has: a remote that lost an object (deleted by hand, a
/// broken disk) is repaired by the next push instead of being trusted because its root is there.
/// One question covers all of them, so an object store is listed at most once.
fn plan_push(
    ws: &Workspace,
    remote: &dyn Transport,
    targets: &[Target],
    jobs: usize,
) -> Result<PushPlan> {
    let mut plan = PushPlan {
        files: Vec::new(),
        chunks: Vec::new(),
        roots: Vec::new(),
        missing_local: Vec::new(),
        skipped: 0,
        present: Vec::new(),
    };
    let mut seen: HashSet<Oid> = HashSet::new();
    let mut dir_objs = Vec::new();
    // Roots whose manifest this cache lacks: only the remote can say whether they are complete.
    let mut unknown_roots: Vec<(Oid, String)> = Vec::new();
    for t in targets.iter().filter(|t| t.kind == Kind::Dir) {
        if !seen.insert(t.oid) {
            continue;
        }
        match dir_objects(ws, t.oid, &t.path) {
            Ok(d) => dir_objs.push((t.path.clone(), d)),
            Err(Error::ObjectMissing { .. }) => unknown_roots.push((t.oid, t.path.clone())),
            Err(e) => return Err(e),
        }
    }
    // Every object, with the first path that needs it.
    let mut asked: Vec<(Oid, String)> = Vec::new();
    let mut asked_seen: HashSet<Oid> = HashSet::new();
    let mut ask = |oid: Oid, path: &str| {
        if asked_seen.insert(oid) {
            asked.push((oid, path.to_string()));
        }
    };
    for (oid, path) in &unknown_roots {
        ask(*oid, path);
    }
    let mut file_sizes: HashMap<Oid, u64> = HashMap::new();
    for (path, d) in &dir_objs {
        ask(d.root, path);
        for (chunk, files) in &d.chunks {
            ask(*chunk, path);
            for (oid, size) in files {
                ask(*oid, path);
                file_sizes.insert(*oid, *size);
            }
        }
    }
    for t in targets.iter().filter(|t| t.kind == Kind::File) {
        ask(t.oid, &t.path);
        file_sizes.insert(t.oid, t.size);
    }
    let oids: Vec<Oid> = asked.iter().map(|a| a.0).collect();
    let missing = remote_missing(remote, &oids, jobs)?;
    for (oid, path) in &asked {
        if !missing.contains(oid) {
            plan.skipped += 1;
            plan.present.push((*oid, path.clone()));
        }
    }
    for (oid, path) in &unknown_roots {
        if missing.contains(oid) {
            plan.missing_local.push(Failure {
                oid: *oid,
                path: path.clone(),
                error: "not in the local cache".into(),
                outage: None,
            });
        }
    }
    let mut layered: HashSet<Oid> = HashSet::new();
    for (path, d) in &dir_objs {
        for (chunk, files) in &d.chunks {
            if missing.contains(chunk) && layered.insert(*chunk) {
                plan.chunks
                    .push((*chunk, files.iter().map(|f| f.0).collect(), path.clone()));
            }
        }
        if missing.contains(&d.root) && layered.insert(d.root) {
            plan.roots
                .push((d.root, d.chunks.iter().map(|c| c.0).collect(), path.clone()));
        }
    }
    let wanted: Vec<(Oid, u64, String)> = asked
        .iter()
        .filter(|(oid, _)| missing.contains(oid) && file_sizes.contains_key(oid))
        .filter(|(oid, _)| !layered.contains(oid))
        .map(|(oid, path)| (*oid, file_sizes[oid], path.clone()))
        .collect();
    let want_oids: Vec<Oid> = wanted.iter().map(|f| f.0).collect();
    let local_missing = ws.cache.missing_mask(&want_oids);
    for (f, missing) in wanted.into_iter().zip(local_missing) {
        if missing {
            plan.missing_local.push(Failure {
                oid: f.0,
                path: f.2,
                error: "not in the local cache".into(),
                outage: None,
            });
        } else {
            plan.files.push(f);
        }
    }
    Ok(plan)
}

/// Send what the remote lacks for `targets`.
pub fn push(
    ws: &Workspace,
    remote: &dyn Transport,
    targets: &[Target],
    jobs: usize,
    progress: &dyn Progress,
) -> Result<TransferReport> {
    push_with(ws, remote, targets, jobs, false, progress)
}

/// [`push`], and with `verify`, re-hash every object the remote already has and replace those
/// that are damaged (from a verified local copy).
pub fn push_with(
    ws: &Workspace,
    remote: &dyn Transport,
    targets: &[Target],
    jobs: usize,
    verify: bool,
    progress: &dyn Progress,
) -> Result<TransferReport> {
    let started = std::time::Instant::now();
    if !remote.writable() {
        return Err(Error::Remote {
            remote: remote.name().into(),
            url: remote.url(),
            message: "this remote is read-only".into(),
            kind: crate::error::RemoteErrorKind::ReadOnly,
        });
    }
    let created = remote.create_for_push()?;
    remote.check()?;
    let plan = plan_push(ws, remote, targets, jobs)?;
    tracing::info!(
        "push to `{}`: {} files, {} chunks, {} roots to send; {} present; {} not in the cache",
        remote.name(),
        plan.files.len(),
        plan.chunks.len(),
        plan.roots.len(),
        plan.skipped,
        plan.missing_local.len()
    );
    let mut report = TransferReport {
        remote: remote.name().to_string(),
        skipped: plan.skipped,
        missing: plan.missing_local,
        created: created.then(|| remote.url()),
        ..Default::default()
    };
    let size_of = |oid: &Oid| {
        std::fs::metadata(ws.cache.object_path(oid))
            .map(|m| m.len())
            .unwrap_or(0)
    };
    let chunk_sizes: Vec<u64> = plan.chunks.iter().map(|c| size_of(&c.0)).collect();
    let root_sizes: Vec<u64> = plan.roots.iter().map(|r| size_of(&r.0)).collect();
    let total: u64 = plan.files.iter().map(|f| f.1).sum::<u64>()
        + chunk_sizes.iter().sum::<u64>()
        + root_sizes.iter().sum::<u64>();
    progress.start("pushing", total);
    let objects = (plan.files.len() + plan.chunks.len() + plan.roots.len()) as u64;
    let done = std::sync::atomic::AtomicU64::new(0);
    progress.items(0, objects);
    let breaker = Breaker::new();
    let send = |oid: &Oid, size: u64| {
        let r = breaker.run(|| {
            remote.put(oid, &ws.cache.object_path(oid), size, &|n| {
                progress.advance(n)
            })
        });
        progress.items(done.fetch_add(1, Ordering::Relaxed) + 1, objects);
        r
    };
    // Send one layer; record each outcome; return the oids that failed.
    let layer = |items: &[(Oid, u64, String)], report: &mut TransferReport| -> HashSet<Oid> {
        let results = parallel(items, jobs, |(oid, size, _)| send(oid, *size));
        let mut failed = HashSet::new();
        for ((oid, size, path), r) in items.iter().zip(results) {
            match r {
                Ok(()) => {
                    report.transferred += 1;
                    report.bytes += size;
                }
                Err(e) => {
                    failed.insert(*oid);
                    report.failed.push(Failure::of(*oid, path, e));
                }
            }
        }
        failed
    };
    // Layer 1: files.
    let failed = layer(&plan.files, &mut report);
    let blocked: HashSet<Oid> = report.missing.iter().map(|f| f.oid).collect();
    let ok = |o: &Oid| !failed.contains(o) && !blocked.contains(o);
    // Layer 2: chunks whose files all made it.
    let ready: Vec<(Oid, u64, String)> = plan
        .chunks
        .iter()
        .zip(&chunk_sizes)
        .filter(|((_, files, _), _)| files.iter().all(ok))
        .map(|((c, _, p), s)| (*c, *s, p.clone()))
        .collect();
    let mut chunk_failed: HashSet<Oid> = plan
        .chunks
        .iter()
        .filter(|(_, files, _)| !files.iter().all(ok))
        .map(|c| c.0)
        .collect();
    chunk_failed.extend(layer(&ready, &mut report));
    // Layer 3: roots whose chunks all made it.
    let ready: Vec<(Oid, u64, String)> = plan
        .roots
        .iter()
        .zip(&root_sizes)
        .filter(|((_, chunks, _), _)| chunks.iter().all(|c| !chunk_failed.contains(c)))
        .map(|((r, _, p), s)| (*r, *s, p.clone()))
        .collect();
    layer(&ready, &mut report);
    progress.finish();
    if verify {
        repair(ws, remote, &plan.present, jobs, &breaker, &mut report);
    }
    remote.after_push();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Re-hash what the remote holds; replace damaged objects from the (verified) local cache.
fn repair(
    ws: &Workspace,
    remote: &dyn Transport,
    present: &[(Oid, String)],
    jobs: usize,
    breaker: &Breaker,
    report: &mut TransferReport,
) {
    let results = parallel(present, jobs, |(oid, _)| {
        breaker.run(|| {
            if remote.hash_of(oid)? == Some(*oid) {
                return Ok(None);
            }
            if !ws.cache.contains(oid) {
                return Err(Error::ObjectMissing {
                    oid: *oid,
                    path: String::new(),
                });
            }
            let path = ws.cache.object_path(oid);
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            remote.replace(oid, &path, size, &|_| {})?;
            Ok(Some(size))
        })
    });
    for ((oid, path), r) in present.iter().zip(results) {
        match r {
            Ok(None) => {}
            Ok(Some(size)) => {
                report.repaired += 1;
                report.transferred += 1;
                report.bytes += size;
                report.skipped = report.skipped.saturating_sub(1);
            }
            Err(Error::ObjectMissing { .. }) => report.failed.push(Failure {
                oid: *oid,
                path: path.clone(),
                error: "damaged on the remote, and not in the local cache to repair it".into(),
                outage: None,
            }),
            Err(e) => report.failed.push(Failure::of(*oid, path, e)),
        }
    }
}

/// Download what the local cache lacks for `targets`.
pub fn fetch(
    ws: &Workspace,
    remote: &dyn Transport,
    targets: &[Target],
    jobs: usize,
    progress: &dyn Progress,
) -> Result<TransferReport> {
    let started = std::time::Instant::now();
    let mut report = TransferReport {
        remote: remote.name().to_string(),
        ..Default::default()
    };
    let mut checked = false;
    let total: u64 = targets.iter().map(|t| t.size).sum();
    progress.start("fetching", total);
    // Round 1: roots and plain files; round 2: chunks of the roots; round 3: files of the
    // directories. Each round downloads only what the cache lacks.
    let mut wanted: Vec<(Oid, String)> = targets.iter().map(|t| (t.oid, t.path.clone())).collect();
    let dirs: Vec<&Target> = targets.iter().filter(|t| t.kind == Kind::Dir).collect();
    let mut round = 0;
    let mut dir_failed: HashSet<String> = HashSet::new();
    let breaker = Breaker::new();
    let mut queued = 0u64;
    loop {
        let mut seen = HashSet::new();
        wanted.retain(|(o, _)| seen.insert(*o));
        let oids: Vec<Oid> = wanted.iter().map(|w| w.0).collect();
        let mask = ws.cache.missing_mask(&oids);
        let todo: Vec<(Oid, String)> = wanted
            .iter()
            .zip(mask)
            .filter(|(_, m)| *m)
            .map(|(w, _)| w.clone())
            .collect();
        report.skipped += (wanted.len() - todo.len()) as u64;
        if !todo.is_empty() && !checked {
            remote.check()?;
            checked = true;
        }
        queued += todo.len() as u64;
        progress.items(report.transferred, queued);
        let done = std::sync::atomic::AtomicU64::new(report.transferred);
        let results = parallel(&todo, jobs, |(oid, _)| {
            let r = breaker.run(|| remote.get(oid, &ws.cache, &|n| progress.advance(n)));
            progress.items(done.fetch_add(1, Ordering::Relaxed) + 1, queued);
            r
        });
        for ((oid, path), r) in todo.iter().zip(results) {
            match r {
                Ok(n) => {
                    report.transferred += 1;
                    report.bytes += n;
                }
                Err(e) => {
                    dir_failed.insert(path.clone());
                    let missing = matches!(
                        e,
                        Error::Remote {
                            kind: crate::error::RemoteErrorKind::MissingObject,
                            ..
                        }
                    );
                    let f = Failure::of(*oid, path, e);
                    if missing {
                        report.missing.push(f);
                    } else {
                        report.failed.push(f);
                    }
                }
            }
        }
        round += 1;
        if round == 3 {
            break;
        }
        wanted = Vec::new();
        for t in &dirs {
            if dir_failed.contains(&t.path) {
                continue;
            }
            if round == 1 {
                let root = ws.cache.read_verified(&t.oid)?;
                for c in Manifest::chunk_refs(t.oid, &root)? {
                    wanted.push((c.oid, t.path.clone()));
                }
            } else {
                let m = crate::data::load_manifest(ws, t.oid, &t.path)?;
                for e in m.entries {
                    if let EntryKind::File { oid, .. } = e.kind {
                        wanted.push((oid, t.path.clone()));
                    }
                }
            }
        }
    }
    progress.finish();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// A tracked path with objects the remote lacks.
#[derive(Debug, Serialize)]
pub struct Unpushed {
    pub path: String,
    pub objects: u64,
    pub bytes: u64,
    /// Objects not in the local cache either (they cannot be pushed from here).
    pub not_in_cache: u64,
}

/// What `push` would send, per tracked path.
pub fn unpushed(
    ws: &Workspace,
    remote: &dyn Transport,
    targets: &[Target],
    jobs: usize,
) -> Result<Vec<Unpushed>> {
    remote.check()?;
    let plan = plan_push(ws, remote, targets, jobs)?;
    let mut by_path: HashMap<String, Unpushed> = HashMap::new();
    fn entry<'a>(map: &'a mut HashMap<String, Unpushed>, path: &str) -> &'a mut Unpushed {
        map.entry(path.to_string()).or_insert_with(|| Unpushed {
            path: path.to_string(),
            objects: 0,
            bytes: 0,
            not_in_cache: 0,
        })
    }
    for (_, size, path) in &plan.files {
        let e = entry(&mut by_path, path);
        e.objects += 1;
        e.bytes += size;
    }
    for (_, _, path) in plan.chunks.iter().chain(&plan.roots) {
        entry(&mut by_path, path).objects += 1;
    }
    for f in &plan.missing_local {
        entry(&mut by_path, &f.path).not_in_cache += 1;
    }
    let mut out: Vec<Unpushed> = by_path.into_values().collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}
