//! `git ml run`: bring stages up to date, in dependency order, independent ones in parallel.
//!
//! For each stage, once everything upstream has finished: compare cmd, dep digests, param values
//! and output digests with its `gitml.lock` entry. Unchanged: skipped. Changed, but this exact
//! input (cmd, deps, params) was run before: its outputs are restored from the run cache. Else the
//! command runs (`sh -c`, in its own process group, output prefixed with the stage name); on
//! success its outputs are stored like `git ml add`, and the lock and run cache are written. A
//! failure leaves the stage's lock entry as it was and caches nothing.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use serde::Serialize;

use super::dag::Dag;
use super::hash::Digester;
use super::lockfile::{Entry, LockFile};
use super::{Stage, default_params_file, runcache};
use crate::data::pointer::{Pointer, pointer_path};
use crate::error::{Error, Result};
use crate::oid::Oid;
use crate::progress::Silent;
use crate::workspace::Workspace;

#[derive(Clone, Default)]
pub struct RunOptions<'a> {
    pub stages: Vec<String>,
    /// Ask this remote for run-cache entries the local cache lacks (`--pull-run-cache`).
    pub remote: Option<&'a dyn crate::remote::Transport>,
    pub force: bool,
    pub dry_run: bool,
    pub jobs: usize,
    pub keep_going: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Up to date: nothing ran.
    Skipped,
    /// Ran its command successfully.
    Ran,
    /// Outputs restored from the run cache.
    Restored,
    /// `--dry-run`: would run.
    WouldRun,
    Failed,
    /// Not attempted because something upstream failed.
    NotRun,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageResult {
    pub stage: String,
    pub outcome: Outcome,
    /// Why it was stale (empty when skipped).
    pub reasons: Vec<String>,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Load and check the pipeline.
pub fn load(ws: &Workspace) -> Result<Dag> {
    let text =
        std::fs::read_to_string(ws.root().join(crate::config::PROJECT_FILE)).unwrap_or_default();
    Dag::new(super::stages(&ws.config.project, &text)?, ws.root())
}

/// The param values a stage depends on, by label, from the working tree.
fn param_values(ws: &Workspace, stage: &Stage) -> Result<BTreeMap<String, String>> {
    param_values_from(
        &ws.config.project,
        stage,
        &mut |file| match std::fs::read_to_string(ws.abs(file)) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Other(format!("{}: param file: {e}", stage.origin()))),
        },
    )
}

/// The param values a stage depends on, by label, reading params files through `read` (the
/// working tree, or a revision). `project` is the `gitml.toml` that names the default file.
pub fn param_values_from(
    project: &toml::Table,
    stage: &Stage,
    read: &mut dyn FnMut(&str) -> Result<Option<String>>,
) -> Result<BTreeMap<String, String>> {
    let default = default_params_file(project);
    let mut files: HashMap<String, crate::record::files::Values> = HashMap::new();
    let mut out = BTreeMap::new();
    for p in &stage.params {
        if !files.contains_key(&p.file) {
            let text = read(&p.file)?.ok_or_else(|| {
                Error::Other(format!(
                    "{}: param file `{}` does not exist",
                    stage.origin(),
                    p.file
                ))
            })?;
            files.insert(p.file.clone(), crate::record::files::parse(&text, &p.file)?);
        }
        let values = &files[&p.file];
        // A key names a value, or a whole table of them (`train` covers `train.lr`): each leaf is
        // compared on its own, so a change says which value changed.
        // An empty key (`file.yaml:`) names every value of the file.
        let prefix = format!("{}.", p.key);
        let mut any = false;
        for (k, v) in values
            .iter()
            .filter(|(k, _)| p.key.is_empty() || **k == p.key || k.starts_with(&prefix))
        {
            any = true;
            let leaf = crate::pipeline::ParamRef {
                file: p.file.clone(),
                key: k.clone(),
            };
            out.insert(leaf.label(&default), v.to_string());
        }
        if !any && !p.key.is_empty() {
            return Err(Error::Other(format!(
                "{}: param `{}` is not in `{}`",
                stage.origin(),
                p.key,
                p.file
            )));
        }
    }
    Ok(out)
}

