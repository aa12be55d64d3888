//! `git ml ci`: what a CI job does, per event, in one command.
//!
//! - a pull request: fetch what `actions/checkout` leaves out (run records, registry tags, the
//!   base branch's history down to the merge-base, the PR head), pull the data and the run
//!   cache, run what changed, record the run on the PR head, check the gates against the base,
//!   write the report (files, job summary, step outputs), post one sticky comment, set a commit
//!   status, push the records; exit with the gates' verdict.
//! - a push to the default branch (the merge): copy the PR head's runs when the merged tree is the
//!   head's (squash and rebase merges), else run; register the model and promote it; push data,
//!   records and tags; comment the version on the merged pull request.
//! - `report`: gate on the runs already recorded (a matrix's), without running anything.
//! - `run` (schedules, manual runs): run, record, push, summarise.
//!
//! A [`Provider`] is where the job runs (GitHub Actions, or a generic CI that gets files). The
//! invariant: the job never posts, promotes or pushes on behalf of code it has not run itself, and
//! a read-only token (a fork's pull request) degrades to the summary and files, never a failure.

pub mod api;
pub mod event;
pub mod generic;
pub mod github;

use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::git;
use crate::workspace::Workspace;
use api::Written;
use event::{Event, PullRequest, Push};

/// A merged (or open) pull request a commit belongs to.
#[derive(Debug, Clone, Serialize)]
pub struct PullRef {
    pub number: u64,
    pub head_sha: String,
}

/// Where a CI job runs.
pub trait Provider {
    fn name(&self) -> &'static str;
    fn event(&self) -> Result<Event>;
    /// The CI run's page, for records and links.
    fn run_url(&self) -> Option<String>;
    /// Post, or update, the one report comment of this workflow and job on pull request `number`.
    fn sticky_comment(&self, number: u64, body: &str) -> Result<Written>;
    fn comment(&self, number: u64, body: &str) -> Result<Written>;
    fn status(&self, sha: &str, state: &str, description: &str) -> Result<Written>;
    fn merged_pull(&self, sha: &str) -> Result<Option<PullRef>>;
    fn summary(&self, markdown: &str) -> Result<()>;
    fn outputs(&self, pairs: &[(&str, String)]) -> Result<()>;
    /// A line to print before (`start`) and after output that is not ours (the stages'), so the
    /// CI does not read it as its own commands.
    fn untrusted_output(&self, start: bool) -> Option<String>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// From the event: a pull request is `pr`, a push to the default branch `merge`, the rest
    /// `run`.
    Auto,
    Pr,
    Merge,
    Report,
    Run,
}

#[derive(Debug, Clone)]
pub struct CiOptions {
    pub mode: Mode,
    /// Stages to run (all when empty).
    pub targets: Vec<String>,
    /// The model a merge registers (default: the only `[models.*]`).
    pub model: Option<String>,
    /// The stage a merge promotes the new version to.
    pub promote_to: Option<String>,
    /// The data remote (default: `core.remote`).
    pub remote: Option<String>,
    /// Post the report as a pull-request comment.
    pub comment: bool,
    /// Exit 1 when a gate fails (else only report).
    pub fail_on_gate: bool,
    /// Where the report files go.
    pub out_dir: PathBuf,
    /// The git remote to fetch from and push to.
    pub git_remote: String,
    /// Run the stages even when up to date, and not from the run cache (a matrix of seeds).
    pub force: bool,
}

/// What the job did, step by step (also the JSON of `git ml ci --json`).
#[derive(Debug, Default, Serialize)]
pub struct CiReport {
    pub provider: String,
    pub mode: String,
    pub event: Option<Event>,
    /// What was fetched, one line each.
    pub fetched: Vec<String>,
    pub stages: Vec<crate::pipeline::run::StageResult>,
    pub recorded_on: Option<String>,
    pub run_id: Option<String>,
    /// `pass`, `fail`, `none` (no gates) or `error`.
    pub verdict: String,
    pub report_files: Vec<PathBuf>,
    pub comment: Option<Written>,
    pub status: Option<Written>,
    pub registered: Option<String>,
    pub promoted: Option<String>,
    /// Things the job chose not to do, or could not do, and why (shown in the summary).
    pub notes: Vec<String>,
    pub exit_code: u8,
}

