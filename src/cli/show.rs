use clap::Args;

use super::{Ctx, Outcome, output};

/// Show the runs recorded on a revision (default HEAD), or the pending runs
///
/// Without records, shows the revision's declared metrics and params files (read through tracked
/// data when they live inside it), and says so. Runs recorded with uncommitted changes are listed
/// apart, as dirty: they are never the commit's metrics. `--pending` lists runs that wait for the
/// commit that carries their inputs.
#[derive(Args)]
pub struct ShowArgs {
    /// The revision
    #[arg(default_value = "HEAD")]
    rev: String,

    /// List the pending runs instead
    #[arg(long)]
    pending: bool,

    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

fn print_run(r: &gitml::record::Run, with_head: bool, label: &str) {
    if with_head {
        let mut head = format!("\nrun {}  {}  {}", r.id, r.time, r.source.kind);
        if let Some(u) = &r.source.url {
            head.push_str(&format!(" {u}"));
        }
        head.push_str(label);
        outln!("{}", output::shown(&head));
        if let Some(c) = &r.command {
            outln!("  command   {}", output::shown(c));
        }
        if let Some(d) = r.duration {
            outln!("  duration  {d:.1} s");
        }
    }
    for (k, v) in &r.metrics {
        outln!(
            "  metric    {} = {}",
            output::shown(k),
            output::shown(&v.to_string())
        );
    }
    for (k, v) in &r.params {
        outln!(
            "  param     {} = {}",
            output::shown(k),
            output::shown(&v.to_string())
        );
    }
    for (k, v) in &r.models {
        outln!("  model     {} = {v}", output::shown(k));
    }
    for (k, v) in &r.tags {
        outln!("  tag       {} = {}", output::shown(k), output::shown(v));
    }
}

pub fn run(ctx: &Ctx, args: ShowArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    ws.require_initialised()?;
    if args.pending {
        let pending = gitml::record::pending::list(&ws);
        if args.json {
            let list: Vec<_> = pending
                .iter()
                .map(|(_, p)| {
                    serde_json::json!({
                        "name": p.fingerprint(),
                        "base": p.base,
                        "inputs": p.inputs,
                        "run": p.run,
                    })
                })
                .collect();
            output::json(&list)?;
            return Ok(Outcome::Ok);
        }
        for (_, p) in &pending {
            print_run(
                &p.run,
                true,
                &format!("  (pending, made on {})", &p.base[..12]),
            );
        }
        if pending.is_empty() && !ctx.quiet {
            eprintln!("no pending runs");
        }
        return Ok(Outcome::Ok);
    }
    let mut reader = gitml::record::at::Reader::new(&ws)?;
    let commit = reader.batch.commit(&args.rev)?;
    let declared = gitml::record::capture::Declared::from_project(&ws.config.project)?;
    let snap = gitml::record::capture::snapshot_at(&mut reader, &commit, &declared)?;
    for w in &snap.warnings {
        warning!("{}", output::shown(&w.message));
    }
    if args.json {
        output::json(&snap)?;
        return Ok(Outcome::Ok);
    }
    let origin = match snap.origin {
        gitml::record::Origin::Record => "run records",
        gitml::record::Origin::Files => "no run records; values from the files in its tree",
        _ => "no run records and no metrics files",
    };
    outln!("commit {commit} ({origin})");
    for r in &snap.runs {
        print_run(r, snap.origin == gitml::record::Origin::Record, "");
    }
    for r in &snap.dirty {
        print_run(
            r,
            true,
            "  (dirty: recorded with uncommitted changes; not this commit's metrics)",
        );
    }
    Ok(Outcome::Ok)
}