/// The lock entry `stage` would get if it ran now and left the work tree as it is: cmd, the
/// digests of its deps and outputs, its param values. `git ml import` writes this for a stage
/// another tool found up to date; it is computed exactly as `run` computes staleness. `None` when
/// a dep or an output does not exist.
pub fn current_entry(ws: &Workspace, stage: &Stage, digester: &Digester) -> Result<Option<Entry>> {
    let deps = digester.digests(ws, &stage.deps)?;
    let outs = digester.digests(ws, &stage.outs)?;
    let present = |m: &BTreeMap<String, Option<Oid>>| -> Option<BTreeMap<String, String>> {
        m.iter()
            .map(|(p, o)| o.map(|o| (p.clone(), o.to_string())))
            .collect()
    };
    let (Some(deps), Some(outs)) = (present(&deps), present(&outs)) else {
        return Ok(None);
    };
    Ok(Some(Entry {
        cmd: stage.cmd.clone(),
        deps,
        params: param_values(ws, stage)?,
        outs,
    }))
}

/// Why `stage` must run (empty: it is up to date), given the current inputs.
fn staleness(
    stage: &Stage,
    lock: Option<&Entry>,
    deps: &BTreeMap<String, Option<Oid>>,
    params: &BTreeMap<String, String>,
    outs: &BTreeMap<String, Option<Oid>>,
) -> Vec<String> {
    let Some(lock) = lock else {
        return vec!["never run".into()];
    };
    let mut why = Vec::new();
    if stage.always_run {
        why.push("always_run".into());
    }
    if lock.cmd != stage.cmd {
        why.push("cmd changed".into());
    }
    for (d, oid) in deps {
        match (oid, lock.deps.get(d)) {
            (None, _) => why.push(format!("dep `{d}` is missing")),
            (Some(o), Some(l)) if o.to_string() == *l => {}
            _ => why.push(format!("dep `{d}` changed")),
        }
    }
    for d in lock.deps.keys() {
        if !deps.contains_key(d) {
            why.push(format!("dep `{d}` removed"));
        }
    }
    for (k, v) in params {
        if lock.params.get(k) != Some(v) {
            why.push(format!("param `{k}` changed"));
        }
    }
    // A key gone from a whole params file (`file.yaml:`), or no longer named by the stage.
    for k in lock.params.keys() {
        if !params.contains_key(k) {
            why.push(format!("param `{k}` removed"));
        }
    }
    for (o, oid) in outs {
        match (oid, lock.outs.get(o)) {
            (None, _) => why.push(format!("out `{o}` is missing")),
            (Some(x), Some(l)) if x.to_string() == *l => {}
            _ => why.push(format!("out `{o}` differs from the lock")),
        }
    }
    why
}

/// The run-cache key: what determines a stage's outputs.
fn cache_key(
    stage: &Stage,
    deps: &BTreeMap<String, Option<Oid>>,
    params: &BTreeMap<String, String>,
) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"gitml-run-cache-v1\0");
    h.update(stage.cmd.as_bytes());
    h.update(b"\0");
    if let Some(w) = &stage.wdir {
        h.update(w.as_bytes());
    }
    for (k, v) in &stage.env {
        h.update(format!("\0env {k}={v}").as_bytes());
    }
    for (d, o) in deps {
        h.update(format!("\0dep {d}={}", o.map(|o| o.to_string()).unwrap_or_default()).as_bytes());
    }
    for (k, v) in params {
        h.update(format!("\0param {k}={v}").as_bytes());
    }
    h.finalize().to_hex().to_string()
}