/// Log lines as the job goes (the CLI prints them; tests collect them).
pub type Log<'a> = &'a (dyn Fn(&str) + Sync);

/// Run the job for the provider's event.
pub fn run(ws: &Workspace, p: &dyn Provider, opts: &CiOptions, log: Log) -> Result<CiReport> {
    let event = p.event()?;
    let mode = match (opts.mode, &event) {
        (Mode::Auto, Event::PullRequest(_)) => Mode::Pr,
        (Mode::Auto, Event::Push(push)) if push.to_default_branch() => Mode::Merge,
        (Mode::Auto, _) => Mode::Run,
        (m, _) => m,
    };
    let mut r = CiReport {
        provider: p.name().into(),
        mode: format!("{mode:?}").to_lowercase(),
        event: Some(event.clone()),
        verdict: "none".into(),
        ..Default::default()
    };
    let outcome = match (mode, &event) {
        (Mode::Pr, Event::PullRequest(pr)) => pull_request(ws, p, opts, pr, &mut r, log),
        (Mode::Report, Event::PullRequest(pr)) => report_only(ws, p, opts, Some(pr), &mut r, log),
        (Mode::Report, _) => report_only(ws, p, opts, None, &mut r, log),
        (Mode::Merge, Event::Push(push)) => merge(ws, p, opts, push, &mut r, log),
        (Mode::Merge, _) => Err(Error::Other(
            "`mode: merge` runs on a push to the default branch; this event is not one".into(),
        )),
        (Mode::Pr, _) => Err(Error::Other(
            "`mode: pr` runs on a pull_request event; this event is not one".into(),
        )),
        _ => run_only(ws, p, opts, &mut r, log),
    };
    if let Err(e) = outcome {
        r.verdict = "error".into();
        r.exit_code = 2;
        r.notes.push(crate::error::redact(&e.to_string()));
        // Say it where people look, then fail.
        let _ = p.summary(&format!(
            "## git-ml\n\n**error:** {}\n",
            crate::text::markdown(&crate::error::redact(&e.to_string()))
        ));
        let _ = p.outputs(&[("verdict", r.verdict.clone())]);
        return Err(e);
    }
    Ok(r)
}

/// The fork-safe split's second half (`mode: post`): post `report` (Markdown another workflow
/// made, from a pull request's code: data, never run) as the sticky comment of the pull request
/// GitHub's event names, and set the commit status from the verdict line it carries.
pub fn post(p: &dyn Provider, report: &str) -> Result<CiReport> {
    let event = p.event()?;
    let Event::WorkflowRun {
        head_sha,
        pull_request,
    } = &event
    else {
        return Err(Error::Other(
            "`mode: post` runs on a workflow_run event (docs/ci.md, fork pull requests)".into(),
        ));
    };
    let mut r = CiReport {
        provider: p.name().into(),
        mode: "post".into(),
        event: Some(event.clone()),
        verdict: "none".into(),
        ..Default::default()
    };
    let number = match pull_request {
        Some(n) => Some(*n),
        None => p.merged_pull(head_sha)?.map(|pr| pr.number),
    };
    let Some(number) = number else {
        r.notes.push(format!(
            "no pull request has head {}; the report was not posted",
            &head_sha[..12]
        ));
        return Ok(r);
    };
    // The report came from the PR's own run: it cannot ping anyone, and it stays in one comment.
    let mut body = crate::text::defuse_mentions(report);
    if body.len() > crate::report::MD_LIMIT {
        let mut cut = crate::report::MD_LIMIT;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        body.truncate(cut);
        body.push_str("\n\n_cut to fit a comment_\n");
    }
    r.verdict = if report.contains("**Gates: FAIL**") {
        "fail".into()
    } else if report.contains("**Gates: PASS**") {
        "pass".into()
    } else {
        "none".into()
    };
    let pr = PullRequest {
        number,
        head_sha: head_sha.clone(),
        head_ref: String::new(),
        base_sha: String::new(),
        base_ref: String::new(),
        fork: false,
        title: String::new(),
    };
    let opts = CiOptions {
        mode: Mode::Pr,
        targets: Vec::new(),
        model: None,
        promote_to: None,
        remote: None,
        comment: true,
        fail_on_gate: false,
        out_dir: PathBuf::new(),
        git_remote: String::new(),
        force: false,
    };
    tell_pull_request(p, &opts, &pr, &body, &mut r);
    Ok(r)
}

