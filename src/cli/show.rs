use clap::Args;

use super::{Ctx, Outcome, output};

/// Show the runs recorded on a revision (default HEAD)
///
/// Without records, shows the revision's declared metrics and params files, and says so.
#[derive(Args)]
pub struct ShowArgs {
    /// The revision
    #[arg(default_value = "HEAD")]
    rev: String,

    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, args: ShowArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    ws.require_initialised()?;
    let mut batch = gitml::git::Batch::new(ws.root())?;
    let commit = batch.commit(&args.rev)?;
    let declared = gitml::record::capture::Declared::from_project(&ws.config.project)?;
    let snap = gitml::record::capture::snapshot_at(&mut batch, &commit, &declared)?;
    for w in &snap.warnings {
        eprintln!("warning: {}", w.message);
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
    println!("commit {} ({origin})", commit);
    for r in &snap.runs {
        if snap.origin == gitml::record::Origin::Record {
            let mut head = format!("\nrun {}  {}  {}", r.id, r.time, r.source.kind);
            if let Some(u) = &r.source.url {
                head.push_str(&format!(" {u}"));
            }
            if r.dirty {
                head.push_str("  (dirty)");
            }
            println!("{head}");
            if let Some(c) = &r.command {
                println!("  command   {c}");
            }
            if let Some(d) = r.duration {
                println!("  duration  {d:.1} s");
            }
        }
        for (k, v) in &r.metrics {
            println!("  metric    {k} = {v}");
        }
        for (k, v) in &r.params {
            println!("  param     {k} = {v}");
        }
        for (k, v) in &r.models {
            println!("  model     {k} = {v}");
        }
        for (k, v) in &r.tags {
            println!("  tag       {k} = {v}");
        }
    }
    Ok(Outcome::Ok)
}
