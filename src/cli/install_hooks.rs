use clap::Args;

use gitml::hooks::{self, Action};

use super::{Ctx, Outcome, output};

/// Install git-ml's git hooks, beside the ones already there
///
/// Writes the shims (pre-commit, pre-push, post-checkout, post-merge, post-commit,
/// post-rewrite) into the directory git runs hooks from (`core.hooksPath` honoured; linked
/// worktrees share it). A hook already there is kept as `NAME.pre-gitml` and runs first, with the
/// same arguments and input; its failure stops the chain. Where chaining is not safe (a symlinked
/// hook, a hooks directory inside the work tree such as husky's), nothing is written and the line
/// to add is printed. Running it again changes nothing.
#[derive(Args)]
pub struct InstallHooksArgs {
    /// Chain also with hooks in a hooks directory inside the work tree
    #[arg(long)]
    force: bool,

    /// Only show what would be written
    #[arg(long)]
    print: bool,

    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

/// Remove git-ml's git hooks, putting back the hooks they were chained with
#[derive(Args)]
pub struct UninstallHooksArgs {
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

pub fn install(ctx: &Ctx, args: InstallHooksArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    let plans = hooks::plan_install(&ws, args.force)?;
    if !args.print {
        hooks::apply(&plans)?;
    }
    let manual = plans
        .iter()
        .filter(|p| matches!(p.action, Action::Manual { .. }))
        .count();
    if args.json {
        output::json(&plans)?;
    } else {
        for p in &plans {
            let path = output::shown(&p.path.display().to_string()).into_owned();
            let would = if args.print { "would " } else { "" };
            match &p.action {
                Action::Install => outln!("{would}install {path}"),
                Action::Update => outln!("{would}update {path}"),
                Action::Unchanged => {
                    if !ctx.quiet {
                        outln!("unchanged {path}")
                    }
                }
                Action::Chain { original } => outln!(
                    "{would}chain {path} (the hook that was there runs first, kept as {original})"
                ),
                Action::Manual { reason, snippet } => {
                    outln!("left {path} alone: {reason}");
                    outln!("  add to it:");
                    for l in snippet.lines() {
                        outln!("    {l}");
                    }
                }
                Action::Remove { .. } | Action::Absent => {}
            }
            if args.print
                && let Some(c) = &p.content
            {
                outln!("--- {path}");
                out!("{c}");
            }
        }
    }
    Ok(if manual > 0 {
        Outcome::Found
    } else {
        Outcome::Ok
    })
}

pub fn uninstall(ctx: &Ctx, args: UninstallHooksArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    let done = hooks::uninstall(&ws)?;
    if args.json {
        output::json(&done)?;
    } else if !ctx.quiet {
        for p in &done {
            if let Action::Remove { restored } = p.action {
                outln!(
                    "removed {}{}",
                    output::shown(&p.path.display().to_string()),
                    if restored {
                        " (the hook it chained with is back)"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    Ok(Outcome::Ok)
}