// --- fetching what actions/checkout leaves out ------------------------------------------------

fn has_remote(ws: &Workspace, name: &str) -> bool {
    git::run(ws.root(), &["remote", "get-url", name]).is_ok()
}

fn has_commit(ws: &Workspace, sha: &str) -> bool {
    git::run(ws.root(), &["cat-file", "-e", &format!("{sha}^{{commit}}")]).is_ok()
}

/// Run records and registry tags (actions/checkout fetches neither).
fn fetch_records(ws: &Workspace, opts: &CiOptions, r: &mut CiReport) {
    if !has_remote(ws, &opts.git_remote) {
        r.notes.push(format!(
            "no git remote `{}`: run records and registry tags were not fetched",
            opts.git_remote
        ));
        return;
    }
    match crate::record::sync::pull(ws.root(), &opts.git_remote) {
        Ok(s) => r.fetched.push(format!("run records ({})", s.outcome)),
        Err(e) => r.notes.push(format!("run records were not fetched: {e}")),
    }
    match crate::record::sync::fetch_tags(ws.root(), &opts.git_remote) {
        Ok(()) => r.fetched.push("registry tags".into()),
        Err(e) => r.notes.push(format!("registry tags were not fetched: {e}")),
    }
}

/// The commit `sha` (the PR head), fetched by id when the checkout did not bring it.
fn fetch_commit(ws: &Workspace, opts: &CiOptions, sha: &str, r: &mut CiReport) -> Result<()> {
    if has_commit(ws, sha) {
        return Ok(());
    }
    git::run(
        ws.root(),
        &["fetch", "--quiet", "--no-tags", &opts.git_remote, sha],
    )?;
    r.fetched.push(format!("commit {}", &sha[..12]));
    Ok(())
}

/// The base branch, deep enough that its merge-base with `head` is here (a shallow checkout has
/// one commit); the whole history only when deepening does not find it.
fn fetch_base(ws: &Workspace, opts: &CiOptions, pr: &PullRequest, r: &mut CiReport) -> Result<()> {
    let root = ws.root();
    if !has_remote(ws, &opts.git_remote) || pr.base_ref.is_empty() {
        return Ok(());
    }
    let spec = format!(
        "+refs/heads/{}:refs/remotes/{}/{}",
        pr.base_ref, opts.git_remote, pr.base_ref
    );
    let shallow = git::is_shallow(root);
    let mut args = vec!["fetch", "--quiet", "--no-tags"];
    if shallow {
        args.push("--depth=50");
    }
    args.push(&opts.git_remote);
    args.push(&spec);
    git::run(root, &args)?;
    r.fetched.push(format!("base branch `{}`", pr.base_ref));
    if !shallow {
        return Ok(());
    }
    for depth in [200, 1000, 5000] {
        if git::merge_base(root, &pr.base_sha, &pr.head_sha)?.is_some() {
            return Ok(());
        }
        let deepen = format!("--deepen={depth}");
        git::run(
            root,
            &[
                "fetch",
                "--quiet",
                "--no-tags",
                &deepen,
                &opts.git_remote,
                &spec,
                &pr.head_sha,
            ],
        )?;
        r.fetched.push(format!("{depth} more commits of history"));
    }
    if git::merge_base(root, &pr.base_sha, &pr.head_sha)?.is_none() {
        git::run(
            root,
            &[
                "fetch",
                "--quiet",
                "--no-tags",
                "--unshallow",
                &opts.git_remote,
            ],
        )?;
        r.fetched.push("the whole history (`--unshallow`)".into());
    }
    Ok(())
}

/// Check out `sha` (detached) when HEAD is something else, e.g. the test-merge commit that
/// actions/checkout gives a pull request: the run belongs to the PR head.
fn checkout_commit(ws: &Workspace, sha: &str, r: &mut CiReport, log: Log) -> Result<()> {
    let head = git::resolve_commit(ws.root(), "HEAD")?;
    if head == sha {
        return Ok(());
    }
    git::run(ws.root(), &["checkout", "--quiet", "--detach", sha])?;
    let note = format!(
        "checked out the pull request's head {} (HEAD was {})",
        &sha[..12],
        &head[..12]
    );
    log(&note);
    r.notes.push(note);
    Ok(())
}

