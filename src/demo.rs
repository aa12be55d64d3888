//! `git ml demo`: the whole story in one command, on a real project (templates/example: a
//! scikit-learn tumour classifier), offline, in a new directory.
//!
//! Each step runs the same `git` and `git ml` commands a user would type (this binary, by its own
//! path) and is narrated in one line; the transcript is what the tests assert on. Python comes
//! from the user's machine when it has scikit-learn, else from a venv made under the demo
//! directory from PyPI (the example's pinned requirements), and the demo says which.
//!
//! The invariant: the demo writes only inside its directory, and refuses one that is not empty.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Serialize;

use crate::error::{Error, Result};

/// The example project, compiled in: (path in the project, content).
pub const EXAMPLE: &[(&str, &str)] = &[
    ("README.md", include_str!("../templates/example/README.md")),
    (
        "gitml.toml",
        include_str!("../templates/example/gitml.toml"),
    ),
    (
        "params.yaml",
        include_str!("../templates/example/params.yaml"),
    ),
    (
        "requirements.txt",
        include_str!("../templates/example/requirements.txt"),
    ),
    (
        ".gitignore",
        include_str!("../templates/example/.gitignore"),
    ),
    (
        "src/common.py",
        include_str!("../templates/example/src/common.py"),
    ),
    (
        "src/get_data.py",
        include_str!("../templates/example/src/get_data.py"),
    ),
    (
        "src/prepare.py",
        include_str!("../templates/example/src/prepare.py"),
    ),
    (
        "src/train.py",
        include_str!("../templates/example/src/train.py"),
    ),
    (
        "src/evaluate.py",
        include_str!("../templates/example/src/evaluate.py"),
    ),
    (
        ".github/workflows/git-ml.yml",
        include_str!("../templates/workflows/git-ml.yml"),
    ),
];

const MODEL: &str = "tumor-classifier";

/// One narrated step.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub number: usize,
    pub title: String,
    /// The commands it ran, as a user would type them.
    pub commands: Vec<String>,
    /// What came of it, in one line.
    pub result: String,
}

#[derive(Debug, Default, Serialize)]
pub struct DemoReport {
    pub dir: PathBuf,
    pub python: String,
    pub steps: Vec<Step>,
    pub report_md: PathBuf,
    pub report_html: PathBuf,
    pub baseline_accuracy: Option<f64>,
    pub new_accuracy: Option<f64>,
    pub verdict: String,
    pub registered: String,
    pub production: String,
    /// Path -> BLAKE3 oid of the files the fresh clone pulled, and whether they match.
    pub pulled: Vec<(String, String)>,
    pub clone_matches: bool,
}

/// Write the example project into `dir` (which must be new or empty), `git init` it and
/// `git ml init` it: `git ml init --example DIR`.
pub fn write_project(dir: &Path, gitml: &Path) -> Result<()> {
    ensure_empty(dir)?;
    for (path, text) in EXAMPLE {
        let dest = dir.join(path);
        if let Some(parent) = dest.parent() {
            fs_err::create_dir_all(parent)?;
        }
        crate::fsutil::atomic_write(&dest, text.as_bytes(), 0o644)?;
    }
    let r = Runner::new(dir.to_path_buf(), gitml.to_path_buf(), None);
    r.git(&["init", "-q", "-b", "main"])?;
    r.gitml(&["init", "-q"])?;
    Ok(())
}

fn ensure_empty(dir: &Path) -> Result<()> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(Error::Other(format!(
            "`{}` exists and is not empty; the demo writes into a new directory",
            dir.display()
        )));
    }
    fs_err::create_dir_all(dir)?;
    Ok(())
}

/// Runs `git` and `git-ml` in the demo's repositories, with the demo's Python first on PATH and
/// nothing of the caller's repository (GIT_DIR...) in the environment.
struct Runner {
    cwd: PathBuf,
    gitml: PathBuf,
    path: Option<std::ffi::OsString>,
}

struct Output {
    stdout: String,
    stderr: String,
}

impl Runner {
    fn new(cwd: PathBuf, gitml: PathBuf, bin: Option<&Path>) -> Runner {
        let path = bin.map(|b| {
            let mut paths = vec![b.to_path_buf()];
            paths.extend(std::env::split_paths(
                &std::env::var_os("PATH").unwrap_or_default(),
            ));
            std::env::join_paths(paths).unwrap_or_default()
        });
        Runner { cwd, gitml, path }
    }

