//! The GitHub REST API, through octocrab: the few calls `git ml ci` makes (the token's login, the
//! comments of a pull request, writing a comment and a commit status, the pull requests of a
//! commit), with GitHub's rules for retrying.
//!
//! The base URL is `GITHUB_API_URL` (so GitHub Enterprise works the same way, and the tests point
//! it at a fake on loopback). 5xx answers are retried with backoff; rate limits are waited out
//! (`Retry-After`, or `x-ratelimit-reset`) within a bound, then given up with a message saying
//! until when. The token is registered as a secret: no message, log or output shows it. A
//! read-only token (a fork's pull request) is not an error here: writes say `ReadOnly`.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// The longest a single rate-limit wait may be before giving up.
const MAX_WAIT: Duration = Duration::from_secs(60);
const ATTEMPTS: u32 = 5;

/// What a write came to.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Written {
    Created {
        id: u64,
        url: String,
    },
    Updated {
        id: u64,
        url: String,
    },
    /// The token may not write here (a fork's pull request): nothing was written.
    ReadOnly {
        message: String,
    },
}

#[derive(Debug, Clone)]
pub struct Comment {
    pub id: u64,
    pub login: String,
    pub body: String,
}

#[derive(Debug, Clone)]
pub struct PullSummary {
    pub number: u64,
    pub head_sha: String,
    pub merged: bool,
    pub title: String,
}

pub struct GitHub {
    client: octocrab::Octocrab,
    /// `owner/name`.
    repo: String,
    /// Base of the first backoff step (tests shorten it).
    backoff: Duration,
}

struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: Value,
}