// --- data, pipeline, records --------------------------------------------------------------------

fn data_remote(
    ws: &Workspace,
    opts: &CiOptions,
) -> Result<Option<(Box<dyn crate::remote::Transport>, usize)>> {
    let spec = match crate::remote::choose(&ws.config, opts.remote.as_deref()) {
        Ok(s) => s,
        Err(Error::NoRemote) if opts.remote.is_none() => return Ok(None),
        Err(e) => return Err(e),
    };
    let kind = spec.kind(ws.root())?;
    let jobs = crate::remote::jobs(&spec, &kind, &ws.config, None);
    Ok(Some((
        crate::remote::open(&spec, ws.root(), &ws.config)?,
        jobs,
    )))
}

/// Fetch and check out the data the work tree's pointers need.
fn pull_data(ws: &Workspace, opts: &CiOptions, r: &mut CiReport) -> Result<()> {
    let tracked = ws.find_tracked()?;
    if tracked.is_empty() {
        return Ok(());
    }
    let Some((remote, jobs)) = data_remote(ws, opts)? else {
        r.notes
            .push("no data remote: tracked data was not pulled (stages may need it)".into());
        return Ok(());
    };
    let targets = crate::remote::transfer::targets(ws, &Default::default())?;
    let fetched = crate::remote::transfer::fetch(
        ws,
        remote.as_ref(),
        &targets,
        jobs,
        &crate::progress::Silent,
    )?;
    if !fetched.ok() {
        r.notes.push(format!(
            "{} of the data could not be fetched from `{}`; stages that need it will run without it",
            crate::text::plural(
                (fetched.missing.len() + fetched.failed.len()) as u64,
                "object",
                "objects"
            ),
            remote.name()
        ));
    } else {
        r.fetched.push(format!(
            "data: {} from `{}`",
            crate::text::plural(fetched.transferred, "object", "objects"),
            remote.name()
        ));
    }
    // What arrived is checked out; a path whose objects did not is left as it is.
    let ready: Vec<_> = tracked
        .into_iter()
        .filter(|t| {
            !fetched
                .missing
                .iter()
                .chain(&fetched.failed)
                .any(|f| f.path == t.path)
        })
        .collect();
    crate::data::checkout::checkout(
        ws,
        &ready,
        &crate::data::checkout::CheckoutOptions {
            force: false,
            modes: ws.config.link.clone(),
        },
        &crate::progress::Silent,
    )?;
    Ok(())
}

/// Run the pipeline (what changed), restoring from the remote's run cache when it has the
/// outputs, and record the run; `Ok(false)` when there is no pipeline.
fn run_and_record(
    ws: &Workspace,
    p: &dyn Provider,
    opts: &CiOptions,
    r: &mut CiReport,
    log: Log,
) -> Result<()> {
    let dag = crate::pipeline::run::load(ws)?;
    if dag.stages.is_empty() {
        // No pipeline: record what the declared metrics files say, if anything.
        let declared = crate::record::capture::Declared::from_project(&ws.config.project)?;
        if !declared.metrics_files.is_empty() {
            let rec = crate::record::capture::record(
                ws,
                &crate::record::capture::RecordOptions {
                    command: Some("git ml ci".into()),
                    ..Default::default()
                },
            )?;
            r.recorded_on = rec.commit.clone();
            r.run_id = Some(rec.run.id);
        }
        return Ok(());
    }
    let remote = data_remote(ws, opts)?;
    let run_opts = crate::pipeline::run::RunOptions {
        stages: opts.targets.clone(),
        remote: remote.as_ref().map(|(t, _)| t.as_ref()),
        jobs: 1,
        force: opts.force,
        ..Default::default()
    };
    if let Some(line) = p.untrusted_output(true) {
        log(&line);
    }
    let report = crate::pipeline::run::run(ws, &run_opts, &|stage, line| {
        log(&format!("[{stage}] {line}"));
    });
    if let Some(line) = p.untrusted_output(false) {
        log(&line);
    }
    let report = report?;
    r.stages = report.stages.clone();
    if let Some(failed) = report
        .stages
        .iter()
        .find(|s| s.outcome == crate::pipeline::run::Outcome::Failed)
    {
        return Err(Error::Other(format!(
            "stage `{}` failed: {}",
            failed.stage,
            failed.error.clone().unwrap_or_default()
        )));
    }
    let lock = crate::pipeline::lockfile::LockFile::load(ws.root())?;
    let duration = report.stages.iter().map(|s| s.seconds).sum();
    let rec =
        crate::record::capture::record_pipeline(ws, &dag.stages, &lock, "git ml ci", duration)?;
    for w in &rec.warnings {
        r.notes.push(w.message.clone());
    }
    r.recorded_on = rec.commit.clone();
    r.run_id = Some(rec.run.id.clone());
    if rec.commit.is_none() {
        r.notes.push(
            "the run's inputs are not the checked-out commit's, so it waits as a pending run"
                .into(),
        );
    }
    Ok(())
}

