use std::io::Write;

use clap::Args;

use gitml::pipeline::run::{Outcome as StageOutcome, RunOptions};

use super::{Ctx, Outcome, output};

/// Run the pipeline's stale stages (`[stages.*]` in gitml.toml), in dependency order
///
/// A stage runs when its cmd, a dep, a param it names, or one of its outputs differs from its
/// entry in `gitml.lock`. If the same inputs ran before, its outputs are restored from the run
/// cache instead. Independent stages run in parallel (`-j`); output lines carry the stage name.
/// After a successful run its metrics and params are recorded on HEAD (`--no-record` to skip).
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
        let metrics_files = dag
            .stages
            .iter()
            .flat_map(|s| s.metrics.iter().map(|m| ws.abs(m)))
            .filter(|p| p.is_file())
            .collect();
        // The params files stages read (beyond those declared in [params], which are always read).
        let declared =
            gitml::record::capture::Declared::from_project(&ws.config.project)?.params_files;
        let mut params_files: Vec<std::path::PathBuf> = Vec::new();
        for s in &dag.stages {
            for p in &s.params {
                let path = ws.abs(&p.file);
                if !declared.contains(&p.file) && path.is_file() && !params_files.contains(&path) {
                    params_files.push(path);
                }
            }
        }
        let opts = gitml::record::capture::RecordOptions {
            metrics_files,
            params_files,
            command: Some("git ml run".into()),
            duration: Some(results.iter().map(|r| r.seconds).sum()),
            allow_dirty: true,
            ..Default::default()
        };
        match gitml::record::capture::record(&ws, &opts) {
            Ok(r) => recorded = Some(r.run.id),
            Err(e) => eprintln!("warning: the run was not recorded: {e}"),
        }
    }
    if args.json {
        output::json(&serde_json::json!({
            "stages": results,
            "recorded": recorded,
            "interrupted": report.interrupted,
        }))?;
    } else {
        let mut table = comfy_table::Table::new();
        table.load_preset(comfy_table::presets::NOTHING);
        table.set_header(["stage", "result", "time", "why"]);
        for r in &results {
            let what = match r.outcome {
                StageOutcome::Skipped => "up to date",
                StageOutcome::Ran => "ran",
                StageOutcome::Restored => "restored from run cache",
                StageOutcome::WouldRun => "would run",
                StageOutcome::Failed => "FAILED",
                StageOutcome::NotRun => "not run",
            };
            let why = match &r.error {
                Some(e) => e.clone(),
                None => r.reasons.join("; "),
            };
            table.add_row([
                r.stage.clone(),
                what.to_string(),
                format!("{:.1} s", r.seconds),
                why,
            ]);
        }
        if !ctx.quiet || failed {
            eprintln!("{table}");
        }
        if let Some(id) = &recorded
            && !ctx.quiet
        {
            eprintln!("recorded run {id} on HEAD (commit the outputs' pointers and gitml.lock)");
        }
    }
    if report.interrupted {
        eprintln!(
            "interrupted: running stages were stopped; stages that finished before are in gitml.lock"
        );
        return Ok(Outcome::Interrupted);
    }
    if failed {
        return Err(gitml::Error::Other(format!(
            "{} failed",
            output::plural(
                results
                    .iter()
                    .filter(|r| r.outcome == StageOutcome::Failed)
                    .count() as u64,
                "stage",
                "stages"
            )
        )));
    }
    Ok(Outcome::Ok)
}
