use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use gitml::registry::{self, Policy};

use super::{Ctx, Outcome, output};

/// The model registry: versions and stages as git tags (GTO's format)
///
/// `register` tags a commit `NAME@vX.Y.Z` with the model's hash, the commit's metrics and the data
/// digests in the tag message; `promote` assigns a stage (`NAME#STAGE#N`); `deprecate` removes a
/// stage, a version or the model. Models are declared as `[models.NAME] path = "..."`. Tags travel
/// with `git ml push`/`pull` and are never moved or force-pushed.
#[derive(Args)]
pub struct ModelArgs {
    #[command(subcommand)]
    command: ModelCommand,
}

#[derive(Subcommand)]
enum ModelCommand {
    /// Register a version of NAME on REV (default HEAD)
    #[command(disable_version_flag = true)]
    Register {
        name: String,
        /// The commit to register
        #[arg(default_value = "HEAD")]
        rev: String,
        /// The version, e.g. v1.2.0
        #[arg(long, conflicts_with = "bump")]
        version: Option<String>,
        /// Or: the latest version bumped (default patch; v0.1.0 for the first)
        #[arg(long, value_parser = ["major", "minor", "patch"])]
        bump: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Assign a stage to NAME[@vX.Y.Z] (default: the latest version)
    Promote {
        /// NAME or NAME@vX.Y.Z
        model: String,
        stage: String,
        #[arg(long)]
        json: bool,
    },
    /// Deprecate NAME, deregister NAME@vX.Y.Z, or unassign STAGE from NAME@vX.Y.Z
    Deprecate {
        /// NAME or NAME@vX.Y.Z
        model: String,
        stage: Option<String>,
    },
    /// The latest version of each model and what is in each stage
    Show {
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Every registry event of NAME, in order
    History {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Fetch a model's artifact by hash (cache, else the default remote) into DIR
    Get {
        /// NAME, NAME@vX.Y.Z or NAME#STAGE
        spec: String,
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
    },
}

fn split_version(model: &str) -> (&str, Option<&str>) {
    match model.split_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (model, None),
    }
}

pub fn run(ctx: &Ctx, args: ModelArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    ws.require_initialised()?;
    let root = ws.root();
    match args.command {
        ModelCommand::Register {
            name,
            rev,
            version,
            bump,
            json,
        } => {
            let r =
                registry::register_model(&ws, &name, &rev, version.as_deref(), bump.as_deref())?;
            let (tag, commit, lineage) = (r.tag, r.commit, r.lineage);
            if json {
                output::json(
                    &serde_json::json!({ "tag": tag, "commit": commit, "lineage": lineage }),
                )?;
            } else {
                outln!("registered `{tag}` on {}", &commit[..12]);
            }
        }
        ModelCommand::Promote { model, stage, json } => {
            let policy = Policy::from_project(&ws.config.project)?;
            let (name, version) = split_version(&model);
            let (tag, version) = registry::promote(root, &policy, name, version, &stage)?;
            if json {
                output::json(
                    &serde_json::json!({ "tag": tag, "version": version, "stage": stage }),
                )?;
            } else {
                outln!("promoted `{name}@{version}` to `{stage}` (tag `{tag}`)");
            }
        }
        ModelCommand::Deprecate { model, stage } => {
            let (name, version) = split_version(&model);
            if stage.is_some() && version.is_none() {
                return Err(gitml::Error::Other(
                    "unassigning a stage needs the version: NAME@vX.Y.Z STAGE".into(),
                ));
            }
            let tag = registry::deprecate(root, name, version, stage.as_deref())?;
            outln!("created `{tag}`");
        }
        ModelCommand::Show { name, json } => {
            let all = registry::events(root)?;
            let models: Vec<registry::Model> = registry::models(&all)
                .into_values()
                .filter(|m| name.as_deref().is_none_or(|n| n == m.name))
                .collect();
            if let Some(n) = &name
                && models.is_empty()
            {
                return Err(gitml::Error::Other(format!("no model `{n}` is registered")));
            }
            if json {
                #[derive(serde::Serialize)]
                struct Shown<'a> {
                    name: &'a str,
                    latest: Option<&'a str>,
                    versions: Vec<&'a str>,
                    stages: &'a std::collections::BTreeMap<String, String>,
                    deprecated: bool,
                }
                let out: Vec<Shown> = models
                    .iter()
                    .map(|m| Shown {
                        name: &m.name,
                        latest: m.latest().map(|v| v.0.as_str()),
                        versions: m.versions.iter().map(|v| v.0.as_str()).collect(),
                        stages: &m.stages,
                        deprecated: m.deprecated,
                    })
                    .collect();
                output::json(&out)?;
            } else {
                for m in &models {
                    let stages: Vec<String> =
                        m.stages.iter().map(|(s, v)| format!("{s}: {v}")).collect();
                    outln!(
                        "{}  latest {}{}{}",
                        m.name,
                        m.latest().map_or("-", |v| v.0.as_str()),
                        if stages.is_empty() {
                            String::new()
                        } else {
                            format!("  [{}]", stages.join(", "))
                        },
                        if m.deprecated { "  (deprecated)" } else { "" }
                    );
                }
            }
        }
        ModelCommand::History { name, json } => {
            let mut all: Vec<registry::Tagged> = registry::events(root)?
                .into_iter()
                .filter(|e| e.name == name)
                .collect();
            if all.is_empty() {
                return Err(gitml::Error::Other(format!(
                    "no model `{name}` is registered"
                )));
            }
            all.sort_by(|a, b| a.date.cmp(&b.date).then(a.tag.cmp(&b.tag)));
            if json {
                output::json(&all)?;
            } else {
                for e in &all {
                    outln!("{}  {}  {}  {}", e.date, e.tag, &e.commit[..10], e.tagger);
                }
            }
        }
        ModelCommand::Get { spec, output: dir } => {
            let (name, version, commit) = registry::resolve(root, &spec)?;
            let declared = gitml::record::capture::Declared::from_project(&ws.config.project)?;
            let path = declared.models.get(&name).cloned().ok_or_else(|| {
                gitml::Error::Other(format!("no `[models.{name}]` in gitml.toml"))
            })?;
            let mut batch = gitml::git::Batch::new(root)?;
            let found = batch.pointers(&commit, std::slice::from_ref(&path))?;
            let p = found.into_iter().find(|p| p.path == path).ok_or_else(|| {
                gitml::Error::Other(format!("`{path}` is not tracked at `{name}@{version}`"))
            })?;
            let target = gitml::remote::transfer::Target {
                path: p.path.clone(),
                kind: p.pointer.kind,
                oid: p.pointer.oid,
                size: p.pointer.size,
            };
            // Fetch whatever the cache lacks from the default remote (verified by hash).
            let missing = match p.pointer.kind {
                gitml::data::pointer::Kind::File => !ws.cache.contains(&p.pointer.oid),
                gitml::data::pointer::Kind::Dir => gitml::data::load_manifest(&ws, p.pointer.oid, &path)
                    .map(|m| m.entries.iter().any(|e| matches!(&e.kind, gitml::data::manifest::EntryKind::File { oid, .. } if !ws.cache.contains(oid))))
                    .unwrap_or(true),
            };
            if missing {
                let (remote, jobs) = super::transfer::open(&ws, None, None)?;
                let r = gitml::remote::transfer::fetch(
                    &ws,
                    remote.as_ref(),
                    &[target],
                    jobs,
                    &ctx.progress(),
                )?;
                super::transfer::finish(
                    &r,
                    "fetched",
                    "from",
                    false,
                    ctx.quiet,
                    super::fetch::MISSING_HINT,
                )?;
            }
            let dest = materialise(&ws, &p.pointer, &path, &dir)?;
            outln!("{name}@{version} -> `{}`", dest.display());
        }
    }
    Ok(Outcome::Ok)
}

/// Copy a tracked artifact out of the cache into `dir` (named as in the repository).
fn materialise(
    ws: &gitml::Workspace,
    p: &gitml::data::pointer::Pointer,
    path: &str,
    dir: &Path,
) -> gitml::Result<PathBuf> {
    use gitml::data::manifest::EntryKind;
    let base = path.rsplit('/').next().unwrap_or(path);
    let dest = dir.join(base);
    fs_err::create_dir_all(dir)?;
    // A verified copy, renamed into place: a corrupt cache object never becomes the artifact.
    let copier = gitml::data::link::Materialiser::new(&[gitml::config::LinkMode::Copy]);
    let place = |oid: &gitml::Oid, to: &Path, exec: bool| -> gitml::Result<()> {
        if let Some(parent) = to.parent() {
            fs_err::create_dir_all(parent)?;
        }
        copier.place(&ws.cache, oid, to, exec)?;
        Ok(())
    };
    match p.kind {
        gitml::data::pointer::Kind::File => place(&p.oid, &dest, p.executable)?,
        gitml::data::pointer::Kind::Dir => {
            let m = gitml::data::load_manifest(ws, p.oid, path)?;
            for e in &m.entries {
                let to = dest.join(&e.path);
                match &e.kind {
                    EntryKind::File {
                        oid, executable, ..
                    } => place(oid, &to, *executable)?,
                    EntryKind::EmptyDir => fs_err::create_dir_all(&to)?,
                    EntryKind::Symlink { target } => {
                        if let Some(parent) = to.parent() {
                            fs_err::create_dir_all(parent)?;
                        }
                        let _ = std::fs::remove_file(&to);
                        std::os::unix::fs::symlink(target, &to)?;
                    }
                }
            }
        }
    }
    Ok(dest)
}
