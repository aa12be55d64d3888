//! The model registry, kept in git tags in GTO's format so both tools read and write it:
//! `NAME@vX.Y.Z` registers a version on a commit, `NAME#STAGE#N` assigns a stage to the version on
//! that commit, `NAME#STAGE!#N` unassigns it, `NAME@vX.Y.Z!#N` deregisters a version and
//! `NAME@deprecated#N` deprecates the model. `N` counts the model's events.
//!
//! The invariant: tags are only ever added (never moved, never force-pushed); the state is a
//! replay of the events in `N` order, so two clones that promoted at once both keep their event,
//! and creating a tag is atomic (a second promotion that picked the same `N` retries with the
//! next).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::git;

/// One registry tag, parsed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Register { version: String },
    Deregister { version: String, n: u64 },
    Assign { stage: String, n: u64 },
    Unassign { stage: String, n: u64 },
    Deprecate { n: u64 },
}

/// A tag with its event and where it points.
#[derive(Debug, Clone, Serialize)]
pub struct Tagged {
    pub tag: String,
    pub name: String,
    #[serde(flatten)]
    pub event: Event,
    pub commit: String,
    /// Tag creation time (RFC 3339).
    pub date: String,
    pub tagger: String,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '/' || c == '.')
        && !name.starts_with(['-', '.'])
}

/// `v1.2.3` -> (1, 2, 3).
pub fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let mut parts = v.strip_prefix('v')?.split('.');
    let r = (
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    );
    parts.next().is_none().then_some(r)
}

/// Parse a tag name in GTO's format; `None` for any other tag.
pub fn parse_tag(tag: &str) -> Option<(String, Event)> {
    if let Some((name, rest)) = tag.split_once('@') {
        if !valid_name(name) {
            return None;
        }
        if let Some(n) = rest.strip_prefix("deprecated#") {
            return Some((name.into(), Event::Deprecate { n: n.parse().ok()? }));
        }
        if let Some((version, n)) = rest.split_once("!#") {
            parse_version(version)?;
            return Some((
                name.into(),
                Event::Deregister {
                    version: version.into(),
                    n: n.parse().ok()?,
                },
            ));
        }
        parse_version(rest)?;
        return Some((
            name.into(),
            Event::Register {
                version: rest.into(),
            },
        ));
    }
    let mut parts = tag.splitn(2, '#');
    let (name, rest) = (parts.next()?, parts.next()?);
    if !valid_name(name) {
        return None;
    }
    let (stage, n) = rest.rsplit_once('#')?;
    let n: u64 = n.parse().ok()?;
    if let Some(stage) = stage.strip_suffix('!') {
        return Some((
            name.into(),
            Event::Unassign {
                stage: stage.into(),
                n,
            },
        ));
    }
    valid_name(stage).then(|| {
        (
            name.into(),
            Event::Assign {
                stage: stage.into(),
                n,
            },
        )
    })
}

/// Every registry tag in the repository.
pub fn events(root: &Path) -> Result<Vec<Tagged>> {
    let out = git::run(
        root,
        &[
            "for-each-ref",
            "--format=%(refname:strip=2)%00%(objectname)%00%(*objectname)%00%(creatordate:iso-strict)%00%(taggername)%(authorname)",
            "refs/tags",
        ],
    )?;
    let mut all = Vec::new();
    for line in String::from_utf8_lossy(&out).lines() {
        let f: Vec<&str> = line.split('\0').collect();
        let [tag, obj, peeled, date, who] = f[..] else {
            continue;
        };
        let Some((name, event)) = parse_tag(tag) else {
            continue;
        };
        let commit = if peeled.is_empty() { obj } else { peeled };
        all.push(Tagged {
            tag: tag.into(),
            name,
            event,
            commit: commit.into(),
            date: date.into(),
            tagger: who.into(),
        });
    }
    Ok(all)
}

