use std::path::PathBuf;

use clap::Args;

use gitml::data::pointer::Kind;
use gitml::data::status::CacheState;

use super::{Ctx, Outcome, output};

/// List tracked paths with their size, file count and whether the cache holds them
#[derive(Args)]
pub struct LsArgs {
    /// Limit to these tracked paths (or directories containing them)
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, args: LsArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    ws.require_initialised()?;
    let tracked = ws.select_tracked(&args.paths)?;
    let listed = gitml::data::ls::ls(&ws, &tracked)?;
    if args.json {
        output::json(&listed)?;
        return Ok(Outcome::Ok);
    }
    let mut rows = Vec::new();
    for l in &listed {
        rows.push(vec![
            output::shown(&l.path).into_owned(),
            match l.kind {
                Kind::File => "file".into(),
                Kind::Dir => "dir".into(),
            },
            output::size(l.size),
            if l.kind == Kind::Dir {
                l.files.to_string()
            } else {
                "-".into()
            },
            match l.cache {
                CacheState::Present => "yes".into(),
                CacheState::Partial => "partial".into(),
                CacheState::Missing => "no".into(),
            },
            l.oid.short(),
        ]);
    }
    let table = output::path_table(&["PATH", "TYPE", "SIZE", "FILES", "CACHE", "OID"], rows);
    if !listed.is_empty() {
        output::print_table(&table);
    } else if !ctx.quiet {
        eprintln!("nothing tracked yet; track data with `git ml add <path>`");
    }
    Ok(Outcome::Ok)
}
