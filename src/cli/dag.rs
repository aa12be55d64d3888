use clap::{Args, ValueEnum};

use super::{Ctx, Outcome};

/// Print the pipeline's stage graph (from `[stages.*]` in gitml.toml)
#[derive(Args)]
pub struct DagArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,

    /// Same as `--format mermaid`
    #[arg(long, conflicts_with = "format")]
    mermaid: bool,

    /// Same as `--format dot`
    #[arg(long, conflicts_with_all = ["format", "mermaid"])]
    dot: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Mermaid,
    Dot,
}

pub fn run(ctx: &Ctx, args: DagArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    ws.require_initialised()?;
    let dag = gitml::pipeline::run::load(&ws)?;
    let format = if args.mermaid {
        "mermaid"
    } else if args.dot {
        "dot"
    } else {
        match args.format {
            Format::Text => "text",
            Format::Mermaid => "mermaid",
            Format::Dot => "dot",
        }
    };
    out!("{}", dag.render(format));
    Ok(Outcome::Ok)
}