/// A model's state after replaying its events.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Model {
    pub name: String,
    /// Registered and not deregistered, oldest first: (version, commit).
    pub versions: Vec<(String, String)>,
    /// Stage -> the version in it.
    pub stages: BTreeMap<String, String>,
    pub deprecated: bool,
    /// The highest event number so far.
    pub last_n: u64,
}

impl Model {
    pub fn latest(&self) -> Option<&(String, String)> {
        self.versions
            .iter()
            .max_by_key(|(v, _)| parse_version(v).unwrap_or_default())
    }

    pub fn version_at(&self, commit: &str) -> Option<&str> {
        self.versions
            .iter()
            .find(|(_, c)| c == commit)
            .map(|(v, _)| v.as_str())
    }
}

/// Replay events into models.
pub fn models(events: &[Tagged]) -> BTreeMap<String, Model> {
    let mut by: BTreeMap<String, Model> = BTreeMap::new();
    // Registrations first (they carry no number), then numbered events in order.
    let mut sorted: Vec<&Tagged> = events.iter().collect();
    sorted.sort_by_key(|e| match &e.event {
        Event::Register { version } => (0, parse_version(version).unwrap_or_default(), 0),
        Event::Deregister { n, .. }
        | Event::Assign { n, .. }
        | Event::Unassign { n, .. }
        | Event::Deprecate { n } => (1, (0, 0, 0), *n),
    });
    for e in sorted {
        let m = by.entry(e.name.clone()).or_insert_with(|| Model {
            name: e.name.clone(),
            ..Default::default()
        });
        match &e.event {
            Event::Register { version } => m.versions.push((version.clone(), e.commit.clone())),
            Event::Deregister { version, n } => {
                m.versions.retain(|(v, _)| v != version);
                m.stages.retain(|_, v| v != version);
                m.last_n = m.last_n.max(*n);
            }
            Event::Assign { stage, n } => {
                let version = m
                    .version_at(&e.commit)
                    .map(str::to_string)
                    .unwrap_or_else(|| e.commit[..7.min(e.commit.len())].to_string());
                m.stages.insert(stage.clone(), version);
                m.last_n = m.last_n.max(*n);
            }
            Event::Unassign { stage, n } => {
                m.stages.remove(stage);
                m.last_n = m.last_n.max(*n);
            }
            Event::Deprecate { n } => {
                m.deprecated = true;
                m.last_n = m.last_n.max(*n);
            }
        }
    }
    by
}

/// Create an annotated tag; false if the name is taken (someone else was faster).
fn create_tag(root: &Path, tag: &str, commit: &str, message: &str) -> Result<bool> {
    match git::run_with_input(
        root,
        &["tag", "-a", "-F", "-", tag, commit],
        message.as_bytes(),
    ) {
        Ok(_) => Ok(true),
        Err(Error::Git { message, .. }) if message.contains("already exists") => Ok(false),
        Err(e) => Err(e),
    }
}

/// Create `NAME<infix>N` with the next free event number. Tag names differ by stage, so the tag
/// itself cannot make `N` unique; `N` is first reserved with a ref that can only be created once
/// (`git update-ref REF NEW ZERO`), which makes two promotions at once pick different numbers.
fn numbered(root: &Path, name: &str, infix: &str, commit: &str, message: &str) -> Result<String> {
    let zero = "0".repeat(commit.len().max(40));
    let mut n = models(&events(root)?).get(name).map_or(0, |m| m.last_n);
    for _ in 0..1000 {
        n += 1;
        let reservation = format!("refs/gitml/registry/{name}/{n}");
        if git::run(root, &["update-ref", &reservation, commit, &zero]).is_err() {
            continue;
        }
        let tag = format!("{name}{infix}{n}");
        if create_tag(root, &tag, commit, message)? {
            return Ok(tag);
        }
    }
    Err(Error::Other(format!(
        "could not find a free event number for `{name}`"
    )))
}

