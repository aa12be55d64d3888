use clap::{Args, Subcommand};
use serde::Serialize;

use gitml::remote::edit::{self, NewRemote};

use super::{Ctx, Outcome, output};

/// Add, list and remove remotes (where data is pushed to and pulled from)
///
/// Remotes live in `gitml.toml` as `[remotes.NAME]`, so everyone who clones gets them; `--local`
/// keeps one on this machine only (`.git/gitml/config.toml`). Credentials are never written
/// here: use `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, an AWS profile, or the local config.
#[derive(Args)]
pub struct RemoteArgs {
    #[command(subcommand)]
    command: RemoteCommand,
}

#[derive(Subcommand)]
enum RemoteCommand {
    /// Add a remote: a directory (`/mnt/store`, `file://...`), `s3://bucket/prefix`,
    /// `gs://bucket/prefix`, `az://container/prefix`, or `https://...` (read-only)
    Add(AddArgs),
    /// List remotes (`*` marks the default)
    List {
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
    /// Remove a remote's settings (the data on it is not touched)
    Remove {
        name: String,
        /// Remove it from the machine-local config instead of `gitml.toml`
        #[arg(long)]
        local: bool,
    },
    /// Make a remote the default (`core.remote`)
    Default {
        name: String,
        /// Set it for this machine only
        #[arg(long)]
        local: bool,
    },
}

#[derive(Args)]
struct AddArgs {
    name: String,
    url: String,
    /// Make it the default remote
    #[arg(short = 'd', long)]
    default: bool,
    /// Endpoint: an S3-compatible server (`http://127.0.0.1:8333`: SeaweedFS, MinIO, Ceph, R2),
    /// a GCS base URL or an Azure blob endpoint (emulators, sovereign clouds)
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// Region (S3; default `AWS_REGION`, else us-east-1)
    #[arg(long)]
    region: Option<String>,
    /// Address buckets in the path (the default) or, with `--path-style=false`, in the host name
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    path_style: Option<bool>,
    /// Allow plain HTTP to the endpoint
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    allow_http: Option<bool>,
    /// AWS profile (from `~/.aws/credentials`) holding the keys
    #[arg(long)]
    profile: Option<String>,
    /// Azure storage account (default `AZURE_STORAGE_ACCOUNT_NAME`)
    #[arg(long)]
    account: Option<String>,
    /// Unsigned requests, for a public bucket or container (no credentials needed)
    #[arg(long)]
    anonymous: bool,
    /// Write to the machine-local config instead of `gitml.toml`
    #[arg(long)]
    local: bool,
}

#[derive(Serialize)]
struct Listed {
    name: String,
    url: String,
    kind: &'static str,
    default: bool,
    endpoint: Option<String>,
    region: Option<String>,
}

pub fn run(ctx: &Ctx, args: RemoteArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    let project = ws.root().join(gitml::config::PROJECT_FILE);
    let local = ws.gitml_dir().join(gitml::config::LOCAL_FILE);
    let file = |l: bool| if l { local.clone() } else { project.clone() };
    match args.command {
        RemoteCommand::Add(a) => {
            let r = NewRemote {
                name: a.name.clone(),
                url: a.url.clone(),
                endpoint: a.endpoint,
                region: a.region,
                path_style: a.path_style,
                allow_http: a.allow_http,
                profile: a.profile,
                account: a.account,
                anonymous: a.anonymous,
            };
            // Credentials in a URL are for this machine only: gitml.toml is committed.
            for (what, text) in [("URL", Some(&a.url)), ("endpoint", r.endpoint.as_ref())] {
                if let Some(text) = text
                    && !gitml::error::userinfo_ranges(text).is_empty()
                    && !a.local
                {
                    return Err(gitml::Error::RemoteConfig {
                        remote: a.name.clone(),
                        message: format!(
                            "the {what} carries credentials (`user:password@`), and gitml.toml is committed; add it with `--local` (this machine's `.git/gitml/config.toml`), or give the credentials through the environment"
                        ),
                    });
                }
            }
            // Validate before writing: the URL must name a kind we support.
            let spec = gitml::remote::RemoteSpec::new(&a.name, &a.url);
            let kind = spec.kind(ws.root())?;
            let first = gitml::remote::list(&ws.config)?.is_empty();
            edit::add(&file(a.local), &r)?;
            if a.default || (first && ws.config.remote.is_none()) {
                edit::set_default(&file(a.local), &a.name)?;
            }
            if !ctx.quiet {
                eprintln!(
                    "added {} remote `{}` ({})",
                    kind.name(),
                    a.name,
                    gitml::error::redact(&a.url)
                );
            }
        }
        RemoteCommand::List { json } => {
            let default = gitml::remote::choose(&ws.config, None).ok().map(|s| s.name);
            let mut out = Vec::new();
            for s in gitml::remote::list(&ws.config)? {
                let kind = s.kind(ws.root()).map(|k| k.name()).unwrap_or("invalid");
                out.push(Listed {
                    default: default.as_deref() == Some(s.name.as_str()),
                    name: s.name,
                    url: gitml::error::redact(&s.url),
                    kind,
                    endpoint: s.endpoint.as_deref().map(gitml::error::redact),
                    region: s.region,
                });
            }
            if json {
                output::json(&out)?;
            } else {
                for l in &out {
                    let mark = if l.default { "*" } else { " " };
                    let endpoint = l
                        .endpoint
                        .as_deref()
                        .map(|e| format!(" (endpoint {e})"))
                        .unwrap_or_default();
                    outln!("{mark} {}\t{}\t{}{endpoint}", l.name, l.kind, l.url);
                }
            }
        }
        RemoteCommand::Remove { name, local } => {
            if !edit::remove(&file(local), &name)? {
                return Err(gitml::Error::UnknownRemote {
                    name,
                    known: gitml::remote::list(&ws.config)?
                        .into_iter()
                        .map(|s| s.name)
                        .collect(),
                });
            }
            if !ctx.quiet {
                eprintln!("removed remote `{name}`; the data on it was not touched");
            }
        }
        RemoteCommand::Default { name, local } => {
            gitml::remote::spec(&ws.config, &name)?;
            edit::set_default(&file(local), &name)?;
        }
    }
    Ok(Outcome::Ok)
}