/// Push the run records (and, with a writable data remote, the run cache and outputs, so the
/// merge can restore instead of training again). Failures are notes: a fork's token cannot push.
fn push_results(ws: &Workspace, opts: &CiOptions, with_data: bool, tags: bool, r: &mut CiReport) {
    if with_data {
        match data_remote(ws, opts) {
            Ok(Some((remote, jobs))) => {
                let targets = crate::remote::transfer::targets(ws, &Default::default());
                let pushed = targets.and_then(|t| {
                    crate::remote::transfer::push(
                        ws,
                        remote.as_ref(),
                        &t,
                        jobs,
                        &crate::progress::Silent,
                    )
                });
                match pushed {
                    Ok(rep) if rep.ok() => {}
                    Ok(rep) => r.notes.push(format!(
                        "{} could not be pushed to `{}`",
                        crate::text::plural(
                            (rep.failed.len() + rep.missing.len()) as u64,
                            "object",
                            "objects"
                        ),
                        remote.name()
                    )),
                    Err(e) => r.notes.push(format!("the data was not pushed: {e}")),
                }
                if let Err(e) = crate::pipeline::runcache::push(ws, remote.as_ref(), jobs) {
                    r.notes.push(format!("the run cache was not pushed: {e}"));
                }
            }
            Ok(None) => {}
            Err(e) => r.notes.push(format!("the data was not pushed: {e}")),
        }
    }
    if !has_remote(ws, &opts.git_remote) {
        return;
    }
    if tags && let Err(e) = crate::record::sync::push_tags(ws.root(), &opts.git_remote) {
        r.notes.push(format!("registry tags were not pushed: {e}"));
    }
    if let Err(e) = crate::record::sync::push(ws.root(), &opts.git_remote) {
        r.notes.push(format!("run records were not pushed: {e}"));
    }
}

// --- the report ---------------------------------------------------------------------------------

/// Write the report files, the summary and the outputs; returns the Markdown (for a comment).
fn publish(
    ws: &Workspace,
    p: &dyn Provider,
    opts: &CiOptions,
    report: &crate::report::Report,
    r: &mut CiReport,
) -> Result<String> {
    let md = crate::report::markdown(ws, report, None)?;
    fs_err::create_dir_all(&opts.out_dir)?;
    let files = [
        ("report.md", md.clone()),
        ("report.html", crate::report::html(report)),
        (
            "report.json",
            serde_json::to_string_pretty(&crate::report::json(report))
                .map_err(std::io::Error::other)?
                + "\n",
        ),
        ("junit.xml", junit(&report.check)),
    ];
    for (name, text) in &files {
        let path = opts.out_dir.join(name);
        crate::fsutil::atomic_write(&path, text.as_bytes(), 0o644)?;
        r.report_files.push(path);
    }
    r.verdict = if !report.gated {
        "none".into()
    } else if report.passed() {
        "pass".into()
    } else {
        "fail".into()
    };
    let metrics: serde_json::Map<String, serde_json::Value> = report
        .diff
        .metrics
        .iter()
        .filter_map(|m| {
            m.new
                .as_ref()
                .and_then(|s| s.mean)
                .map(|v| (m.name.clone(), serde_json::Value::from(v)))
        })
        .collect();
    p.outputs(&[
        ("verdict", r.verdict.clone()),
        (
            "report",
            opts.out_dir.join("report.md").display().to_string(),
        ),
        ("metrics", serde_json::Value::Object(metrics).to_string()),
    ])?;
    Ok(md)
}

