//! Gates and `git ml check` on real repositories with real histories.

use crate::common::TestEnv;

const PROJECT: &str = r#"
[metrics]
files = ["metrics.json"]

[gates.acc]
min = 0.8
max_drop = "2%"

[gates.loss]
max_increase = 0.05

[gates."a|b<script>"]
max = 10
"#;

fn setup() -> TestEnv {
    let env = TestEnv::new();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    toml.push_str(PROJECT);
    env.write("gitml.toml", toml);
    env.write(
        "metrics.json",
        r#"{"acc": 0.90, "loss": 0.30, "a|b<script>": 1}"#,
    );
    env.commit_all("baseline");
    env.git_ml(&["record"]).success();
    env.git(&["checkout", "-q", "-b", "change"]);
    env
}

fn gate<'a>(j: &'a serde_json::Value, metric: &str) -> &'a serde_json::Value {
    j["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["metric"] == metric)
        .unwrap()
}

#[test]
fn check_passes_fails_and_names_the_rule() {
    let env = setup();
    // acc drops 1.1% (allowed), loss rises 0.02 (allowed).
    env.write(
        "metrics.json",
        r#"{"acc": 0.89, "loss": 0.32, "a|b<script>": 2}"#,
    );
    env.commit_all("small change");
    env.git_ml(&["record"]).success();
    let ok = env.git_ml(&["check", "--json"]);
    ok.success();
    let j = ok.json();
    assert_eq!(j["passed"], true);
    assert_eq!(gate(&j, "acc")["verdict"], "pass");
    assert_eq!(
        j["base"]["rev"].as_str().unwrap().len(),
        40,
        "default base: the merge-base"
    );
    assert_eq!(j["new"]["rev"], "HEAD");
    let text = env.git_ml(&["check"]).success().stdout.clone();
    assert!(text.contains("gates: PASS"), "{text}");
    assert!(text.contains("drop <= 2%"), "{text}");
    assert!(text.contains("higher is better (inferred)"), "{text}");

    // loss rises 0.1: fails, exit 1 (not 2: the command worked).
    env.write(
        "metrics.json",
        r#"{"acc": 0.91, "loss": 0.40, "a|b<script>": 2}"#,
    );
    env.commit_all("worse loss");
    env.git_ml(&["record"]).success();
    let bad = env.git_ml(&["check", "--json"]);
    bad.code(1);
    let j = bad.json();
    assert_eq!(j["passed"], false);
    assert_eq!(gate(&j, "loss")["verdict"], "fail");
    assert_eq!(gate(&j, "loss")["higher_is_better"], false);
    assert_eq!(gate(&j, "acc")["verdict"], "pass");
    let text = env.git_ml(&["check"]).code(1).stdout.clone();
    assert!(
        text.contains("FAIL") && text.contains("increase <= 0.05"),
        "{text}"
    );

    // Below the floor fails whatever the baseline.
    env.write(
        "metrics.json",
        r#"{"acc": 0.5, "loss": 0.30, "a|b<script>": 2}"#,
    );
    let j = env.git_ml(&["check", "--json", "workspace"]).code(1).json();
    assert_eq!(gate(&j, "acc")["verdict"], "fail");
    assert_eq!(j["new"]["origin"], "worktree");
}

