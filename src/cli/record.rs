use std::path::PathBuf;

use clap::Args;

use super::{Ctx, Outcome, output};

/// Record a run on HEAD: metrics, params, data and model digests, in a git note
///
/// Reads the metrics and params files declared in `gitml.toml` (`[metrics] files`, `[params]
/// files`) plus any given here, the digests of every tracked path from its pointer, and where the
/// run happened (local, or the CI run's URL). Several runs per commit are normal (seeds, reruns).
/// Refuses when tracked files differ from the commit, unless `--allow-dirty`.
#[derive(Args)]
pub struct RecordArgs {
    /// A metrics file to read (JSON, YAML or TOML; nested keys become `a.b`)
    #[arg(long = "metrics", value_name = "FILE")]
    metrics_files: Vec<PathBuf>,

    /// A metric value, e.g. `--metric acc=0.91`
    #[arg(long = "metric", value_name = "NAME=VALUE")]
    metrics: Vec<String>,

    /// A params file to read
    #[arg(long = "params", value_name = "FILE")]
    params_files: Vec<PathBuf>,

    /// A param value, e.g. `--param lr=0.01`
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,

    /// A free-form tag, e.g. `--tag seed=3`
    #[arg(long = "tag", value_name = "NAME=VALUE")]
    tags: Vec<String>,

    /// The command that produced the run
    #[arg(long, value_name = "CMD")]
    command: Option<String>,

    /// How long the run took, in seconds
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,

    /// Record even though tracked files differ from the commit (the run is marked dirty)
    #[arg(long)]
    allow_dirty: bool,

    /// Copy the runs of REV to HEAD instead (after a squash or rebase merge); refused unless
    /// both commits have the same files
    #[arg(long, value_name = "REV", conflicts_with_all = ["metrics_files", "metrics", "params_files", "params", "tags"])]
    from: Option<String>,

    /// Print the recorded run as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, args: RecordArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    ws.require_initialised()?;
    if let Some(rev) = &args.from {
        let (head, n) = gitml::record::capture::copy_from(&ws, rev)?;
        if args.json {
            output::json(&serde_json::json!({ "commit": head, "copied": n, "from": rev }))?;
        } else if !ctx.quiet {
            eprintln!(
                "copied {} from `{rev}` to {}",
                output::plural(n as u64, "run", "runs"),
                &head[..12]
            );
        }
        return Ok(Outcome::Ok);
    }
    let opts = gitml::record::capture::RecordOptions {
        metrics_files: args.metrics_files,
        metrics: args.metrics,
        params_files: args.params_files,
        params: args.params,
        tags: args.tags,
        command: args.command,
        duration: args.duration,
        allow_dirty: args.allow_dirty,
    };
    let rec = gitml::record::capture::record(&ws, &opts)?;
    for w in &rec.warnings {
        eprintln!("warning: {}", w.message);
    }
    if args.json {
        output::json(&rec)?;
    } else if !ctx.quiet {
        eprintln!(
            "recorded run {} on {}: {}, {}{}",
            rec.run.id,
            &rec.commit[..12],
            output::plural(rec.run.metrics.len() as u64, "metric", "metrics"),
            output::plural(rec.run.params.len() as u64, "param", "params"),
            if rec.run.dirty { " (dirty)" } else { "" }
        );
    }
    Ok(Outcome::Ok)
}
