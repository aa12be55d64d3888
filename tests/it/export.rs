//! `git ml export` read back by the tools it is for: Prometheus' own OpenMetrics parser (the
//! `prometheus_client` package, strict about the format) and Python's csv module; and
//! `--log-format json` read back as JSON lines.

use std::process::Command;

use crate::common::{Run, TestEnv};

fn python() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-tools/bin/python")
}

/// Runs `script` with `input` on stdin under the test tools' Python; its stdout as JSON.
fn py(script: &str, input: &str) -> serde_json::Value {
    use std::io::Write;
    let mut child = Command::new(python())
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the test tools' python (scripts/test installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python rejected the export: {}\n--- input ---\n{input}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Prometheus' reference parser: every sample as {name, labels, value}.
const PARSE_OPENMETRICS: &str = r#"
import sys, json, math
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = []
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        v = s.value
        out.append({"family": fam.name, "type": fam.type, "name": s.name, "labels": s.labels,
                    "value": None if math.isnan(v) else v, "timestamp": s.timestamp})
print(json.dumps(out))
"#;

const PARSE_CSV: &str = r#"
import sys, csv, json
print(json.dumps(list(csv.DictReader(sys.stdin))))
"#;

/// Names a cloned repository could use to break out of a label or a CSV cell.
const HOSTILE: &str = "evil\"} 1\ngitml_metric{metric=\"forged\\";
const FORMULA: &str = "=HYPERLINK(\"http://x\",\"y\")";

/// Two commits of metrics files on main, one with a run record on a branch.
fn history() -> TestEnv {
    let env = TestEnv::new();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    toml.push_str("\n[metrics]\nfiles = [\"m.json\"]\n");
    env.write("gitml.toml", toml);
    let metrics = |acc: f64| {
        serde_json::json!({ "acc": acc, HOSTILE: 2.5, FORMULA: 1, "loss": "NaN" }).to_string()
    };
    env.write("m.json", metrics(0.5));
    env.commit_all("first");
    env.write("m.json", metrics(0.75));
    env.commit_all("second");
    env
}

#[test]
fn openmetrics_export_parses_with_prometheus_and_keeps_hostile_names_as_label_values() {
    let env = history();
    let head = env.git(&["rev-parse", "HEAD"]).trim().to_string();
    let first = env.git(&["rev-parse", "HEAD~1"]).trim().to_string();
    let r = env.git_ml(&["export"]);
    r.success();
    assert!(r.stdout.ends_with("# EOF\n"), "{}", r.stdout);
    let samples = py(PARSE_OPENMETRICS, &r.stdout);
    let samples = samples.as_array().unwrap();
    let metric = |name: &str, commit: &str| {
        samples
            .iter()
            .filter(|s| {
                s["name"] == "gitml_metric"
                    && s["labels"]["metric"] == name
                    && s["labels"]["commit"] == commit
            })
            .cloned()
            .collect::<Vec<_>>()
    };
    let acc = metric("acc", &head);
    assert_eq!(acc.len(), 1, "{samples:?}");
    assert_eq!(acc[0]["value"], 0.75);
    assert_eq!(acc[0]["labels"]["branch"], "main");
    assert_eq!(acc[0]["labels"]["source"], "files");
    assert_eq!(acc[0]["type"], "gauge");
    assert!(acc[0]["timestamp"].is_null(), "no sample timestamps");
    assert_eq!(metric("acc", &first)[0]["value"], 0.5);
    // The hostile name is one label value, whole; nothing was forged out of it.
    assert_eq!(metric(HOSTILE, &head).len(), 1, "{samples:?}");
    assert_eq!(metric(HOSTILE, &head)[0]["value"], 2.5);
    assert!(metric("forged", &head).is_empty());
    assert_eq!(metric(FORMULA, &head).len(), 1);
    // A value that is not a number ("NaN" as text) is no sample, rather than a made-up one.
    assert!(metric("loss", &head).is_empty(), "{samples:?}");
    // One commit-time series per commit, matching git's committer time.
    let t: Vec<_> = samples
        .iter()
        .filter(|s| s["name"] == "gitml_commit_timestamp_seconds")
        .collect();
    assert_eq!(t.len(), 2, "{samples:?}");
    let git_time: f64 = env
        .git(&["log", "-1", "--format=%ct"])
        .trim()
        .parse()
        .unwrap();
    let head_time = t.iter().find(|s| s["labels"]["commit"] == head).unwrap();
    assert_eq!(head_time["value"], git_time);

    // --metric, -n and --branch narrow and relabel.
    let r = env.git_ml(&[
        "export",
        "--metric",
        "acc",
        "-n",
        "1",
        "--branch",
        "release \"x\"",
    ]);
    r.success();
    let samples = py(PARSE_OPENMETRICS, &r.stdout);
    let m: Vec<_> = samples
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == "gitml_metric")
        .collect();
    assert_eq!(m.len(), 1, "{samples}");
    assert_eq!(m[0]["labels"]["metric"], "acc");
    assert_eq!(m[0]["labels"]["branch"], "release \"x\"");
}