/// Registry settings from `[registry]`.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Stages in order; promoting to one needs the version to have been in the one before.
    pub stages: Vec<String>,
    /// Only versions on this branch may be promoted.
    pub promote_from: Option<String>,
}

impl Policy {
    pub fn from_project(project: &toml::Table) -> Result<Policy> {
        let Some(r) = project.get("registry") else {
            return Ok(Policy::default());
        };
        let bad = |m: &str| Error::Config {
            file: crate::config::PROJECT_FILE.into(),
            message: format!("[registry] {m}"),
        };
        let stages = match r.get("stages") {
            None => Vec::new(),
            Some(v) => v
                .as_array()
                .and_then(|a| a.iter().map(|s| s.as_str().map(str::to_string)).collect())
                .ok_or_else(|| bad("`stages` must be a list of stage names"))?,
        };
        let promote_from = match r.get("promote_from") {
            None => None,
            Some(v) => Some(
                v.as_str()
                    .ok_or_else(|| bad("`promote_from` must be a branch name"))?
                    .to_string(),
            ),
        };
        Ok(Policy {
            stages,
            promote_from,
        })
    }
}

/// Register a version of `name` on `commit`; `message` carries the lineage.
pub fn register(
    root: &Path,
    name: &str,
    commit: &str,
    version: &str,
    message: &str,
) -> Result<String> {
    if !valid_name(name) {
        return Err(Error::Other(format!("`{name}` is not a valid model name")));
    }
    if parse_version(version).is_none() {
        return Err(Error::Other(format!(
            "`{version}` is not a version like v1.2.3"
        )));
    }
    let all = events(root)?;
    if let Some(m) = models(&all).get(name) {
        if let Some(v) = m.version_at(commit) {
            return Err(Error::Other(format!(
                "this commit is already `{name}@{v}`; register a new commit, or deprecate that version first"
            )));
        }
        if m.versions.iter().any(|(v, _)| v == version) {
            return Err(Error::Other(format!("`{name}@{version}` already exists")));
        }
    }
    let tag = format!("{name}@{version}");
    if !create_tag(root, &tag, commit, message)? {
        return Err(Error::Other(format!("tag `{tag}` already exists")));
    }
    Ok(tag)
}

/// The next version after the latest: `bump` is major, minor or patch.
pub fn next_version(root: &Path, name: &str, bump: &str) -> Result<String> {
    let all = events(root)?;
    let latest = models(&all)
        .get(name)
        .and_then(|m| m.latest().and_then(|(v, _)| parse_version(v)));
    let (a, b, c) = latest.unwrap_or((0, 0, 0));
    Ok(match (latest, bump) {
        (None, _) => "v0.1.0".into(),
        (_, "major") => format!("v{}.0.0", a + 1),
        (_, "minor") => format!("v{a}.{}.0", b + 1),
        (_, "patch") => format!("v{a}.{b}.{}", c + 1),
        _ => {
            return Err(Error::Other(format!(
                "`--bump {bump}`: use major, minor or patch"
            )));
        }
    })
}