#[test]
fn nan_and_missing_metrics_are_fail_and_skipped_with_reasons() {
    let env = setup();
    env.write("metrics.yaml", "acc: .nan\n");
    let toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    env.write(
        "gitml.toml",
        toml.replace("files = [\"metrics.json\"]", "files = [\"metrics.yaml\"]"),
    );
    env.commit_all("nan acc, no loss");
    env.git_ml(&["record"]).success();
    let j = env
        .git_ml(&["check", "--json", "--base", "main"])
        .code(1)
        .json();
    assert_eq!(gate(&j, "acc")["verdict"], "fail");
    assert!(
        gate(&j, "acc")["rules"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("nan")
    );
    assert_eq!(gate(&j, "loss")["verdict"], "skipped");
    assert!(
        gate(&j, "loss")["reason"]
            .as_str()
            .unwrap()
            .contains("not in the new side")
    );
}

#[test]
fn markdown_escapes_hostile_metric_names() {
    let env = setup();
    env.write(
        "metrics.json",
        r#"{"acc": 0.9, "loss": 0.3, "a|b<script>": 20}"#,
    );
    env.commit_all("x");
    env.git_ml(&["record"]).success();
    let md = env.git_ml(&["check", "--md"]).code(1).stdout.clone();
    assert!(md.contains("a\\|b&lt;script&gt;"), "{md}");
    assert!(!md.contains("<script>"), "{md}");
    // Each row has exactly the table's columns (an unescaped `|` would add one).
    let header_cols = md
        .lines()
        .find(|l| l.starts_with("| Metric"))
        .unwrap()
        .matches(" | ")
        .count();
    for row in md
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| ---"))
    {
        assert_eq!(
            row.replace("\\|", "").matches(" | ").count(),
            header_cols,
            "{row}"
        );
    }
}

#[test]
fn the_baseline_can_be_the_model_in_production() {
    let env = setup();
    let prod = env.git(&["rev-parse", "main"]).trim().to_string();
    // GTO's promotion tag format: NAME#STAGE#N, annotated, on the commit.
    env.git(&["tag", "-a", "clf#production#1", "-m", "promote", &prod]);
    env.write(
        "metrics.json",
        r#"{"acc": 0.70, "loss": 0.3, "a|b<script>": 1}"#,
    );
    env.commit_all("worse");
    env.git_ml(&["record"]).success();
    let j = env
        .git_ml(&["check", "--json", "--baseline", "clf#production"])
        .code(1)
        .json();
    assert_eq!(j["base"]["commit"], prod.as_str());
    let out = env.git_ml(&["check", "--baseline", "clf#staging"]);
    out.code(2);
    assert!(out.stderr.contains("clf#staging#N"), "{}", out.stderr);
}

#[test]
fn report_in_markdown_html_and_json_with_history_charts() {
    let env = setup();
    for (i, acc) in [0.91, 0.92].iter().enumerate() {
        env.write(
            "metrics.json",
            format!(r#"{{"acc": {acc}, "loss": 0.3, "a|b<script>": {i}}}"#),
        );
        env.commit_all(&format!("step {i}"));
        env.git_ml(&["record"]).success();
    }
    let md = env
        .git_ml(&["report", "--format", "md", "--base", "main"])
        .success()
        .stdout
        .clone();
    assert!(md.starts_with("## git-ml report"), "{md}");
    assert!(md.contains("**Gates: PASS**"), "{md}");
    assert!(md.contains("```mermaid\nxychart-beta"), "{md}");
    assert!(md.contains("| Metric |"), "{md}");
    assert!(!md.contains("<script>"), "{md}");
    let html_file = env.base.join("report.html");
    env.git_ml(&[
        "report",
        "--format",
        "html",
        "--base",
        "main",
        "-o",
        html_file.to_str().unwrap(),
    ])
    .success();
    let html = std::fs::read_to_string(&html_file).unwrap();
    assert!(
        html.contains("<svg") && html.contains("a|b&lt;script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");
    let j = env
        .git_ml(&["report", "--format", "json", "--base", "main"])
        .success()
        .json();
    assert_eq!(j["passed"], true);
    assert!(
        j["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["metric"] == "acc")
    );
}

#[test]
fn markdown_reports_stay_under_githubs_comment_limit() {
    let env = TestEnv::new();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    toml.push_str("\n[metrics]\nfiles = [\"metrics.json\"]\n");
    env.write("gitml.toml", toml);
    let many = |v: f64| {
        let body: Vec<String> = (0..3000)
            .map(|i| {
                format!(
                    "\"metric_with_a_long_descriptive_name_{i:04}\": {}",
                    v + i as f64
                )
            })
            .collect();
        format!("{{{}}}", body.join(","))
    };
    env.write("metrics.json", many(0.0));
    env.commit_all("base");
    env.git(&["checkout", "-q", "-b", "x"]);
    env.write("metrics.json", many(0.5));
    env.commit_all("x");
    let md = env
        .git_ml(&["report", "--format", "md", "--base", "main"])
        .success()
        .stdout
        .clone();
    assert!(md.len() <= 64 * 1024, "{} bytes", md.len());
    assert!(md.contains("truncated"), "no truncation note");
}

#[test]
fn a_repository_template_replaces_the_built_in_one_and_still_escapes() {
    let env = setup();
    env.write(
        "metrics.json",
        r#"{"acc": 0.95, "loss": 0.3, "a|b<script>": 5}"#,
    );
    env.commit_all("better");
    env.git_ml(&["record"]).success();
    env.write(
        "ci/report.md.j2",
        "custom {{ verdict }}:{% for m in metrics %} {{ m.name }}={{ m.new }};{% endfor %}\n",
    );
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    toml.push_str("\n[report]\ntemplate = \"ci/report.md.j2\"\n");
    env.write("gitml.toml", toml);
    let md = env
        .git_ml(&["report", "--format", "md", "--base", "main"])
        .success()
        .stdout
        .clone();
    assert!(md.starts_with("custom PASS:"), "{md}");
    assert!(md.contains("a\\|b&lt;script&gt;=5.0000;"), "{md}");
    assert!(md.contains("acc=0.9500;"), "{md}");
    env.write("ci/broken.md.j2", "{% for m in metrics %}never closed");
    let out = env.git_ml(&["report", "--format", "md", "--template", "ci/broken.md.j2"]);
    out.code(2);
    assert!(out.stderr.contains("broken.md.j2"), "{}", out.stderr);
}
