use std::io::Write;

use clap::Args;

use gitml::pipeline::run::{Outcome as StageOutcome, RunOptions};

use super::{Ctx, Outcome, output};

/// Run the pipeline's stale stages (`[stages.*]` in gitml.toml), in dependency order
///
/// A stage runs when its cmd, a dep, a param it names, or one of its outputs differs from its
/// entry in `gitml.lock`. If the same inputs ran before, its outputs are restored from the run
/// cache instead. Independent stages run in parallel (`-j`); output lines carry the stage name.
/// After a successful run its metrics and params are recorded on HEAD when the stages' inputs
/// (definitions, params, source deps) are HEAD's, else as a pending run for the commit that
/// carries them (`--no-record` to skip).
/// Exit code 0 when every stage is up to date or succeeded, 2 when one failed.
#[derive(Args)]
pub struct RunArgs {
    /// Only these stages (and what they depend on)
    #[arg(value_name = "STAGE")]
    stages: Vec<String>,

    /// Run even if up to date (and do not restore from the run cache)
    #[arg(short, long)]
    force: bool,

    /// Only say what would run, and why
    #[arg(short = 'n', long)]
    dry_run: bool,

    /// Stages run at once (default 1; independent stages only)
    #[arg(short, long, value_name = "N", default_value_t = 1)]
    jobs: usize,

    /// After a failure, keep running stages that do not depend on it
    #[arg(short, long)]
    keep_going: bool,

    /// Also look for run-cache entries on the remote (restores outputs computed elsewhere, e.g.
    /// by CI, instead of recomputing them)
    #[arg(long)]
    pull_run_cache: bool,

    /// The remote for `--pull-run-cache` (default: `core.remote`)
    #[arg(short, long, value_name = "NAME", requires = "pull_run_cache")]
    remote: Option<String>,

    /// Do not record a run on HEAD afterwards
    #[arg(long)]
    no_record: bool,

    /// Print the summary as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, args: RunArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    ws.require_initialised()?;
    let remote = if args.pull_run_cache {
        Some(super::transfer::open(&ws, args.remote.as_deref(), None)?.0)
    } else {
        None
    };
    let opts = RunOptions {
        remote: remote.as_deref(),
        stages: args.stages.clone(),
        force: args.force,
        dry_run: args.dry_run,
        jobs: args.jobs,
        keep_going: args.keep_going,
    };
    let print = |stage: &str, line: &str| {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "[{stage}] {line}");
    };
    let report = gitml::pipeline::run::run(&ws, &opts, &print)?;
    let results = report.stages;
    let failed = results.iter().any(|r| r.outcome == StageOutcome::Failed);
    let changed = results
        .iter()
        .any(|r| matches!(r.outcome, StageOutcome::Ran | StageOutcome::Restored));
    let mut recorded = None;
    if changed && !failed && !report.interrupted && !args.no_record && !args.dry_run {
        let dag = gitml::pipeline::run::load(&ws)?;
        let lock = gitml::pipeline::lockfile::LockFile::load(ws.root())?;
        let duration = results.iter().map(|r| r.seconds).sum();
        match gitml::record::capture::record_pipeline(
            &ws,
            &dag.stages,
            &lock,
            "git ml run",
            duration,
        ) {
            Ok(r) => recorded = Some(r),
            Err(e) => warning!("the run was not recorded: {e}"),
        }
    }
    if args.json {
        if let Some(r) = &recorded {
            for w in &r.warnings {
                warning!("{}", output::shown(&w.message));
            }
        }
        output::json(&serde_json::json!({
            "stages": results,
            "recorded": recorded.as_ref().map(|r| &r.run.id),
            "recorded_on": recorded.as_ref().and_then(|r| r.commit.as_ref()),
            "pending": recorded.as_ref().and_then(|r| r.pending.as_ref()),
            "interrupted": report.interrupted,
        }))?;
    } else {
        // Quiet when nothing happened: up-to-date stages are one line, their rows only with -v.
        let skipped = results
            .iter()
            .filter(|r| r.outcome == StageOutcome::Skipped)
            .count();
        let shown: Vec<&gitml::pipeline::run::StageResult> = results
            .iter()
            .filter(|r| ctx.verbose > 0 || r.outcome != StageOutcome::Skipped)
            .filter(|r| !ctx.quiet || r.outcome == StageOutcome::Failed)
            .collect();
        let mut table = output::table();
        table.set_header(["stage", "result", "time", "why"]);
        for r in &shown {
            use gitml::report::diff::Tone;
            let what = match r.outcome {
                StageOutcome::Skipped => "up to date".into(),
                StageOutcome::Ran => output::tone(Tone::Good, "ran"),
                StageOutcome::Restored => output::tone(Tone::Good, "restored from run cache"),
                StageOutcome::WouldRun => output::tone(Tone::Warn, "would run"),
                StageOutcome::Failed => output::tone(Tone::Bad, "FAILED"),
                StageOutcome::NotRun => output::tone(Tone::Warn, "not run"),
            };
            let why = match &r.error {
                Some(e) => e.clone(),
                None => r.reasons.join("; "),
            };
            let [stage, seconds, why] =
                output::cells([r.stage.clone(), format!("{:.1} s", r.seconds), why])
                    .try_into()
                    .expect("three cells");
            table.add_row([stage, what, seconds, why]);
        }
        if !shown.is_empty() {
            output::print_table(&table);
        }
        if skipped > 0 && !ctx.quiet && ctx.verbose == 0 {
            let all = if skipped == results.len() {
                ""
            } else {
                "other "
            };
            outln!(
                "{} up to date",
                output::plural(
                    skipped as u64,
                    &format!("{all}stage"),
                    &format!("{all}stages")
                )
            );
        }
        if let Some(r) = &recorded {
            super::record::describe(r, ctx.quiet);
        }
    }
    if report.interrupted {
        eprintln!(
            "interrupted: running stages were stopped; stages that finished before are in gitml.lock"
        );
        return Ok(Outcome::Interrupted);
    }
    if failed {
        // The table (stdout) has a row per failed stage; the error (stderr) says why too, so a
        // script that keeps only stderr, or a CI log, has the reason.
        let failures: Vec<String> = results
            .iter()
            .filter(|r| r.outcome == StageOutcome::Failed)
            .map(|r| match &r.error {
                // The error names its stage already.
                Some(e) => output::shown(e).into_owned(),
                None => format!("stage `{}` failed", output::shown(&r.stage)),
            })
            .collect();
        return Err(gitml::Error::Other(match failures.as_slice() {
            [one] => one.clone(),
            many => format!(
                "{} failed:\n  {}",
                output::plural(many.len() as u64, "stage", "stages"),
                many.join("\n  ")
            ),
        }));
    }
    Ok(Outcome::Ok)
}