/// Assign `stage` to `version` of `name` (latest when `None`), checking the policy.
pub fn promote(
    root: &Path,
    policy: &Policy,
    name: &str,
    version: Option<&str>,
    stage: &str,
) -> Result<(String, String)> {
    if !valid_name(stage) {
        return Err(Error::Other(format!("`{stage}` is not a valid stage name")));
    }
    let all = events(root)?;
    let models = models(&all);
    let m = models.get(name).ok_or_else(|| {
        Error::Other(format!(
            "no model `{name}` is registered; `git ml model register {name}` first"
        ))
    })?;
    let (version, commit) = match version {
        Some(v) => m
            .versions
            .iter()
            .find(|(x, _)| x == v)
            .cloned()
            .ok_or_else(|| Error::Other(format!("`{name}@{v}` is not a registered version")))?,
        None => m
            .latest()
            .cloned()
            .ok_or_else(|| Error::Other(format!("`{name}` has no registered version")))?,
    };
    if !policy.stages.is_empty() {
        let Some(pos) = policy.stages.iter().position(|s| s == stage) else {
            return Err(Error::Other(format!(
                "`{stage}` is not one of the stages in [registry] stages: {}",
                policy.stages.join(", ")
            )));
        };
        if pos > 0 {
            let before = &policy.stages[pos - 1];
            let was_there = all.iter().any(|e| {
                e.name == name
                    && e.commit == commit
                    && matches!(&e.event, Event::Assign { stage: s, .. } if s == before)
            });
            if !was_there {
                return Err(Error::Other(format!(
                    "`{name}@{version}` has not been in `{before}`, which comes before `{stage}` in [registry] stages; promote it to `{before}` first"
                )));
            }
        }
    }
    if let Some(branch) = &policy.promote_from {
        let on_branch = git::run(root, &["merge-base", "--is-ancestor", &commit, branch]).is_ok();
        if !on_branch {
            return Err(Error::Other(format!(
                "`{name}@{version}` is not on `{branch}` ([registry] promote_from); merge it first"
            )));
        }
    }
    let message = format!("Assigning stage '{stage}' to artifact '{name}' version '{version}'");
    let tag = numbered(root, name, &format!("#{stage}#"), &commit, &message)?;
    Ok((tag, version))
}

/// Deprecate a model, deregister a version, or unassign a stage.
pub fn deprecate(
    root: &Path,
    name: &str,
    version: Option<&str>,
    stage: Option<&str>,
) -> Result<String> {
    let all = events(root)?;
    let models = models(&all);
    let m = models
        .get(name)
        .ok_or_else(|| Error::Other(format!("no model `{name}` is registered")))?;
    match (version, stage) {
        (None, _) => numbered(
            root,
            name,
            "@deprecated#",
            &m.latest().map(|v| v.1.clone()).unwrap_or_default(),
            &format!("Deprecating artifact '{name}'"),
        ),
        (Some(v), None) => {
            let (_, commit) =
                m.versions.iter().find(|(x, _)| x == v).ok_or_else(|| {
                    Error::Other(format!("`{name}@{v}` is not a registered version"))
                })?;
            numbered(
                root,
                name,
                &format!("@{v}!#"),
                commit,
                &format!("Deregistering artifact '{name}' version '{v}'"),
            )
        }
        (Some(v), Some(s)) => {
            if m.stages.get(s).map(String::as_str) != Some(v) {
                return Err(Error::Other(format!("`{name}@{v}` is not in stage `{s}`")));
            }
            let (_, commit) =
                m.versions.iter().find(|(x, _)| x == v).ok_or_else(|| {
                    Error::Other(format!("`{name}@{v}` is not a registered version"))
                })?;
            numbered(
                root,
                name,
                &format!("#{s}!#"),
                commit,
                &format!("Unassigning stage '{s}' from artifact '{name}' version '{v}'"),
            )
        }
    }
}

