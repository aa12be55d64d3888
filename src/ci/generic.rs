//! Any other CI (GitLab CI, Jenkins, Buildkite, a laptop): the same steps, with the results as
//! files (report.md, report.html, report.json, junit.xml, summary.md, outputs.env) and exit codes
//! instead of comments and statuses.
//!
//! The event comes from the CI's own variables where git-ml knows them (GitLab merge requests,
//! Jenkins change requests), else from `GITML_CI_*`: `GITML_CI_EVENT` (`pr` or `merge`),
//! `GITML_CI_BASE` (the base revision of a pr), `GITML_CI_PR` (its number, for the summary).

use std::path::PathBuf;

use super::api::Written;
use super::event::{Event, PullRequest, Push};
use super::{Provider, PullRef};
use crate::error::{Error, Result};

pub struct GenericProvider {
    pub out_dir: PathBuf,
    root: PathBuf,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl GenericProvider {
    pub fn new(root: &std::path::Path, out_dir: PathBuf) -> GenericProvider {
        GenericProvider {
            out_dir,
            root: root.to_path_buf(),
        }
    }

    fn commit(&self, rev: &str) -> Result<String> {
        crate::git::resolve_commit(&self.root, rev)
    }
}

impl Provider for GenericProvider {
    fn name(&self) -> &'static str {
        "generic"
    }

    fn event(&self) -> Result<Event> {
        let head = self.commit("HEAD")?;
        // GitLab merge request pipelines, Jenkins multibranch change requests, or ours.
        let pr = env("CI_MERGE_REQUEST_IID")
            .map(|n| {
                (
                    n,
                    env("CI_MERGE_REQUEST_DIFF_BASE_SHA")
                        .or_else(|| env("CI_MERGE_REQUEST_TARGET_BRANCH_NAME")),
                )
            })
            .or_else(|| env("CHANGE_ID").map(|n| (n, env("CHANGE_TARGET"))))
            .or_else(|| {
                (env("GITML_CI_EVENT").as_deref() == Some("pr")).then(|| {
                    (
                        env("GITML_CI_PR").unwrap_or_else(|| "0".into()),
                        env("GITML_CI_BASE"),
                    )
                })
            });
        if let Some((number, base)) = pr {
            let base = base.ok_or_else(|| {
                Error::Other(
                    "a pull request with no base: set GITML_CI_BASE (or pass `--base REV`)".into(),
                )
            })?;
            return Ok(Event::PullRequest(PullRequest {
                number: number.parse().unwrap_or(0),
                head_sha: head,
                head_ref: String::new(),
                base_sha: self.commit(&base)?,
                base_ref: base,
                fork: false,
                title: String::new(),
            }));
        }
        let merge = env("GITML_CI_EVENT").as_deref() == Some("merge")
            || (env("CI_COMMIT_BRANCH").is_some()
                && env("CI_COMMIT_BRANCH") == env("CI_DEFAULT_BRANCH"));
        if merge {
            let branch = env("CI_DEFAULT_BRANCH").unwrap_or_else(|| "main".into());
            return Ok(Event::Push(Push {
                git_ref: format!("refs/heads/{branch}"),
                after: head,
                before: String::new(),
                default_branch: branch,
            }));
        }
        Ok(Event::Other {
            name: env("GITML_CI_EVENT").unwrap_or_else(|| "run".into()),
        })
    }

    fn run_url(&self) -> Option<String> {
        env("CI_JOB_URL").or_else(|| env("BUILD_URL"))
    }

    fn sticky_comment(&self, _number: u64, _body: &str) -> Result<Written> {
        Ok(Written::ReadOnly {
            message: "the generic provider posts no comments; the report is in the report files"
                .into(),
        })
    }

    fn comment(&self, number: u64, body: &str) -> Result<Written> {
        self.sticky_comment(number, body)
    }

    fn status(&self, _sha: &str, _state: &str, _description: &str) -> Result<Written> {
        Ok(Written::ReadOnly {
            message: "the generic provider sets no commit status; the exit code says it".into(),
        })
    }

    fn merged_pull(&self, _sha: &str) -> Result<Option<PullRef>> {
        // Without an API, the merged head is the merge commit's second parent, if it has one.
        let head = crate::git::resolve_commit(&self.root, "HEAD^2").ok();
        Ok(head.map(|h| PullRef {
            number: env("GITML_CI_PR").and_then(|n| n.parse().ok()).unwrap_or(0),
            head_sha: h,
        }))
    }

    fn summary(&self, markdown: &str) -> Result<()> {
        fs_err::create_dir_all(&self.out_dir)?;
        crate::fsutil::atomic_write(&self.out_dir.join("summary.md"), markdown.as_bytes(), 0o644)?;
        Ok(())
    }

    fn outputs(&self, pairs: &[(&str, String)]) -> Result<()> {
        fs_err::create_dir_all(&self.out_dir)?;
        let text = super::github::outputs_text(pairs);
        crate::fsutil::atomic_write(&self.out_dir.join("outputs.env"), text.as_bytes(), 0o644)?;
        Ok(())
    }

    fn untrusted_output(&self, _start: bool) -> Option<String> {
        None
    }
}