/// Restore outputs from the run cache (asking `remote` when the local cache has no entry);
/// false when there is no usable entry.
fn restore(
    ws: &Workspace,
    stage: &Stage,
    key: &str,
    remote: Option<&(dyn crate::remote::Transport + '_)>,
    jobs: usize,
) -> Result<bool> {
    if runcache::read_local(ws, key).is_none()
        && let Some(r) = remote
        && !runcache::pull(ws, r, key, jobs)?
    {
        return Ok(false);
    }
    let Some(entry) = runcache::read_local(ws, key) else {
        return Ok(false);
    };
    let mut pointers = Vec::new();
    for o in &stage.outs {
        let Some(t) = entry.outs.get(o) else {
            return Ok(false);
        };
        let p = Pointer::parse(t, &format!("run cache entry {key}"))?;
        if !ws.cache.contains(&p.oid) {
            return Ok(false);
        }
        pointers.push((o.clone(), p));
    }
    for (o, p) in &pointers {
        crate::fsutil::atomic_write(&ws.abs(&pointer_path(o)), p.to_toml().as_bytes(), 0o644)?;
        crate::data::gitignore::ensure(ws.root(), o)?;
    }
    let tracked: Vec<crate::workspace::Tracked> = stage
        .outs
        .iter()
        .map(|o| crate::workspace::Tracked {
            path: o.clone(),
            pointer: pointer_path(o),
        })
        .collect();
    let opts = crate::data::checkout::CheckoutOptions {
        // The outputs are the stage's to replace: the lock says they are stale.
        force: true,
        modes: ws.config.link.clone(),
    };
    crate::data::checkout::checkout(ws, &tracked, &opts, &Silent)?;
    Ok(true)
}

/// Remove a stage's outputs before its command runs, as DVC does: the command then starts from
/// nothing, and cannot write through a hard link or symlink into a cache object (which would
/// corrupt the cache, and anything sharing the object). Only outputs whose content the cache
/// holds are removed (a link is always removed: it is not data); anything else stays, so no
/// unsaved work is lost.
fn clear_outputs(ws: &Workspace, stage: &Stage, now: &BTreeMap<String, Option<Oid>>) -> Result<()> {
    for o in &stage.outs {
        let abs = ws.abs(o);
        let Ok(meta) = std::fs::symlink_metadata(&abs) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            fs_err::remove_file(&abs)?;
            continue;
        }
        let Some(Some(oid)) = now.get(o) else {
            continue;
        };
        let recoverable = if meta.is_dir() {
            crate::data::load_manifest(ws, *oid, o).is_ok_and(|m| {
                let files: Vec<Oid> = m
                    .entries
                    .iter()
                    .filter_map(|e| match e.kind {
                        crate::data::manifest::EntryKind::File { oid, .. } => Some(oid),
                        _ => None,
                    })
                    .collect();
                ws.cache.count_missing(&files) == 0
            })
        } else {
            ws.cache.contains(oid)
        };
        if !recoverable {
            tracing::info!(
                "stage `{}`: `{o}` is not in the cache; left in place",
                stage.name
            );
            continue;
        }
        if meta.is_dir() {
            fs_err::remove_dir_all(&abs)?;
        } else {
            fs_err::remove_file(&abs)?;
        }
    }
    Ok(())
}

/// Process groups of running stages, so a Ctrl-C or SIGTERM can stop each stage and everything
/// it started.
#[derive(Default)]
pub struct Running {
    groups: Mutex<Vec<u32>>,
    interrupted: std::sync::atomic::AtomicBool,
}