/// The job summary: the report, then what the job noted (once everything is done).
fn summarize(p: &dyn Provider, md: &str, r: &CiReport) -> Result<()> {
    let mut summary = md.to_string();
    if !r.notes.is_empty() {
        summary.push_str("\n<details><summary>git-ml notes</summary>\n\n");
        for n in &r.notes {
            summary.push_str(&format!(
                "- {}\n",
                crate::text::markdown(&crate::error::redact(n))
            ));
        }
        summary.push_str("\n</details>\n");
    }
    p.summary(&summary)
}

/// The gates as JUnit XML (one test case per gate), for CIs that show test reports.
pub fn junit(check: &crate::gate::CheckReport) -> String {
    let esc = |s: &str| {
        crate::text::escape_control(s)
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let failures = check
        .gates
        .iter()
        .filter(|g| matches!(g.verdict, crate::gate::Verdict::Fail))
        .count();
    let skipped = check
        .gates
        .iter()
        .filter(|g| matches!(g.verdict, crate::gate::Verdict::Skipped))
        .count();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"git-ml gates\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">\n",
        check.gates.len()
    );
    for g in &check.gates {
        let detail: Vec<String> = g
            .rules
            .iter()
            .map(|x| {
                format!(
                    "{} {} ({})",
                    if x.passed { "ok" } else { "FAILED" },
                    x.rule,
                    x.detail
                )
            })
            .chain(g.reason.clone())
            .collect();
        out.push_str(&format!(
            "  <testcase classname=\"gates\" name=\"{}\">",
            esc(&g.metric)
        ));
        match g.verdict {
            crate::gate::Verdict::Fail => out.push_str(&format!(
                "<failure message=\"{}\"/>",
                esc(&detail.join("; "))
            )),
            crate::gate::Verdict::Skipped => out.push_str(&format!(
                "<skipped message=\"{}\"/>",
                esc(&detail.join("; "))
            )),
            _ => {}
        }
        out.push_str("</testcase>\n");
    }
    out.push_str("</testsuite>\n");
    out
}

/// Post the sticky comment and the commit status for `pr`; a read-only token is a note.
fn tell_pull_request(
    p: &dyn Provider,
    opts: &CiOptions,
    pr: &PullRequest,
    md: &str,
    r: &mut CiReport,
) {
    if opts.comment {
        let body = with_footer(md, p.run_url().as_deref());
        match p.sticky_comment(pr.number, &body) {
            Ok(w) => {
                if let Written::ReadOnly { message } = &w {
                    r.notes.push(format!(
                        "the report was not posted as a comment ({message}); it is in the job summary and the report files{}",
                        if pr.fork { ": a pull request from a fork gets a read-only token (docs/ci.md, fork pull requests)" } else { "" }
                    ));
                }
                r.comment = Some(w);
            }
            Err(e) => r.notes.push(format!("the report comment failed: {e}")),
        }
    }
    let (state, description) = match r.verdict.as_str() {
        "pass" => ("success", "git-ml: every gate passes".to_string()),
        "fail" => (
            "failure",
            "git-ml: a gate failed (see the report)".to_string(),
        ),
        _ => ("success", "git-ml: run recorded (no gates)".to_string()),
    };
    match p.status(&pr.head_sha, state, &description) {
        Ok(w) => {
            if let Written::ReadOnly { message } = &w {
                r.notes
                    .push(format!("no commit status was set ({message})"));
            }
            r.status = Some(w);
        }
        Err(e) => r.notes.push(format!("the commit status failed: {e}")),
    }
}

/// The comment's footer: where it came from; the whole stays within GitHub's limit.
fn with_footer(md: &str, run_url: Option<&str>) -> String {
    let link = match run_url {
        Some(u) => format!(" · [workflow run]({})", u.replace(['(', ')', ' '], "")),
        None => String::new(),
    };
    format!(
        "{md}\n<sub>git-ml {}{link}; the full report is in the job summary</sub>\n",
        env!("CARGO_PKG_VERSION")
    )
}

fn gate_exit(opts: &CiOptions, r: &mut CiReport) {
    r.exit_code = if r.verdict == "fail" && opts.fail_on_gate {
        1
    } else {
        0
    };
}

// --- the flows ----------------------------------------------------------------------------------

