use clap::Args;

use super::{Ctx, Outcome, output};

/// Re-hash every cache object and report any whose content no longer matches its name
///
/// Exit code 1 when damaged objects are found.
#[derive(Args)]
pub struct VerifyArgs {
    /// Move damaged objects to `<cache>/quarantine/` so they are never used
    #[arg(long)]
    quarantine: bool,

    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, args: VerifyArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    let report = gitml::data::verify::verify(&ws, args.quarantine, &ctx.progress())?;
    if args.json {
        output::json(&report)?;
    } else {
        for c in &report.corrupt {
            let q = if c.quarantined { " (quarantined)" } else { "" };
            outln!("corrupt {}: content is {}{q}", c.oid, c.actual);
        }
        if !ctx.quiet {
            eprintln!(
                "verified {} ({}): {}",
                output::plural(report.objects, "object", "objects"),
                output::size(report.bytes),
                if report.corrupt.is_empty() {
                    "all intact".to_string()
                } else {
                    format!("{} corrupt", report.corrupt.len())
                }
            );
            if !report.corrupt.is_empty() && !args.quarantine {
                eprintln!(
                    "hint: `git ml verify --quarantine` sets them aside; then re-add the data or fetch it again"
                );
            }
        }
    }
    Ok(if report.corrupt.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Found
    })
}