    fn in_dir(&self, cwd: &Path) -> Runner {
        Runner {
            cwd: cwd.to_path_buf(),
            gitml: self.gitml.clone(),
            path: self.path.clone(),
        }
    }

    fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(program);
        c.args(args).current_dir(&self.cwd).stdin(Stdio::null());
        for var in [
            "GIT_DIR",
            "GIT_WORK_TREE",
            "GIT_INDEX_FILE",
            "GIT_COMMON_DIR",
            "GIT_PREFIX",
            "GITHUB_ACTIONS",
            "CI",
        ] {
            c.env_remove(var);
        }
        // Commits need an identity; the demo's are its own when the machine has none.
        for (k, v) in [
            ("GIT_AUTHOR_NAME", "git-ml demo"),
            ("GIT_AUTHOR_EMAIL", "demo@git-ml.invalid"),
            ("GIT_COMMITTER_NAME", "git-ml demo"),
            ("GIT_COMMITTER_EMAIL", "demo@git-ml.invalid"),
        ] {
            if std::env::var_os(k).is_none() {
                c.env(k, v);
            }
        }
        if let Some(p) = &self.path {
            c.env("PATH", p);
        }
        c
    }

    fn run(&self, program: &Path, args: &[&str], what: &str) -> Result<Output> {
        self.run_allowing(program, args, what, false)
    }

    /// `found_ok`: exit 1 ("ran, and found something": a failed gate) is an answer, not an error.
    fn run_allowing(
        &self,
        program: &Path,
        args: &[&str],
        what: &str,
        found_ok: bool,
    ) -> Result<Output> {
        let out = self
            .command(program, args)
            .output()
            .map_err(|e| Error::Other(format!("demo: cannot run `{what}`: {e}")))?;
        let o = Output {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        let answered = out.status.success() || (found_ok && out.status.code() == Some(1));
        if !answered {
            return Err(Error::Other(format!(
                "demo: `{what}` failed ({}): {}",
                out.status,
                o.stderr.trim().lines().collect::<Vec<_>>().join(" / ")
            )));
        }
        Ok(o)
    }

    fn git(&self, args: &[&str]) -> Result<Output> {
        self.run(Path::new("git"), args, &format!("git {}", args.join(" ")))
    }

    fn gitml(&self, args: &[&str]) -> Result<Output> {
        self.run(&self.gitml, args, &format!("git ml {}", args.join(" ")))
    }

    fn json(&self, args: &[&str]) -> Result<serde_json::Value> {
        // `check` exits 1 on a gate breach: the demo reads the verdict itself.
        let o = self.run_allowing(
            &self.gitml,
            args,
            &format!("git ml {}", args.join(" ")),
            true,
        )?;
        serde_json::from_str(&o.stdout).map_err(|e| {
            Error::Other(format!(
                "demo: `git ml {}` did not print JSON ({e}): {}",
                args.join(" "),
                o.stderr.trim()
            ))
        })
    }
}

