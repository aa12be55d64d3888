//! GitHub Actions: the event from the runner's environment, the job summary and step outputs,
//! and the API (one sticky comment, commit statuses, the merged pull request).
//!
//! Outputs are written with a random heredoc delimiter each, so no value (a metric name, a PR
//! title) can end its own value early and inject another output.

use std::io::Write;
use std::path::PathBuf;

use super::api::{GitHub, Written};
use super::event::{self, Event};
use super::{Provider, PullRef};
use crate::error::{Error, Result};

pub struct GitHubProvider {
    event_name: String,
    event_path: Option<PathBuf>,
    summary_path: Option<PathBuf>,
    output_path: Option<PathBuf>,
    run_url: Option<String>,
    workflow: String,
    job: String,
    api: Option<GitHub>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl GitHubProvider {
    /// From the runner's environment; `token` is the action's `token` input (the workflow's
    /// `GITHUB_TOKEN` by default), `None` when there is none (then nothing is posted).
    pub fn from_env(token: Option<&str>) -> Result<GitHubProvider> {
        let repo = env("GITHUB_REPOSITORY");
        let server = env("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into());
        let api_url = env("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into());
        let run_url = match (&repo, env("GITHUB_RUN_ID")) {
            (Some(r), Some(id)) => Some(format!("{server}/{r}/actions/runs/{id}")),
            _ => None,
        };
        let api = match (token.filter(|t| !t.is_empty()), &repo) {
            (Some(t), Some(r)) => Some(GitHub::new(&api_url, t, r)?),
            _ => None,
        };
        Ok(GitHubProvider {
            event_name: env("GITHUB_EVENT_NAME").unwrap_or_default(),
            event_path: env("GITHUB_EVENT_PATH").map(PathBuf::from),
            summary_path: env("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            output_path: env("GITHUB_OUTPUT").map(PathBuf::from),
            run_url,
            workflow: env("GITHUB_WORKFLOW").unwrap_or_else(|| "workflow".into()),
            job: env("GITHUB_JOB").unwrap_or_else(|| "job".into()),
            api,
        })
    }

    fn api(&self) -> Result<&GitHub> {
        self.api.as_ref().ok_or_else(|| {
            Error::Other(
                "no GitHub token: pass `token` to the action (default: the workflow's GITHUB_TOKEN)"
                    .into(),
            )
        })
    }
}

/// The hidden marker that makes a comment this workflow's and job's sticky report. Names come
/// from the workflow file: anything that could end the HTML comment is dropped.
pub fn marker(workflow: &str, job: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric() || " _-./".contains(*c))
            .take(100)
            .collect()
    };
    format!(
        "<!-- git-ml report: workflow=\"{}\" job=\"{}\" -->",
        clean(workflow),
        clean(job)
    )
}

impl Provider for GitHubProvider {
    fn name(&self) -> &'static str {
        "github"
    }

    fn event(&self) -> Result<Event> {
        let Some(path) = &self.event_path else {
            return Ok(Event::Other {
                name: self.event_name.clone(),
            });
        };
        let payload = fs_err::read(path)?;
        event::parse_github(&self.event_name, &payload)
    }

    fn run_url(&self) -> Option<String> {
        self.run_url.clone()
    }

    fn sticky_comment(&self, number: u64, body: &str) -> Result<Written> {
        let api = self.api()?;
        let marker = marker(&self.workflow, &self.job);
        let login = api.login()?;
        let existing = api
            .comments(number)?
            .into_iter()
            .filter(|c| c.login == login && c.body.contains(&marker))
            .map(|c| c.id)
            .next_back();
        let body = format!("{marker}\n{body}");
        match existing {
            Some(id) => api.update_comment(id, &body),
            None => api.create_comment(number, &body),
        }
    }

    fn comment(&self, number: u64, body: &str) -> Result<Written> {
        self.api()?.create_comment(number, body)
    }

    fn status(&self, sha: &str, state: &str, description: &str) -> Result<Written> {
        self.api()?.status(
            sha,
            state,
            description,
            self.run_url.as_deref(),
            &format!("git-ml/{}", self.job),
        )
    }

    fn merged_pull(&self, sha: &str) -> Result<Option<PullRef>> {
        let pulls = self.api()?.pulls_for_commit(sha)?;
        Ok(pulls
            .iter()
            .find(|p| p.merged)
            .or(pulls.first())
            .map(|p| PullRef {
                number: p.number,
                head_sha: p.head_sha.clone(),
            }))
    }

    fn summary(&self, markdown: &str) -> Result<()> {
        let Some(path) = &self.summary_path else {
            return Ok(());
        };
        // A step summary is limited to 1 MiB.
        let mut text = markdown.to_string();
        if text.len() > 1000 * 1024 {
            let mut cut = 1000 * 1024;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push_str("\n\n_cut to fit the job summary_\n");
        }
        let mut f = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        f.write_all(text.as_bytes())?;
        f.write_all(b"\n")?;
        Ok(())
    }

    fn outputs(&self, pairs: &[(&str, String)]) -> Result<()> {
        let Some(path) = &self.output_path else {
            return Ok(());
        };
        let mut f = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        f.write_all(outputs_text(pairs).as_bytes())?;
        Ok(())
    }

    fn untrusted_output(&self, start: bool) -> Option<String> {
        // While PR code (the stages) writes to the log, GitHub must not read its lines as
        // workflow commands (`::set-output`, `::add-mask`): `::stop-commands::TOKEN` until
        // `::TOKEN::`.
        static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let token = TOKEN.get_or_init(|| format!("gitml-{}", crate::record::new_id()));
        Some(if start {
            format!("::stop-commands::{token}")
        } else {
            format!("::{token}::")
        })
    }
}

/// `$GITHUB_OUTPUT` lines: `name<<DELIM\nvalue\nDELIM`, a fresh random delimiter per value.
pub fn outputs_text(pairs: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        let mut delim = format!("gitml_{}", crate::record::new_id());
        while value.contains(&delim) {
            delim = format!("gitml_{}", crate::record::new_id());
        }
        out.push_str(&format!("{name}<<{delim}\n{value}\n{delim}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_and_outputs_cannot_be_broken_out_of() {
        let m = marker("ci --> <script>", "train\n");
        let inner = &m[4..m.len() - 3];
        assert!(
            !inner.contains("-->") && !inner.contains('<') && !m.contains('\n'),
            "{m}"
        );
        let t = outputs_text(&[("verdict", "pass\nEOF\nhack=1".into())]);
        let first = t.lines().next().unwrap();
        let delim = first.split("<<").nth(1).unwrap();
        assert_eq!(t.lines().filter(|l| *l == delim).count(), 1, "{t}");
    }
}