impl Running {
    /// Stop every running stage: SIGTERM to its process group, SIGKILL 5 s later if still there.
    /// Uses `kill(1)`, so git-ml itself needs no unsafe code.
    fn stop_all(&self) {
        self.interrupted
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let groups = self.groups.lock().expect("groups").clone();
        let signal = |sig: &str, pg: u32| {
            let _ = Command::new("kill")
                .args([sig, "--", &format!("-{pg}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        };
        for pg in &groups {
            signal("-TERM", *pg);
        }
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.groups.lock().expect("groups").is_empty() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        for pg in self.groups.lock().expect("groups").iter() {
            signal("-KILL", *pg);
        }
    }

    pub fn interrupted(&self) -> bool {
        self.interrupted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Run one stage's command, streaming its output with a prefix.
fn execute(
    ws: &Workspace,
    stage: &Stage,
    out: &(dyn Fn(&str, &str) + Sync),
    running: &Running,
) -> Result<()> {
    let dir = match &stage.wdir {
        Some(w) => {
            // Checked now, not by the shell: a missing directory or a symlink out of the
            // repository must not get as far as running the command.
            let dir = ws.abs(w);
            match std::fs::canonicalize(&dir) {
                Ok(real) if real.starts_with(ws.root()) && real.is_dir() => real,
                Ok(real) if !real.starts_with(ws.root()) => {
                    return Err(Error::Other(format!(
                        "{}: `wdir = \"{w}\"` leads outside the repository (to `{}`); not run",
                        stage.origin(),
                        real.display()
                    )));
                }
                _ => {
                    return Err(Error::Other(format!(
                        "{}: `wdir = \"{w}\"` is not a directory; create it or fix `wdir`",
                        stage.origin()
                    )));
                }
            }
        }
        None => ws.root().to_path_buf(),
    };
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(&stage.cmd)
        .current_dir(&dir)
        .envs(&stage.env)
        .env("GITML_STAGE", &stage.name)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own process group, so that stopping the stage stops everything it started.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    if running.interrupted() {
        return Err(Error::Other(format!(
            "stage `{}` not started: interrupted",
            stage.name
        )));
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::Other(format!("{}: cannot start `sh`: {e}", stage.origin())))?;
    let pgid = child.id();
    running.groups.lock().expect("groups").push(pgid);
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    std::thread::scope(|s| {
        s.spawn(|| {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                out(&stage.name, &line);
            }
        });
        s.spawn(|| {
            for line in BufReader::new(stderr).lines().map_while(|l| l.ok()) {
                out(&stage.name, &line);
            }
        });
    });
    let status = child.wait();
    running
        .groups
        .lock()
        .expect("groups")
        .retain(|g| *g != pgid);
    let status = status.map_err(|e| Error::Other(format!("{}: {e}", stage.origin())))?;
    if !status.success() {
        let how = match status.code() {
            Some(c) => format!("exited with code {c}"),
            None => "was killed by a signal".into(),
        };
        return Err(Error::Other(format!(
            "stage `{}` failed: `{}` {how}",
            stage.name, stage.cmd
        )));
    }
    let missing: Vec<&String> = stage.outs.iter().filter(|o| !ws.abs(o).exists()).collect();
    if !missing.is_empty() {
        return Err(Error::Other(format!(
            "stage `{}` succeeded but did not produce its declared {}: {}",
            stage.name,
            if missing.len() == 1 {
                "output"
            } else {
                "outputs"
            },
            missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(())
}

/// Bring one stage up to date; returns its result and, when it changed, its new lock entry.
/// What every stage of one run shares: digests (one index, one clock) and the tracked paths.
struct Shared {
    digester: Digester,
    tracked: Mutex<Vec<crate::workspace::Tracked>>,
}

fn bring_up_to_date(
    ws: &Workspace,
    stage: &Stage,
    lock: Option<&Entry>,
    opts: &RunOptions,
    out: &(dyn Fn(&str, &str) + Sync),
    running: &Running,
    shared: &Shared,
) -> Result<(Outcome, Vec<String>, Option<Entry>)> {
    let deps = shared.digester.digests(ws, &stage.deps)?;
    let params = param_values(ws, stage)?;
    let outs_now = shared.digester.digests(ws, &stage.outs)?;
    let mut reasons = staleness(stage, lock, &deps, &params, &outs_now);
    if opts.force {
        reasons.insert(0, "--force".into());
    }
    if reasons.is_empty() {
        tracing::info!("stage `{}` up to date", stage.name);
        return Ok((Outcome::Skipped, reasons, None));
    }
    tracing::info!("stage `{}` stale: {}", stage.name, reasons.join("; "));
    if opts.dry_run {
        return Ok((Outcome::WouldRun, reasons, None));
    }
    // A dep that is tracked data not checked out (a fresh clone): running without it would fail
    // in the stage's own words; say what to do instead.
    if let Some((d, _)) = deps
        .iter()
        .find(|(d, oid)| oid.is_none() && super::dag::is_tracked_data(ws.root(), d))
    {
        return Err(Error::Other(format!(
            "{}: dep `{d}` is tracked data that is not in the work tree; get it with `git ml pull` (or `git ml checkout` if it is in the cache)",
            stage.origin()
        )));
    }
    let key = cache_key(stage, &deps, &params);
    let outcome = if !opts.force
        && !stage.always_run
        // A persisted output depends on what was there before, which the key does not cover.
        && !stage.persist
        && restore(ws, stage, &key, opts.remote, opts.jobs.max(4))?
    {
        Outcome::Restored
    } else {
        if !stage.persist {
            clear_outputs(ws, stage, &outs_now)?;
        }
        execute(ws, stage, out, running)?;
        if running.interrupted() {
            return Err(Error::Other(format!("stage `{}` interrupted", stage.name)));
        }
        Outcome::Ran
    };
    // Store the outputs (as `git ml add` does) and remember them under the key.
    let mut entry = Entry {
        cmd: stage.cmd.clone(),
        deps: deps
            .iter()
            .filter_map(|(d, o)| o.map(|o| (d.clone(), o.to_string())))
            .collect(),
        params,
        outs: BTreeMap::new(),
    };
    if !stage.outs.is_empty() {
        let paths: Vec<std::path::PathBuf> = stage.outs.iter().map(|o| ws.abs(o)).collect();
        let tracked = shared.tracked.lock().expect("tracked").clone();
        let ctx = crate::data::add::AddContext {
            tracked: Some(&tracked),
            clock: Some(shared.digester.clock),
            no_git_warnings: true,
        };
        let added = crate::data::add::add_with(ws, &paths, &Silent, &ctx)?;
        {
            let mut t = shared.tracked.lock().expect("tracked");
            for a in &added.added {
                if !t.iter().any(|x| x.path == a.path) {
                    t.push(crate::workspace::Tracked {
                        path: a.path.clone(),
                        pointer: a.pointer.clone(),
                    });
                }
            }
        }
        let mut cached = runcache::CacheEntry {
            outs: BTreeMap::new(),
        };
        for a in &added.added {
            entry.outs.insert(a.path.clone(), a.oid.to_string());
            let text = std::fs::read_to_string(ws.abs(&a.pointer))?;
            cached.outs.insert(a.path.clone(), text);
        }
        runcache::write_local(ws, &key, &cached)?;
    }
    Ok((outcome, reasons, Some(entry)))
}

#[derive(Debug, Serialize)]
pub struct RunReport {
    pub stages: Vec<StageResult>,
    /// Stopped by Ctrl-C or SIGTERM: running stages were stopped, no new ones started.
    pub interrupted: bool,
}

/// Run the pipeline (or the named stages and what they depend on). Ctrl-C and SIGTERM stop the
/// running stages' process groups; stages finished before that keep their lock entries.
pub fn run(
    ws: &Workspace,
    opts: &RunOptions,
    out: &(dyn Fn(&str, &str) + Sync),
) -> Result<RunReport> {
    // One run at a time per repository: a second waits, then finds up to date what the first
    // brought up to date (so no stage runs twice and no lock entry is lost).
    let _run_lock = if opts.dry_run {
        None
    } else {
        let dir = ws.gitml_dir();
        fs_err::create_dir_all(&dir)?;
        Some(crate::lock::RepoLock::acquire_named(
            &dir,
            "run.lock",
            std::time::Duration::from_secs(ws.config.lock_timeout),
            &|holder| out("run", &format!("waiting for {holder} to finish")),
        )?)
    };
    let running = Running::default();
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .map_err(|e| Error::Other(format!("cannot install signal handlers: {e}")))?;
    let handle = signals.handle();
    let stages = std::thread::scope(|s| {
        s.spawn(|| {
            if signals.forever().next().is_some() {
                running.stop_all();
            }
        });
        let r = Digester::new(ws).and_then(|digester| {
            let shared = Shared {
                digester,
                tracked: Mutex::new(ws.find_tracked()?),
            };
            let r = schedule(ws, opts, out, &running, &shared);
            shared.digester.save(ws);
            r
        });
        handle.close();
        r
    })?;
    Ok(RunReport {
        stages,
        interrupted: running.interrupted(),
    })
}

fn schedule(
    ws: &Workspace,
    opts: &RunOptions,
    out: &(dyn Fn(&str, &str) + Sync),
    running_groups: &Running,
    shared: &Shared,
) -> Result<Vec<StageResult>> {
    let dag = load(ws)?;
    let selected: Vec<&Stage> = dag.select(&opts.stages)?;
    let lock = Mutex::new(LockFile::load(ws.root())?);
    // name -> finished result
    let results: Mutex<BTreeMap<String, StageResult>> = Mutex::new(BTreeMap::new());
    let running = Mutex::new(0usize);
    let wake = Condvar::new();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let jobs = opts.jobs.max(1);
    // Each stage's upstream stages that are part of this run, computed once: the loop below
    // runs once per finished stage, so anything per-iteration must stay linear in the stages.
    let in_run: std::collections::HashSet<&str> =
        selected.iter().map(|st| st.name.as_str()).collect();
    let ups_in_run: Vec<Vec<&str>> = selected
        .iter()
        .map(|st| {
            dag.upstream[&st.name]
                .iter()
                .map(String::as_str)
                .filter(|u| in_run.contains(u))
                .collect()
        })
        .collect();
    std::thread::scope(|s| {
        // Indices into `selected` not yet started, in order.
        let mut pending: Vec<usize> = (0..selected.len()).collect();
        loop {
            let mut guard = running.lock().expect("scheduler");
            let done = results.lock().expect("results").len();
            if done == selected.len() {
                break;
            }
            // Start every ready stage while there is room.
            let mut launched = false;
            let mut still_pending = Vec::with_capacity(pending.len());
            for &i in &pending {
                let st = selected[i];
                if *guard >= jobs {
                    still_pending.push(i);
                    continue;
                }
                let ups = &ups_in_run[i];
                let (failed_up, would_run_up) = {
                    let done = results.lock().expect("results");
                    if ups.iter().any(|u| !done.contains_key(*u)) {
                        still_pending.push(i);
                        continue;
                    }
                    (
                        ups.iter()
                            .any(|u| matches!(done[*u].outcome, Outcome::Failed | Outcome::NotRun)),
                        ups.iter().any(|u| done[*u].outcome == Outcome::WouldRun),
                    )
                };
                if failed_up
                    || (stop.load(std::sync::atomic::Ordering::Relaxed) && !opts.keep_going)
                {
                    results.lock().expect("results").insert(
                        st.name.clone(),
                        StageResult {
                            stage: st.name.clone(),
                            outcome: Outcome::NotRun,
                            reasons: vec![if failed_up {
                                "an upstream stage failed".into()
                            } else {
                                "stopped before it started".into()
                            }],
                            seconds: 0.0,
                            error: None,
                        },
                    );
                    launched = true;
                    continue;
                }
                if would_run_up {
                    results.lock().expect("results").insert(
                        st.name.clone(),
                        StageResult {
                            stage: st.name.clone(),
                            outcome: Outcome::WouldRun,
                            reasons: vec!["an upstream stage would run".into()],
                            seconds: 0.0,
                            error: None,
                        },
                    );
                    launched = true;
                    continue;
                }
                *guard += 1;
                launched = true;
                let st: &Stage = st;
                let (lock, results, running, wake, stop) =
                    (&lock, &results, &running, &wake, &stop);
                s.spawn(move || {
                    let t0 = Instant::now();
                    let entry = lock
                        .lock()
                        .expect("lock file")
                        .stages
                        .get(&st.name)
                        .cloned();
                    let r =
                        bring_up_to_date(ws, st, entry.as_ref(), opts, out, running_groups, shared);
                    let result = match r {
                        Ok((outcome, reasons, new_entry)) => {
                            if let Some(e) = new_entry {
                                let mut l = lock.lock().expect("lock file");
                                l.stages.insert(st.name.clone(), e);
                                // Saved after every stage: an interruption keeps finished work.
                                if let Err(e) = l.save(ws.root()) {
                                    out(&st.name, &format!("error: cannot write gitml.lock: {e}"));
                                }
                            }
                            StageResult {
                                stage: st.name.clone(),
                                outcome,
                                reasons,
                                seconds: t0.elapsed().as_secs_f64(),
                                error: None,
                            }
                        }
                        Err(e) => {
                            stop.store(true, std::sync::atomic::Ordering::Relaxed);
                            StageResult {
                                stage: st.name.clone(),
                                outcome: Outcome::Failed,
                                reasons: Vec::new(),
                                seconds: t0.elapsed().as_secs_f64(),
                                error: Some(e.to_string()),
                            }
                        }
                    };
                    results
                        .lock()
                        .expect("results")
                        .insert(st.name.clone(), result);
                    *running.lock().expect("scheduler") -= 1;
                    wake.notify_all();
                });
            }
            pending = still_pending;
            if !launched {
                // Wait for a running stage to finish.
                let _unused = wake
                    .wait_timeout(guard, std::time::Duration::from_millis(200))
                    .expect("scheduler");
            }
        }
    });
    let results = results.into_inner().expect("results");
    Ok(dag
        .stages
        .iter()
        .filter_map(|s| results.get(&s.name).cloned())
        .collect())
}

/// Stages that `run` would run, with reasons (for `status`).
pub fn stale(ws: &Workspace) -> Result<Vec<StageResult>> {
    let opts = RunOptions {
        dry_run: true,
        jobs: 1,
        ..Default::default()
    };
    Ok(run(ws, &opts, &|_, _| {})?
        .stages
        .into_iter()
        .filter(|r| r.outcome == Outcome::WouldRun)
        .collect())
}