/// Find (or make) a Python with the example's requirements; returns the interpreter and a
/// sentence saying where it came from.
fn python(dir: &Path, narrate: &mut dyn FnMut(&str)) -> Result<(PathBuf, String)> {
    let ok = |py: &Path| {
        Command::new(py)
            .args(["-c", "import sklearn, yaml, joblib, numpy"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if let Some(p) = std::env::var_os("GITML_DEMO_PYTHON").map(PathBuf::from) {
        if ok(&p) {
            return Ok((p.clone(), format!("{} (GITML_DEMO_PYTHON)", p.display())));
        }
        return Err(Error::Other(format!(
            "GITML_DEMO_PYTHON `{}` cannot import scikit-learn, PyYAML and joblib",
            p.display()
        )));
    }
    for name in ["python3", "python"] {
        let p = PathBuf::from(name);
        if ok(&p) {
            return Ok((p, format!("your {name}, which has scikit-learn")));
        }
    }
    let venv = dir.join(".venv");
    narrate(&format!(
        "scikit-learn is not installed for python3: making a venv in {} from PyPI (the example's pinned requirements; about 20 s)",
        venv.display()
    ));
    let status = Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(&venv)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| {
            Error::Other(format!(
                "demo: cannot run python3 (install Python 3.9+): {e}"
            ))
        })?;
    if !status.success() {
        return Err(Error::Other(
            "demo: `python3 -m venv` failed (Debian/Ubuntu: apt install python3-venv)".into(),
        ));
    }
    let req = dir.join("requirements.txt");
    fs_err::write(
        &req,
        EXAMPLE
            .iter()
            .find(|(p, _)| *p == "requirements.txt")
            .map_or("", |e| e.1),
    )?;
    let out = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(&req)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Other(format!("demo: cannot run pip: {e}")))?;
    if !out.status.success() {
        return Err(Error::Other(format!(
            "demo: installing the example's requirements from PyPI failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let py = venv.join("bin/python");
    Ok((py, format!("a venv made in {} from PyPI", venv.display())))
}

fn outcomes(run: &serde_json::Value) -> String {
    let list: Vec<String> = run["stages"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    format!(
                        "{} {}",
                        s["stage"].as_str().unwrap_or("?"),
                        s["outcome"].as_str().unwrap_or("?")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    list.join(", ")
}

fn metric(diff: &serde_json::Value, name: &str, side: &str) -> Option<f64> {
    diff["metrics"]
        .as_array()?
        .iter()
        .find(|m| m["name"] == name)?[side]["mean"]
        .as_f64()
}

/// Run the whole story in `dir` (new or empty); `narrate` gets one line per step.
pub fn run(dir: &Path, gitml: &Path, narrate: &mut dyn FnMut(&str)) -> Result<DemoReport> {
    ensure_empty(dir)?;
    let dir = fs_err::canonicalize(dir)?;
    let mut report = DemoReport {
        dir: dir.clone(),
        ..Default::default()
    };
    let (py, source) = python(&dir, narrate)?;
    report.python = source.clone();
    // Stages run `python`: a link to the chosen interpreter, first on PATH.
    let bin = dir.join(".bin");
    fs_err::create_dir_all(&bin)?;
    let target = if py.is_absolute() {
        py.clone()
    } else {
        which(&py).unwrap_or(py.clone())
    };
    // A script, not a symlink: a venv's interpreter finds its packages from the path it is run
    // by, which a link elsewhere would lose.
    let shim = bin.join("python");
    fs_err::write(
        &shim,
        format!(
            "#!/bin/sh\nexec '{}' \"$@\"\n",
            target.display().to_string().replace('\'', "'\\''")
        ),
    )?;
    {
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(&shim, std::fs::Permissions::from_mode(0o755))?;
    }
    let project = dir.join("project");
    let mut steps: Vec<Step> = Vec::new();
    let mut step =
        |title: &str, commands: &[&str], result: String, narrate: &mut dyn FnMut(&str)| {
            let n = steps.len() + 1;
            narrate(&format!("[{n:>2}] {title}: {result}"));
            steps.push(Step {
                number: n,
                title: title.into(),
                commands: commands.iter().map(|c| c.to_string()).collect(),
                result,
            });
        };

    // 1. The project.
    write_project(&project, gitml)?;
    let r = Runner::new(project.clone(), gitml.to_path_buf(), Some(&bin));
    r.git(&["add", "-A"])?;
    r.git(&[
        "commit",
        "-q",
        "-m",
        "A tumour classifier: pipeline, params, gates",
    ])?;
    step(
        "init",
        &["git init", "git ml init"],
        format!(
            "a scikit-learn project in {} (Python: {source})",
            project.display()
        ),
        narrate,
    );

    // 2. Data.
    r.run(
        &bin.join("python"),
        &["src/get_data.py"],
        "python src/get_data.py",
    )?;
    let added = r.json(&["add", "data/raw", "--json"])?;
    r.git(&["add", "-A"])?;
    r.git(&["commit", "-q", "-m", "Track the raw data"])?;
    step(
        "track data",
        &[
            "python src/get_data.py",
            "git ml add data/raw",
            "git commit",
        ],
        format!(
            "data/raw tracked by content hash ({}, {}); only data/raw.gitml goes into git",
            crate::text::plural(
                added["added"][0]["files"].as_u64().unwrap_or(0),
                "file",
                "files"
            ),
            crate::text::size(added["added"][0]["size"].as_u64().unwrap_or(0))
        ),
        narrate,
    );

    // 3. The pipeline, then the commit it lands on.
    let ran = r.json(&["run", "--json"])?;
    r.git(&["add", "-A"])?;
    r.git(&["commit", "-q", "-m", "Train"])?;
    let shown = r.json(&["show", "--json"])?;
    step(
        "run the pipeline",
        &["git ml run", "git commit"],
        format!(
            "{}; the run is recorded on the commit ({}): accuracy {}",
            outcomes(&ran),
            shown["origin"].as_str().unwrap_or("?"),
            shown["runs"][0]["metrics"]["accuracy"]
        ),
        narrate,
    );

    // 4. A branch with a bigger forest: only what depends on the param runs.
    r.git(&["checkout", "-q", "-b", "bigger-forest"])?;
    let params = fs_err::read_to_string(project.join("params.yaml"))?;
    let bigger = params.replace("n_estimators: 20", "n_estimators: 100");
    fs_err::write(project.join("params.yaml"), &bigger)?;
    let ran = r.json(&["run", "--json"])?;
    r.git(&["commit", "-q", "-am", "A bigger forest: 100 trees"])?;
    step(
        "branch, change a param, run",
        &[
            "git checkout -b bigger-forest",
            "edit params.yaml (n_estimators: 100)",
            "git ml run",
            "git commit -a",
        ],
        outcomes(&ran),
        narrate,
    );

    // 5. The run cache: back to 20 trees restores, forward again restores.
    fs_err::write(project.join("params.yaml"), &params)?;
    let back = r.json(&["run", "--json", "--no-record"])?;
    fs_err::write(project.join("params.yaml"), &bigger)?;
    r.json(&["run", "--json", "--no-record"])?;
    step(
        "revert, run again",
        &["edit params.yaml (n_estimators: 20)", "git ml run"],
        format!(
            "{} (nothing trained: outputs from the run cache)",
            outcomes(&back)
        ),
        narrate,
    );

    // 6. Compare and gate against main.
    let diff = r.json(&["diff", "main", "HEAD", "--json"])?;
    let check = r.json(&["check", "--base", "main", "--json"])?;
    report.baseline_accuracy = metric(&diff, "accuracy", "old");
    report.new_accuracy = metric(&diff, "accuracy", "new");
    report.verdict = if check["passed"].as_bool() == Some(true) {
        "pass".into()
    } else {
        "fail".into()
    };
    step(
        "diff and check against main",
        &["git ml diff main", "git ml check --base main"],
        format!(
            "accuracy {} -> {}; gates: {}",
            report
                .baseline_accuracy
                .map_or("-".into(), |v| format!("{v}")),
            report.new_accuracy.map_or("-".into(), |v| format!("{v}")),
            report.verdict.to_uppercase()
        ),
        narrate,
    );

    // 7. The pull-request report, as the Action would post it.
    let out = dir.join("report");
    let ci = r
        .command(
            gitml,
            &[
                "ci",
                "pr",
                "--provider",
                "generic",
                "--out",
                out.to_str().unwrap_or("report"),
                "--json",
            ],
        )
        .env("GITML_CI_EVENT", "pr")
        .env("GITML_CI_BASE", "main")
        .output()
        .map_err(|e| Error::Other(format!("demo: git ml ci: {e}")))?;
    let ci: serde_json::Value = serde_json::from_slice(&ci.stdout).map_err(|e| {
        Error::Other(format!(
            "demo: `git ml ci pr` did not print JSON ({e}): {}",
            String::from_utf8_lossy(&ci.stderr).trim()
        ))
    })?;
    report.report_md = out.join("report.md");
    report.report_html = out.join("report.html");
    step(
        "the pull-request report",
        &["git ml ci pr --provider generic"],
        format!(
            "verdict {}; {} and {} (the comment the Action posts, with the plots)",
            ci["verdict"].as_str().unwrap_or("?"),
            report.report_md.display(),
            report.report_html.display()
        ),
        narrate,
    );

    // 8. The merge: runs copied, the model registered and promoted.
    r.git(&["checkout", "-q", "main"])?;
    r.git(&[
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge bigger-forest",
        "bigger-forest",
    ])?;
    r.gitml(&["checkout", "-q"])?;
    let merged = r
        .command(
            gitml,
            &[
                "ci",
                "merge",
                "--provider",
                "generic",
                "--promote-to",
                "staging",
                "--json",
                "--out",
            ],
        )
        .arg(&out)
        .env("GITML_CI_EVENT", "merge")
        .output()
        .map_err(|e| Error::Other(format!("demo: git ml ci merge: {e}")))?;
    let merged: serde_json::Value = serde_json::from_slice(&merged.stdout).map_err(|e| {
        Error::Other(format!(
            "demo: `git ml ci merge` did not print JSON ({e}): {}",
            String::from_utf8_lossy(&merged.stderr).trim()
        ))
    })?;
    report.registered = merged["registered"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let promoted = r.json(&["model", "promote", MODEL, "production", "--json"])?;
    report.production = promoted["tag"].as_str().unwrap_or_default().to_string();
    step(
        "merge, register, promote",
        &[
            "git merge bigger-forest",
            "git ml ci merge --provider generic --promote-to staging",
            "git ml model promote tumor-classifier production",
        ],
        format!(
            "registered {}{}; promoted to staging ({}), then production ({})",
            report.registered,
            if merged["notes"].as_array().is_some_and(|n| n
                .iter()
                .any(|x| x.as_str().unwrap_or("").contains("copied")))
            {
                " with the branch's runs (same tree: nothing trained again)"
            } else {
                ""
            },
            merged["promoted"].as_str().unwrap_or("not promoted"),
            report.production
        ),
        narrate,
    );

    // 9. The production model, by name.
    let fetched_to = dir.join("production");
    r.gitml(&[
        "model",
        "get",
        &format!("{MODEL}#production"),
        "-o",
        fetched_to.to_str().unwrap_or("production"),
    ])?;
    let model_file = fetched_to.join("model.pkl");
    let model_oid = crate::data::cache::hash_file(&model_file)?.0;
    step(
        "get the production model",
        &["git ml model get tumor-classifier#production -o production"],
        format!("{} ({})", model_file.display(), model_oid.short()),
        narrate,
    );

    // 10. Share it all: a directory remote for data, a bare repository for git, and a colleague.
    let store = dir.join("remote");
    let origin = dir.join("origin.git");
    r.gitml(&["remote", "add", "store", "../remote"])?;
    r.git(&["commit", "-q", "-am", "Add the data remote"])?;
    r.git(&[
        "init",
        "-q",
        "--bare",
        "-b",
        "main",
        origin.to_str().unwrap_or("origin.git"),
    ])?;
    r.git(&[
        "remote",
        "add",
        "origin",
        origin.to_str().unwrap_or("origin.git"),
    ])?;
    r.git(&["push", "-q", "origin", "main", "bigger-forest"])?;
    let pushed = r.json(&["push", "--json"])?;
    let clone = dir.join("clone");
    r.git(&[
        "clone",
        "-q",
        origin.to_str().unwrap_or("origin.git"),
        clone.to_str().unwrap_or("clone"),
    ])?;
    let c = r.in_dir(&clone);
    c.gitml(&["pull", "-q"])?;
    let mut matches = true;
    for rel in [
        "data/raw/breast_cancer.csv",
        "models/model.pkl",
        "eval/metrics.json",
    ] {
        let a = crate::data::cache::hash_file(&project.join(rel)).map(|h| h.0.to_string());
        let b = crate::data::cache::hash_file(&clone.join(rel)).map(|h| h.0.to_string());
        matches &= a.is_ok() && a.as_ref().ok() == b.as_ref().ok();
        report
            .pulled
            .push((rel.to_string(), b.unwrap_or_else(|_| "missing".into())));
    }
    let shown = c.json(&["model", "show", "--json"])?;
    let stages: Vec<String> = shown[0]["stages"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k} {}", v.as_str().unwrap_or("?")))
                .collect()
        })
        .unwrap_or_default();
    report.clone_matches = matches;
    step(
        "push, clone, pull",
        &[
            "git ml remote add store ../remote",
            "git push",
            "git ml push",
            "git clone",
            "git ml pull",
        ],
        format!(
            "{} objects pushed to {}; the clone's data and model are {}, its registry: {}",
            pushed["transferred"],
            store.display(),
            if matches { "identical" } else { "DIFFERENT" },
            stages.join(", ")
        ),
        narrate,
    );
    report.steps = steps;
    Ok(report)
}

fn which(name: &Path) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