/// The commit a reference names: `NAME@vX.Y.Z`, `NAME#STAGE`, or `NAME` (latest).
pub fn resolve(root: &Path, spec: &str) -> Result<(String, String, String)> {
    let all = events(root)?;
    let models = models(&all);
    let (name, pick) = if let Some((n, v)) = spec.split_once('@') {
        (n, Some(('@', v)))
    } else if let Some((n, s)) = spec.split_once('#') {
        (n, Some(('#', s)))
    } else {
        (spec, None)
    };
    let m = models
        .get(name)
        .ok_or_else(|| Error::Other(format!("no model `{name}` is registered")))?;
    let version = match pick {
        None => m.latest().map(|v| v.0.clone()),
        Some(('@', v)) => Some(v.to_string()),
        Some((_, s)) => m.stages.get(s).cloned(),
    }
    .ok_or_else(|| Error::Other(format!("`{spec}` names no version")))?;
    let commit = m
        .versions
        .iter()
        .find(|(v, _)| *v == version)
        .map(|(_, c)| c.clone())
        .ok_or_else(|| Error::Other(format!("`{name}@{version}` is not a registered version")))?;
    Ok((name.to_string(), version, commit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gto_tag_names_parse() {
        assert_eq!(
            parse_tag("churn@v1.2.3"),
            Some((
                "churn".into(),
                Event::Register {
                    version: "v1.2.3".into()
                }
            ))
        );
        assert_eq!(
            parse_tag("churn#prod#4"),
            Some((
                "churn".into(),
                Event::Assign {
                    stage: "prod".into(),
                    n: 4
                }
            ))
        );
        assert_eq!(
            parse_tag("churn#prod!#5"),
            Some((
                "churn".into(),
                Event::Unassign {
                    stage: "prod".into(),
                    n: 5
                }
            ))
        );
        assert_eq!(
            parse_tag("churn@v1.0.0!#6"),
            Some((
                "churn".into(),
                Event::Deregister {
                    version: "v1.0.0".into(),
                    n: 6
                }
            ))
        );
        assert_eq!(
            parse_tag("churn@deprecated#7"),
            Some(("churn".into(), Event::Deprecate { n: 7 }))
        );
        assert_eq!(parse_tag("v1.0.0"), None);
        assert_eq!(parse_tag("release@latest"), None);
        assert_eq!(parse_tag("a#b"), None);
    }
}

/// A registered version: its tag, commit, and the lineage written into the tag message.
#[derive(Debug, Clone, Serialize)]
pub struct Registered {
    pub tag: String,
    pub commit: String,
    pub version: String,
    pub lineage: serde_json::Value,
}

/// Register the model `name` (declared as `[models.NAME]`) on `rev`: the tag message carries its
/// artifact's oid, the commit's metrics (from its runs, else its files) and the data digests.
/// `version` is explicit, else the latest bumped by `bump` (default patch; v0.1.0 first).
pub fn register_model(
    ws: &crate::workspace::Workspace,
    name: &str,
    rev: &str,
    version: Option<&str>,
    bump: Option<&str>,
) -> Result<Registered> {
    let root = ws.root();
    let declared = crate::record::capture::Declared::from_project(&ws.config.project)?;
    let path = declared.models.get(name).ok_or_else(|| {
        Error::Other(format!(
            "no `[models.{name}]` in gitml.toml; declare it with `path = \"...\"` (the tracked file or directory)"
        ))
    })?;
    let mut reader = crate::record::at::Reader::new(ws)?;
    let commit = reader.batch.commit(rev)?;
    let pointers = reader.batch.pointers(&commit, &[])?;
    let model = pointers.iter().find(|p| &p.path == path).ok_or_else(|| {
        Error::Other(format!(
            "`{path}` is not tracked at {rev}; `git ml add {}` and commit it first",
            crate::text::shell_path(path)
        ))
    })?;
    let snap = crate::record::capture::snapshot_at(&mut reader, &commit, &declared)?;
    let mut metrics = serde_json::Map::new();
    if let Some(r) = snap.runs.last() {
        for (k, v) in &r.metrics {
            metrics.insert(k.clone(), v.clone());
        }
    }
    let version = match version {
        Some(v) => v.to_string(),
        None => next_version(root, name, bump.unwrap_or("patch"))?,
    };
    let lineage = serde_json::json!({
        "model": { "path": path, "oid": model.pointer.oid.to_string(), "size": model.pointer.size },
        "metrics": metrics,
        "metrics_source": snap.origin,
        "data": pointers.iter().map(|p| (p.path.clone(), p.pointer.oid.to_string())).collect::<BTreeMap<_, _>>(),
    });
    let message =
        format!("Registering artifact '{name}' version '{version}'\n\ngitml-lineage: {lineage}\n");
    let tag = register(root, name, &commit, &version, &message)?;
    Ok(Registered {
        tag,
        commit,
        version,
        lineage,
    })
}