#[test]
fn the_branch_label_follows_the_range_and_a_run_record_is_the_source() {
    let env = history();
    env.git(&["checkout", "-q", "-b", "exp"]);
    env.write("notes.txt", "an experiment");
    env.commit_all("exp");
    env.git_ml(&["record", "--metric", "acc=0.9"]).success();
    let r = env.git_ml(&["export", "--metric", "acc", "-n", "1"]);
    r.success();
    let s = py(PARSE_OPENMETRICS, &r.stdout);
    let s = &s.as_array().unwrap()[0];
    assert_eq!(s["labels"]["branch"], "exp");
    assert_eq!(s["labels"]["source"], "record");
    assert_eq!(s["value"], 0.9);
    let r = env.git_ml(&["export", "main", "--metric", "acc", "-n", "1"]);
    let s = py(PARSE_OPENMETRICS, &r.stdout);
    assert_eq!(s[0]["labels"]["branch"], "main");
    assert_eq!(s[0]["value"], 0.75);
    // An unknown revision is an error, not an empty export.
    let r = env.git_ml(&["export", "no-such-branch"]);
    r.code(2);
    assert!(r.stderr.contains("no-such-branch"), "{}", r.stderr);
}

#[test]
fn csv_export_reads_back_and_defuses_spreadsheet_formulas() {
    let env = history();
    let head = env.git(&["rev-parse", "HEAD"]).trim().to_string();
    let r = env.git_ml(&["export", "--format", "csv"]);
    r.success();
    assert!(
        r.stdout
            .starts_with("commit,date,branch,source,metric,value\n")
    );
    let rows = py(PARSE_CSV, &r.stdout);
    let rows = rows.as_array().unwrap();
    // 2 commits × 3 numeric metrics (`loss` is text).
    assert_eq!(rows.len(), 6, "{rows:?}");
    let row = |metric: &str| {
        rows.iter()
            .find(|r| r["commit"] == head && r["metric"] == metric)
            .unwrap_or_else(|| panic!("no row for {metric:?} in {rows:?}"))
    };
    assert_eq!(row("acc")["value"], "0.75");
    assert_eq!(row("acc")["branch"], "main");
    assert_eq!(row(HOSTILE)["value"], "2.5");
    // The formula is kept readable but can no longer run: it starts with a quote.
    assert_eq!(row(&format!("'{FORMULA}"))["value"], "1.0");
    assert!(
        rows.iter()
            .all(|r| !r["metric"].as_str().unwrap().starts_with('='))
    );
}

fn json_lines(r: &Run) -> Vec<serde_json::Value> {
    r.stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

#[test]
fn log_format_json_puts_errors_and_warnings_on_stderr_as_json_lines() {
    let env = TestEnv::new();
    // An error: one JSON event with the level, the message naming the file, and the hint.
    env.write("bad.gitml", "not a pointer\n");
    let r = env.git_ml(&["--log-format", "json", "checkout", "bad"]);
    r.code(2);
    let lines = json_lines(&r);
    let e = lines
        .iter()
        .find(|l| l["level"] == "ERROR")
        .unwrap_or_else(|| panic!("no ERROR event in {}", r.stderr));
    assert!(e["message"].as_str().unwrap().contains("bad.gitml"), "{e}");
    assert!(e["hint"].as_str().is_some_and(|h| !h.is_empty()), "{e}");
    // The same error as text names the file too, and is not JSON.
    let t = env.git_ml(&["checkout", "bad"]);
    assert!(t.stderr.starts_with("error:"), "{}", t.stderr);

    // A warning: a WARN event, not a `warning:` line.
    std::fs::remove_file(env.path("bad.gitml")).unwrap();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    toml.push_str("\n[metrics]\nfiles = [\"m.json\"]\n");
    env.write("gitml.toml", toml);
    env.write("m.json", "{\"acc\": 1}");
    env.commit_all("metrics");
    let head = env.git(&["rev-parse", "HEAD"]).trim().to_string();
    // A note line that does not parse: `show` skips it with a warning.
    env.git_ml(&["record", "--metric", "acc=0.7"]).success();
    let note = env.git(&["notes", "--ref", "refs/notes/gitml", "show", &head]);
    let broken = format!("{{\"id\": truncated\n{note}");
    env.git(&[
        "notes",
        "--ref",
        "refs/notes/gitml",
        "add",
        "-f",
        "-m",
        &broken,
        &head,
    ]);
    let text = env.git_ml(&["show"]);
    text.success();
    assert!(text.stderr.contains("warning:"), "{}", text.stderr);
    let r = env.git_ml(&["--log-format=json", "show"]);
    r.success();
    assert!(!r.stderr.contains("warning:"), "{}", r.stderr);
    let lines = json_lines(&r);
    assert!(lines.iter().any(|l| l["level"] == "WARN"), "{}", r.stderr);
    // stdout is the result, as without the flag.
    assert_eq!(r.stdout, text.stdout);
}
