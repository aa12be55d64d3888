//! The event a CI job runs for, read from the provider's environment: GitHub Actions' event
//! payload (`GITHUB_EVENT_PATH`, `GITHUB_EVENT_NAME`), or what a generic CI says through
//! `GITML_CI_*` variables and flags.
//!
//! The payload is untrusted input (a pull request's title and branch name are chosen by whoever
//! opened it): only the fields git-ml needs are read, SHAs are checked to be SHAs, and nothing
//! from it is ever run or interpolated into a shell.

use serde::Serialize;

use crate::error::{Error, Result};

/// What the job is about.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    PullRequest(PullRequest),
    Push(Push),
    /// Another workflow finished (the fork-safe split's second half): its head commit, and the
    /// pull request GitHub says it ran for (GitHub leaves this out for forks).
    WorkflowRun {
        head_sha: String,
        pull_request: Option<u64>,
    },
    /// `schedule`, `workflow_dispatch` and the rest: train, record, report.
    Other {
        name: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PullRequest {
    pub number: u64,
    pub head_sha: String,
    pub head_ref: String,
    pub base_sha: String,
    pub base_ref: String,
    /// The head lives in another repository (a fork): the token is read-only.
    pub fork: bool,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Push {
    /// `refs/heads/main`.
    pub git_ref: String,
    pub after: String,
    pub before: String,
    pub default_branch: String,
}

impl Push {
    /// Whether this push is to the repository's default branch (the "merge" case).
    pub fn to_default_branch(&self) -> bool {
        self.git_ref == format!("refs/heads/{}", self.default_branch)
    }
}

fn sha(v: &serde_json::Value, what: &str) -> Result<String> {
    let s = v.as_str().unwrap_or_default();
    if s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(Error::Other(format!(
            "the event payload's `{what}` is not a commit id"
        )))
    }
}

fn text(v: &serde_json::Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Parse a GitHub event payload of kind `name` (`GITHUB_EVENT_NAME`).
pub fn parse_github(name: &str, payload: &[u8]) -> Result<Event> {
    let v: serde_json::Value = serde_json::from_slice(payload).map_err(|e| {
        Error::Other(format!(
            "the event payload (GITHUB_EVENT_PATH) is not JSON: {e}"
        ))
    })?;
    match name {
        "pull_request" | "pull_request_target" => {
            let pr = &v["pull_request"];
            if !pr.is_object() {
                return Err(Error::Other(
                    "a pull_request event without `pull_request` in its payload".into(),
                ));
            }
            let number = v["number"]
                .as_u64()
                .or_else(|| pr["number"].as_u64())
                .ok_or_else(|| Error::Other("the event payload has no PR `number`".into()))?;
            let base_repo = pr["base"]["repo"]["full_name"].as_str();
            let head_repo = pr["head"]["repo"]["full_name"].as_str();
            let fork = pr["head"]["repo"]["fork"].as_bool().unwrap_or(false)
                || (head_repo.is_some() && head_repo != base_repo);
            Ok(Event::PullRequest(PullRequest {
                number,
                head_sha: sha(&pr["head"]["sha"], "pull_request.head.sha")?,
                head_ref: text(&pr["head"]["ref"]),
                base_sha: sha(&pr["base"]["sha"], "pull_request.base.sha")?,
                base_ref: text(&pr["base"]["ref"]),
                fork,
                title: text(&pr["title"]),
            }))
        }
        "push" => Ok(Event::Push(Push {
            git_ref: text(&v["ref"]),
            after: sha(&v["after"], "after")?,
            before: text(&v["before"]),
            default_branch: v["repository"]["default_branch"]
                .as_str()
                .or_else(|| v["repository"]["master_branch"].as_str())
                .unwrap_or("main")
                .to_string(),
        })),
        "workflow_run" => {
            let run = &v["workflow_run"];
            Ok(Event::WorkflowRun {
                head_sha: sha(&run["head_sha"], "workflow_run.head_sha")?,
                pull_request: run["pull_requests"]
                    .as_array()
                    .and_then(|a| a.first())
                    .and_then(|p| p["number"].as_u64()),
            })
        }
        other => Ok(Event::Other {
            name: other.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_requests_forks_and_pushes() {
        let head = "a".repeat(40);
        let base = "b".repeat(40);
        let pr = serde_json::json!({
            "number": 7,
            "pull_request": {
                "title": "@octocat `rm -rf`",
                "head": {"sha": head, "ref": "feature", "repo": {"full_name": "mallory/w", "fork": true}},
                "base": {"sha": base, "ref": "main", "repo": {"full_name": "acme/w"}}
            }
        });
        let e = parse_github("pull_request", pr.to_string().as_bytes()).unwrap();
        let Event::PullRequest(p) = e else { panic!() };
        assert_eq!((p.number, p.fork, p.base_ref.as_str()), (7, true, "main"));
        let bad = serde_json::json!({"number": 1, "pull_request": {"head": {"sha": "HEAD; rm"}, "base": {"sha": base}}});
        assert!(parse_github("pull_request", bad.to_string().as_bytes()).is_err());
        let push = serde_json::json!({"ref": "refs/heads/main", "after": head, "before": base,
            "repository": {"default_branch": "main"}});
        let Event::Push(p) = parse_github("push", push.to_string().as_bytes()).unwrap() else {
            panic!()
        };
        assert!(p.to_default_branch());
        assert!(parse_github("push", b"not json").is_err());
        assert_eq!(
            parse_github("schedule", b"{}").unwrap(),
            Event::Other {
                name: "schedule".into()
            }
        );
    }
}