fn pull_request(
    ws: &Workspace,
    p: &dyn Provider,
    opts: &CiOptions,
    pr: &PullRequest,
    r: &mut CiReport,
    log: Log,
) -> Result<()> {
    fetch_records(ws, opts, r);
    if has_remote(ws, &opts.git_remote) {
        fetch_commit(ws, opts, &pr.head_sha, r)?;
    }
    fetch_base(ws, opts, pr, r)?;
    checkout_commit(ws, &pr.head_sha, r, log)?;
    pull_data(ws, opts, r)?;
    run_and_record(ws, p, opts, r, log)?;
    let base =
        git::merge_base(ws.root(), &pr.base_sha, &pr.head_sha)?.unwrap_or(pr.base_sha.clone());
    let report = crate::report::build(
        ws,
        &crate::report::ReportOptions {
            rev: Some(pr.head_sha.clone()),
            base: Some(base),
            last: 10,
            plots: true,
            ..Default::default()
        },
    )?;
    let md = publish(ws, p, opts, &report, r)?;
    tell_pull_request(p, opts, pr, &md, r);
    // Forks have no secrets and a read-only token: results stay in the summary.
    push_results(ws, opts, !pr.fork, false, r);
    summarize(p, &md, r)?;
    gate_exit(opts, r);
    Ok(())
}

fn report_only(
    ws: &Workspace,
    p: &dyn Provider,
    opts: &CiOptions,
    pr: Option<&PullRequest>,
    r: &mut CiReport,
    _log: Log,
) -> Result<()> {
    fetch_records(ws, opts, r);
    let (rev, base) = match pr {
        Some(pr) => {
            if has_remote(ws, &opts.git_remote) {
                fetch_commit(ws, opts, &pr.head_sha, r)?;
            }
            fetch_base(ws, opts, pr, r)?;
            let base = git::merge_base(ws.root(), &pr.base_sha, &pr.head_sha)?
                .unwrap_or(pr.base_sha.clone());
            (pr.head_sha.clone(), Some(base))
        }
        None => (
            git::resolve_commit(ws.root(), "HEAD")?,
            git::resolve_commit(ws.root(), "HEAD^").ok(),
        ),
    };
    let report = crate::report::build(
        ws,
        &crate::report::ReportOptions {
            rev: Some(rev),
            base,
            last: 10,
            plots: true,
            ..Default::default()
        },
    )?;
    let md = publish(ws, p, opts, &report, r)?;
    if let Some(pr) = pr {
        tell_pull_request(p, opts, pr, &md, r);
    }
    summarize(p, &md, r)?;
    gate_exit(opts, r);
    Ok(())
}

fn run_only(
    ws: &Workspace,
    p: &dyn Provider,
    opts: &CiOptions,
    r: &mut CiReport,
    log: Log,
) -> Result<()> {
    fetch_records(ws, opts, r);
    pull_data(ws, opts, r)?;
    run_and_record(ws, p, opts, r, log)?;
    let head = git::resolve_commit(ws.root(), "HEAD")?;
    let report = crate::report::build(
        ws,
        &crate::report::ReportOptions {
            rev: Some(head.clone()),
            base: git::resolve_commit(ws.root(), "HEAD^").ok().or(Some(head)),
            last: 10,
            plots: true,
            ..Default::default()
        },
    )?;
    let md = publish(ws, p, opts, &report, r)?;
    push_results(ws, opts, true, false, r);
    summarize(p, &md, r)?;
    gate_exit(opts, r);
    Ok(())
}

