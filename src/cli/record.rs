use std::path::PathBuf;

use clap::Args;

use super::{Ctx, Outcome, output};

/// Record a run on HEAD: metrics, params, data and model digests, in a git note
///
/// Reads the metrics and params files declared in `gitml.toml` (`[metrics] files`, `[params]
/// files`) plus any given here, the digests of every tracked path from its pointer, and where the
/// run happened (local, or the CI run's URL). Several runs per commit are normal (seeds, reruns).
/// A run belongs to the commit whose inputs produced it: when tracked files (other than the
/// metrics files read) or tracked data differ from HEAD, the run waits as a pending run and is
/// recorded on the commit that carries them. `--allow-dirty` records it on HEAD anyway, marked
/// dirty (it is then never used as HEAD's metrics).
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

    /// Record on HEAD even though tracked files differ from it (the run is marked dirty)
    #[arg(long)]
    allow_dirty: bool,

    /// Copy the runs of REV to HEAD instead (after a squash or rebase merge); refused unless
    /// both commits have the same files
    #[arg(long, value_name = "REV", conflicts_with_all = ["metrics_files", "metrics", "params_files", "params", "tags"])]
    from: Option<String>,

    /// Forget a pending run (by its run id or name, see `git ml show --pending`)
    #[arg(long, value_name = "ID", conflicts_with_all = ["metrics_files", "metrics", "params_files", "params", "tags", "from"])]
    drop_pending: Option<String>,

    /// Print the recorded run as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, args: RecordArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    ws.require_initialised()?;
    if let Some(id) = &args.drop_pending {
        gitml::record::pending::drop(&ws, id)?;
        if !ctx.quiet {
            eprintln!("dropped pending run `{}`", output::shown(id));
        }
        return Ok(Outcome::Ok);
    }
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
    if args.json {
        for w in &rec.warnings {
            warning!("{}", output::shown(&w.message));
        }
        output::json(&rec)?;
    } else {
        describe(&rec, ctx.quiet);
    }
    Ok(Outcome::Ok)
}

/// Say where a run went: on HEAD, pending, or both (`record` and `run` share this).
pub fn describe(rec: &gitml::record::capture::Recorded, quiet: bool) {
    for w in &rec.warnings {
        warning!("{}", output::shown(&w.message));
    }
    if quiet {
        return;
    }
    let what = format!(
        "{}, {}",
        output::plural(rec.run.metrics.len() as u64, "metric", "metrics"),
        output::plural(rec.run.params.len() as u64, "param", "params")
    );
    match (&rec.commit, &rec.pending) {
        (Some(c), None) => eprintln!(
            "recorded run {} on HEAD ({}): {what}{}",
            rec.run.id,
            &c[..12],
            if rec.run.dirty { " (dirty)" } else { "" }
        ),
        (Some(c), Some(_)) => eprintln!(
            "recorded run {} on HEAD ({}): {what}; the commit that adds its outputs gets it too",
            rec.run.id,
            &c[..12]
        ),
        (None, _) => {
            eprintln!(
                "run {} is pending ({what}): its inputs are not HEAD's, so it will be recorded on the commit that carries them",
                rec.run.id
            );
            eprintln!(
                "hint: commit the changes; the post-commit hook, or the next git-ml command that reads that commit, attaches the run (`git ml show --pending` lists pending runs)"
            );
        }
    }
}