impl GitHub {
    pub fn new(api_url: &str, token: &str, repo: &str) -> Result<GitHub> {
        crate::error::register_secret(token);
        let valid_repo = repo.split_once('/').is_some_and(|(o, n)| {
            !o.is_empty()
                && !n.is_empty()
                && repo
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        });
        if !valid_repo {
            return Err(Error::Other(format!(
                "`{repo}` is not an `owner/name` repository (GITHUB_REPOSITORY)"
            )));
        }
        let _rt = crate::remote::runtime().enter();
        let client = octocrab::Octocrab::builder()
            .base_uri(api_url.trim_end_matches('/'))
            .map_err(|e| Error::Other(format!("GITHUB_API_URL `{api_url}`: {e}")))?
            .personal_token(token.to_string())
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(30)))
            .build()
            .map_err(|e| Error::Other(format!("cannot set up the GitHub client: {e}")))?;
        let backoff = std::env::var("GITML_CI_BACKOFF_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(Duration::from_millis(500), Duration::from_millis);
        Ok(GitHub {
            client,
            repo: repo.to_string(),
            backoff,
        })
    }

    fn err(&self, what: &str, message: String) -> Error {
        Error::Other(crate::error::redact(&format!(
            "GitHub API: {what}: {message}"
        )))
    }

    /// One call, retried as GitHub asks.
    fn call(&self, method: &str, uri: &str, body: Option<&Value>) -> Result<Answer> {
        let mut delay = self.backoff;
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            let sent = crate::remote::runtime().block_on(async {
                let response = match method {
                    "GET" => self.client._get(uri).await,
                    "POST" => self.client._post(uri, body).await,
                    "PATCH" => self.client._patch(uri, body).await,
                    _ => unreachable!("methods git-ml uses"),
                };
                let response = response?;
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                let text = self.client.body_to_string(response).await?;
                Ok::<_, octocrab::Error>((status, headers, text))
            });
            let (status, headers, text) = match sent {
                Ok(r) => r,
                Err(e) => {
                    last = e.to_string();
                    if attempt < ATTEMPTS {
                        std::thread::sleep(delay);
                        delay *= 2;
                        continue;
                    }
                    return Err(self.err(&format!("{method} {uri}"), last));
                }
            };
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let message = body["message"].as_str().unwrap_or_default().to_string();
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
            };
            let wait = if status >= 500 {
                Some(delay)
            } else if status == 403 || status == 429 {
                if let Some(secs) = header("retry-after") {
                    Some(Duration::from_secs(secs))
                } else if header("x-ratelimit-remaining") == Some(0) {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    let until = header("x-ratelimit-reset").unwrap_or(now + 60);
                    Some(Duration::from_secs(until.saturating_sub(now).max(1)))
                } else {
                    None
                }
            } else {
                None
            };
            match wait {
                Some(w) if attempt < ATTEMPTS => {
                    if w > MAX_WAIT {
                        return Err(self.err(
                            &format!("{method} {uri}"),
                            format!(
                                "rate limited for {} s more ({message}); try again later",
                                w.as_secs()
                            ),
                        ));
                    }
                    tracing::info!("GitHub API {method} {uri}: {status}, retrying in {w:?}");
                    last = format!("{status} {message}");
                    std::thread::sleep(w);
                    if status >= 500 {
                        delay *= 2;
                    }
                    continue;
                }
                _ => {}
            }
            return Ok(Answer {
                status,
                headers,
                body,
            });
        }
        Err(self.err(&format!("{method} {uri}"), format!("gave up: {last}")))
    }

    fn ok(&self, what: &str, a: &Answer) -> Result<()> {
        if (200..300).contains(&a.status) {
            Ok(())
        } else {
            Err(self.err(
                what,
                format!(
                    "{} {}",
                    a.status,
                    a.body["message"].as_str().unwrap_or("(no message)")
                ),
            ))
        }
    }

    fn read_only(a: &Answer) -> Option<String> {
        (a.status == 403).then(|| {
            a.body["message"]
                .as_str()
                .unwrap_or("Resource not accessible")
                .to_string()
        })
    }

    /// The login the token acts as. The Actions `GITHUB_TOKEN` may not read `/user`; it acts as
    /// `github-actions[bot]`.
    pub fn login(&self) -> Result<String> {
        let a = self.call("GET", "/user", None)?;
        if a.status == 403
            && a.body["message"]
                .as_str()
                .is_some_and(|m| m.contains("integration"))
        {
            return Ok("github-actions[bot]".into());
        }
        self.ok("GET /user", &a)?;
        a.body["login"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| self.err("GET /user", "no `login` in the answer".into()))
    }

    /// Every comment of issue or pull request `number`, all pages (following `Link: next`).
    pub fn comments(&self, number: u64) -> Result<Vec<Comment>> {
        let mut uri = format!("/repos/{}/issues/{number}/comments?per_page=100", self.repo);
        let mut out = Vec::new();
        for _ in 0..1000 {
            let a = self.call("GET", &uri, None)?;
            self.ok("listing the pull request's comments", &a)?;
            for c in a.body.as_array().cloned().unwrap_or_default() {
                out.push(Comment {
                    id: c["id"].as_u64().unwrap_or(0),
                    login: c["user"]["login"].as_str().unwrap_or_default().to_string(),
                    body: c["body"].as_str().unwrap_or_default().to_string(),
                });
            }
            match next_link(&a.headers) {
                Some(next) => uri = next,
                None => return Ok(out),
            }
        }
        Ok(out)
    }

    pub fn create_comment(&self, number: u64, body: &str) -> Result<Written> {
        let a = self.call(
            "POST",
            &format!("/repos/{}/issues/{number}/comments", self.repo),
            Some(&serde_json::json!({ "body": body })),
        )?;
        if let Some(m) = Self::read_only(&a) {
            return Ok(Written::ReadOnly { message: m });
        }
        self.ok("posting the comment", &a)?;
        Ok(Written::Created {
            id: a.body["id"].as_u64().unwrap_or(0),
            url: a.body["html_url"].as_str().unwrap_or_default().to_string(),
        })
    }

    pub fn update_comment(&self, id: u64, body: &str) -> Result<Written> {
        let a = self.call(
            "PATCH",
            &format!("/repos/{}/issues/comments/{id}", self.repo),
            Some(&serde_json::json!({ "body": body })),
        )?;
        if let Some(m) = Self::read_only(&a) {
            return Ok(Written::ReadOnly { message: m });
        }
        self.ok("updating the comment", &a)?;
        Ok(Written::Updated {
            id,
            url: a.body["html_url"].as_str().unwrap_or_default().to_string(),
        })
    }

    /// A commit status (`state`: success, failure, error or pending).
    pub fn status(
        &self,
        sha: &str,
        state: &str,
        description: &str,
        target_url: Option<&str>,
        context: &str,
    ) -> Result<Written> {
        // GitHub refuses descriptions over 140 characters.
        let description: String = description.chars().take(140).collect();
        let mut body = serde_json::json!({
            "state": state, "description": description, "context": context,
        });
        if let Some(u) = target_url {
            body["target_url"] = Value::from(u);
        }
        let a = self.call(
            "POST",
            &format!("/repos/{}/statuses/{sha}", self.repo),
            Some(&body),
        )?;
        if let Some(m) = Self::read_only(&a) {
            return Ok(Written::ReadOnly { message: m });
        }
        self.ok("setting the commit status", &a)?;
        Ok(Written::Created {
            id: a.body["id"].as_u64().unwrap_or(0),
            url: a.body["url"].as_str().unwrap_or_default().to_string(),
        })
    }

    /// The pull requests GitHub associates with a commit (for a merge commit: the merged PR).
    pub fn pulls_for_commit(&self, sha: &str) -> Result<Vec<PullSummary>> {
        let a = self.call(
            "GET",
            &format!("/repos/{}/commits/{sha}/pulls", self.repo),
            None,
        )?;
        self.ok("finding the merged pull request", &a)?;
        Ok(a.body
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|p| PullSummary {
                number: p["number"].as_u64().unwrap_or(0),
                head_sha: p["head"]["sha"].as_str().unwrap_or_default().to_string(),
                merged: !p["merged_at"].is_null(),
                title: p["title"].as_str().unwrap_or_default().to_string(),
            })
            .collect())
    }
}

/// The `rel="next"` URL of a `Link` header, as given (GitHub's point at `/repositories/ID/...`).
fn next_link(headers: &http::HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, rel) = part.split_once(';')?;
        rel.contains("rel=\"next\"").then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links() {
        let mut h = http::HeaderMap::new();
        h.insert(
            "link",
            "<http://127.0.0.1:1/repositories/9/issues/7/comments?page=2>; rel=\"next\", <http://x/?page=5>; rel=\"last\""
                .parse()
                .unwrap(),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("http://127.0.0.1:1/repositories/9/issues/7/comments?page=2")
        );
        h.insert("link", "<http://x/?page=1>; rel=\"prev\"".parse().unwrap());
        assert_eq!(next_link(&h), None);
    }
}