fn merge(
    ws: &Workspace,
    p: &dyn Provider,
    opts: &CiOptions,
    push: &Push,
    r: &mut CiReport,
    log: Log,
) -> Result<()> {
    if !push.to_default_branch() {
        r.notes.push(format!(
            "`{}` is not the default branch `{}`: nothing to register",
            push.git_ref, push.default_branch
        ));
        return Ok(());
    }
    let root = ws.root();
    fetch_records(ws, opts, r);
    let head = git::resolve_commit(root, "HEAD")?;
    // Reuse the pull request's runs when the merged tree is the one its head ran on.
    let merged = p.merged_pull(&head).unwrap_or_else(|e| {
        r.notes
            .push(format!("the merged pull request was not found: {e}"));
        None
    });
    let mut copied = false;
    if let Some(pull) = &merged
        && !pull.head_sha.is_empty()
        && (has_commit(ws, &pull.head_sha)
            || (has_remote(ws, &opts.git_remote)
                && fetch_commit(ws, opts, &pull.head_sha, r).is_ok()))
    {
        let tree = |c: &str| git::run(root, &["rev-parse", &format!("{c}^{{tree}}")]).ok();
        if tree(&head) == tree(&pull.head_sha) && tree(&head).is_some() {
            match crate::record::capture::copy_from(ws, &pull.head_sha) {
                Ok((_, n)) => {
                    copied = true;
                    r.recorded_on = Some(head.clone());
                    r.notes.push(format!(
                        "copied {} from the pull request's head {} (same tree): nothing was trained again",
                        crate::text::plural(n as u64, "run", "runs"),
                        &pull.head_sha[..12]
                    ));
                }
                Err(e) => r
                    .notes
                    .push(format!("the PR's runs were not copied ({e}); running")),
            }
        }
    }
    if !copied {
        pull_data(ws, opts, r)?;
        run_and_record(ws, p, opts, r, log)?;
    }
    // Register and promote.
    let declared = crate::record::capture::Declared::from_project(&ws.config.project)?;
    let model = match &opts.model {
        Some(m) => Some(m.clone()),
        None if declared.models.len() == 1 => declared.models.keys().next().cloned(),
        None => {
            if declared.models.len() > 1 {
                r.notes.push(
                    "several models are declared: name one with the `model` input to register it"
                        .into(),
                );
            }
            None
        }
    };
    if let Some(name) = model {
        let existing = crate::registry::models(&crate::registry::events(root)?)
            .get(&name)
            .and_then(|m| m.version_at(&head).map(str::to_string));
        let version = match existing {
            Some(v) => {
                r.notes.push(format!(
                    "`{name}@{v}` is this commit already; not registered again"
                ));
                Some(v)
            }
            None => match crate::registry::register_model(ws, &name, "HEAD", None, Some("patch")) {
                Ok(reg) => {
                    r.registered = Some(reg.tag.clone());
                    Some(reg.version)
                }
                Err(e) => {
                    r.notes.push(format!("`{name}` was not registered: {e}"));
                    None
                }
            },
        };
        if let (Some(version), Some(stage)) = (version, &opts.promote_to) {
            let policy = crate::registry::Policy::from_project(&ws.config.project)?;
            match crate::registry::promote(root, &policy, &name, Some(&version), stage) {
                Ok((tag, _)) => r.promoted = Some(tag),
                Err(e) => r.notes.push(format!(
                    "`{name}@{version}` was not promoted to `{stage}`: {e}"
                )),
            }
        }
    }
    push_results(ws, opts, true, true, r);
    // Say what happened, on the merged pull request and in the summary.
    let mut lines = vec!["## git-ml: merged".to_string()];
    if let Some(t) = &r.registered {
        // Plain text, escaped (not a code span: entities do not render there).
        lines.push(format!(
            "Registered {} on {}.",
            crate::text::markdown(t),
            &head[..12]
        ));
    }
    if let Some(t) = &r.promoted {
        lines.push(format!("Promoted: {}.", crate::text::markdown(t)));
    }
    for n in &r.notes {
        lines.push(format!(
            "- {}",
            crate::text::markdown(&crate::error::redact(n))
        ));
    }
    let text = lines.join("\n\n") + "\n";
    p.summary(&text)?;
    let version = r
        .registered
        .as_deref()
        .and_then(|t| t.split_once('@'))
        .map(|(_, v)| v.to_string())
        .unwrap_or_default();
    let stage = r
        .promoted
        .as_deref()
        .and_then(|t| t.split('#').nth(1))
        .unwrap_or_default()
        .to_string();
    p.outputs(&[
        ("verdict", r.verdict.clone()),
        ("model-version", version),
        ("promoted-stage", stage),
    ])?;
    if let Some(pull) = &merged
        && opts.comment
        && (r.registered.is_some() || r.promoted.is_some())
    {
        match p.comment(pull.number, &text) {
            Ok(w) => r.comment = Some(w),
            Err(e) => r
                .notes
                .push(format!("the merged pull request was not told: {e}")),
        }
    }
    Ok(())
}
