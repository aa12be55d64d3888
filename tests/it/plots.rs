//! `git ml plots show` and `plots diff`: real repositories with plot files at several commits,
//! hostile plot files, and the HTML page rendered by a real headless browser.

use std::path::Path;

use serde_json::Value;

use crate::common::{Run, TestEnv, b3};

const PROJECT: &str = r#"
[plots.roc]
path = "eval/plots/roc.json"
x = "fpr"
y = "tpr"
title = "ROC curve"
x_label = "False positive rate"
y_label = "True positive rate"

[plots.confusion]
path = "eval/plots/confusion.json"
kind = "confusion"
x = "actual"
y = "predicted"

[stages.train]
cmd = "true"
plots = ["dvclive/plots"]
"#;

/// ROC points `(fpr, tpr)` with `tpr = fpr^power`.
fn roc(power: f64) -> String {
    let pts: Vec<String> = (0..=10)
        .map(|i| {
            let f = i as f64 / 10.0;
            format!(
                "{{\"fpr\": {f}, \"tpr\": {}, \"threshold\": {}}}",
                f.powf(power),
                1.0 - f
            )
        })
        .collect();
    format!("[{}]", pts.join(", "))
}

fn setup() -> TestEnv {
    let env = TestEnv::new();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    toml.push_str(PROJECT);
    env.write("gitml.toml", toml);
    env.write("eval/plots/roc.json", roc(1.0));
    env.write(
        "eval/plots/confusion.json",
        r#"[{"actual": "cat", "predicted": "cat"}, {"actual": "cat", "predicted": "dog"}, {"actual": "dog", "predicted": "dog"}]"#,
    );
    env.write(
        "dvclive/plots/metrics/loss.tsv",
        "timestamp\tstep\tloss\n1700000000\t0\t0.9\n1700000001\t1\t0.6\n",
    );
    env.write(
        "dvclive/plots/images/sample.png",
        b"\x89PNG\r\n\x1a\nnot really",
    );
    env.commit_all("v1");
    env.write("eval/plots/roc.json", roc(0.5));
    env.write(
        "dvclive/plots/metrics/loss.tsv",
        "timestamp\tstep\tloss\n1700000000\t0\t0.8\n1700000001\t1\t0.4\n1700000002\t2\t0.3\n",
    );
    env.commit_all("v2");
    env
}

fn plot<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["plots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no plot {name} in {report:#}"))
}

fn points(rev: &Value) -> Vec<(f64, f64)> {
    rev["series"][0]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
        .collect()
}

#[test]
fn diff_of_two_commits_as_json() {
    let env = setup();
    let run = env.git_ml(&["plots", "diff", "HEAD~1", "HEAD", "--format", "json"]);
    run.success();
    let j = run.json();
    let (old, new) = (
        env.git(&["rev-parse", "HEAD~1"]),
        env.git(&["rev-parse", "HEAD"]),
    );
    assert_eq!(j["revisions"][0]["commit"], old.trim());
    assert_eq!(j["revisions"][1]["commit"], new.trim());
    let names: Vec<&str> = j["plots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "confusion",
            "roc",
            "dvclive/plots/images/sample.png",
            "dvclive/plots/metrics/loss.tsv"
        ]
    );

    let r = plot(&j, "roc");
    assert_eq!(r["kind"], "line");
    assert_eq!(
        (&r["x"], &r["y"][0]),
        (&Value::from("fpr"), &Value::from("tpr"))
    );
    assert_eq!(r["title"], "ROC curve");
    let (a, b) = (points(&r["revisions"][0]), points(&r["revisions"][1]));
    assert_eq!(a.len(), 11);
    for ((fa, ta), (fb, tb)) in a.iter().zip(&b) {
        assert_eq!(fa, fb);
        assert!((ta - fa).abs() < 1e-12, "old tpr = fpr: {a:?}");
        assert!((tb - fb.sqrt()).abs() < 1e-12, "new tpr = sqrt(fpr): {b:?}");
    }
    assert_eq!(r["revisions"][0]["rev"], "HEAD~1");
    assert_eq!(r["revisions"][0]["error"], Value::Null);

    let c = plot(&j, "confusion");
    assert_eq!(c["kind"], "confusion");
    let m = &c["revisions"][1]["matrix"];
    assert_eq!(m["labels"], serde_json::json!(["cat", "dog"]));
    assert_eq!(m["counts"], serde_json::json!([[1, 1], [0, 1]]));

    // dvclive's layout: x = step, y = the file's metric.
    let l = plot(&j, "dvclive/plots/metrics/loss.tsv");
    assert_eq!(
        (&l["x"], &l["y"][0]),
        (&Value::from("step"), &Value::from("loss"))
    );
    assert_eq!(points(&l["revisions"][0]), [(0.0, 0.9), (1.0, 0.6)]);
    assert_eq!(
        points(&l["revisions"][1]),
        [(0.0, 0.8), (1.0, 0.4), (2.0, 0.3)]
    );

    let i = plot(&j, "dvclive/plots/images/sample.png");
    assert_eq!(i["kind"], "image");
    assert_eq!(
        i["revisions"][1]["image"]["oid"],
        b3(b"\x89PNG\r\n\x1a\nnot really")
    );
    assert_eq!(i["revisions"][1]["image"]["size"], 18);
    assert_eq!(j["warnings"], serde_json::json!([]));
}

#[test]
fn show_reads_the_working_tree_and_markdown_overlays() {
    let env = setup();
    env.write("eval/plots/roc.json", roc(2.0));
    let j = env
        .git_ml(&["plots", "show", "--format", "json"])
        .success()
        .json();
    let r = plot(&j, "roc");
    assert_eq!(r["revisions"].as_array().unwrap().len(), 1);
    assert_eq!(r["revisions"][0]["rev"], "workspace");
    assert_eq!(r["revisions"][0]["commit"], Value::Null);
    assert!((points(&r["revisions"][0])[5].1 - 0.25).abs() < 1e-12);

    // Default format: Markdown with one Mermaid line per revision.
    let md = env
        .git_ml(&["plots", "diff", "HEAD"])
        .success()
        .stdout
        .clone();
    let chart = md
        .split("### ROC curve")
        .nth(1)
        .and_then(|s| s.split("```mermaid").nth(1))
        .and_then(|s| s.split("```").next())
        .unwrap_or_else(|| panic!("no ROC chart in\n{md}"));
    assert!(
        chart.contains("x-axis \"False positive rate\" 0 --> 1"),
        "{chart}"
    );
    let lines: Vec<&str> = chart
        .lines()
        .filter(|l| l.trim().starts_with("line ["))
        .collect();
    assert_eq!(lines.len(), 2, "{chart}");
    // fpr is evenly spaced: the chart uses those values, so the middle point is exact.
    assert!(
        lines[0].contains(", 0.7071, "),
        "HEAD: tpr = sqrt(0.5) at fpr 0.5: {chart}"
    );
    assert!(
        lines[1].contains(", 0.25, "),
        "workspace: tpr = 0.5^2: {chart}"
    );
    assert!(md.contains("| actual \\\\ predicted | cat | dog |"), "{md}");
    assert!(md.len() < 64 * 1024);
}

#[test]
fn diff_defaults_to_the_merge_base_and_the_working_tree() {
    let env = setup();
    env.git(&["checkout", "-q", "-b", "feature"]);
    env.write("eval/plots/roc.json", roc(3.0));
    env.commit_all("feature");
    env.write("eval/plots/roc.json", roc(4.0));
    let j = env
        .git_ml(&["plots", "diff", "--format", "json"])
        .success()
        .json();
    let main = env.git(&["rev-parse", "main"]);
    assert_eq!(j["revisions"][0]["commit"], main.trim());
    assert_eq!(j["revisions"][0]["rev"], "merge-base with main");
    assert_eq!(j["revisions"][1]["rev"], "workspace");
    let r = plot(&j, "roc");
    assert!((points(&r["revisions"][0])[5].1 - 0.5f64.sqrt()).abs() < 1e-12);
    assert!((points(&r["revisions"][1])[5].1 - 0.0625).abs() < 1e-12);

    // Four revisions, and -o.
    let missing_dir = env.git_ml(&["plots", "diff", "HEAD~1", "HEAD", "-o", "nowhere/x.md"]);
    missing_dir.code(2);
    std::fs::create_dir_all(env.path("out")).unwrap();
    env.git_ml(&[
        "plots",
        "diff",
        "HEAD~2",
        "HEAD~1",
        "HEAD",
        "workspace",
        "--format",
        "html",
        "-o",
        "out/plots.html",
    ])
    .success();
    let html = String::from_utf8(env.read("out/plots.html")).unwrap();
    assert!(html.starts_with("<!doctype html>"));
    assert_eq!(
        html.matches("<polyline").count(),
        4 + 4,
        "roc and loss at 4 revisions each"
    );

    let bad = env.git_ml(&["plots", "diff", "no-such-rev"]);
    bad.code(2);
    assert!(
        bad.stderr.contains("`no-such-rev` does not name a commit"),
        "{}",
        bad.stderr
    );
}

/// Run `plots show` on a working tree holding `files`, declared as `[plots.NAME]` each.
fn show_files(files: &[(&str, &[u8])]) -> (TestEnv, Run) {
    let env = TestEnv::new();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    for (i, (path, content)) in files.iter().enumerate() {
        // A JSON string is a TOML basic string (control characters as `\u` escapes).
        let quoted = serde_json::to_string(path).unwrap();
        toml.push_str(&format!("\n[plots.p{i}]\npath = {quoted}\n"));
        env.write(path, content);
    }
    env.write("gitml.toml", toml);
    let run = env.git_ml(&["plots", "show", "--format", "json"]);
    (env, run)
}

#[test]
fn hostile_files_are_errors_naming_the_file() {
    let mut non_utf8 = b"step,loss\n0,0.5\n1,".to_vec();
    non_utf8.extend_from_slice(&[0xff, 0xfe, b'\n']);
    let cases: &[(&str, &[u8], &str)] = &[
        ("a/number.json", b"42", "expected a list of records"),
        ("a/numbers.json", b"[1, 2, 3]", "record 1 to be an object"),
        (
            "a/two-keys.json",
            b"{\"a\": [], \"b\": []}",
            "more than one key",
        ),
        (
            "a/no-y.json",
            b"[{\"step\": 0, \"name\": \"x\"}]",
            "no numeric field",
        ),
        ("a/truncated.json", b"[{\"step\": 0", "not valid JSON"),
        ("a/latin1.csv", &non_utf8, "not valid UTF-8 (line 3"),
        ("a/empty.csv", b"", "no header row"),
        ("a/notes.txt", b"hello", "is not a plot file"),
        (
            "a/esc\x1b]0;pwned\x07.json",
            b"5",
            "expected a list of records",
        ),
    ];
    let mut files: Vec<(&str, &[u8])> = cases.iter().map(|(p, c, _)| (*p, *c)).collect();
    files.push(("a/good.csv", b"step,acc\n0,0.5\n1,0.75\n"));
    let (_env, run) = show_files(&files);
    // The command ran, showed what it could, and says some files were bad.
    run.code(1);
    let j: Value = serde_json::from_str(&run.stdout).unwrap();
    let good = plot(&j, &format!("p{}", cases.len()));
    assert_eq!(points(&good["revisions"][0]), [(0.0, 0.5), (1.0, 0.75)]);
    for (i, (path, _, needle)) in cases.iter().enumerate() {
        let p = plot(&j, &format!("p{i}"));
        let error = p["revisions"][0]["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{path}: no error in {p:#}"));
        assert!(error.contains(needle), "{path}: {error}");
        assert!(p["revisions"][0]["hint"].is_string(), "{path}: no hint");
        let shown = path.replace('\x1b', "\\e").replace('\x07', "\\x07");
        let line = format!("error: `{shown}` at workspace: ");
        assert!(
            run.stderr.contains(&line),
            "{path} not named on stderr:\n{}",
            run.stderr
        );
    }
    assert!(run.stderr.contains("hint: "), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(
        !run.stderr.contains('\x1b'),
        "an escape sequence reached the terminal"
    );
}

#[test]
fn nan_points_are_skipped_and_counted() {
    let (_env, run) = show_files(&[(
        "m.json",
        b"[{\"step\": 0, \"loss\": 1.0}, {\"step\": 1, \"loss\": NaN}, {\"step\": 2, \"loss\": Infinity}, {\"step\": 3, \"loss\": 0.5}]",
    )]);
    run.success();
    let j: Value = serde_json::from_str(&run.stdout).unwrap();
    let s = &plot(&j, "p0")["revisions"][0]["series"][0];
    assert_eq!(s["skipped_non_finite"], 2);
    assert_eq!(
        points(&plot(&j, "p0")["revisions"][0]),
        [(0.0, 1.0), (3.0, 0.5)]
    );
    assert!(
        run.stderr.contains(
            "warning: `m.json` at workspace: 2 points of `loss` with NaN or infinity skipped"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn oversized_files_and_symlinks_out_of_the_repository_are_refused() {
    let env = TestEnv::new();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    toml.push_str("\n[plots.big]\npath = \"big.csv\"\n\n[plots.link]\npath = \"link.csv\"\n");
    env.write("gitml.toml", toml);
    // Sparse: 65 MiB that take no space.
    let f = std::fs::File::create(env.path("big.csv")).unwrap();
    f.set_len(65 << 20).unwrap();
    let outside = env.base.join("secret.csv");
    std::fs::write(&outside, "user,password\nroot,hunter2\n").unwrap();
    std::os::unix::fs::symlink(&outside, env.path("link.csv")).unwrap();
    let run = env.git_ml(&["plots", "show", "--format", "md"]);
    run.code(1);
    assert!(
        run.stderr.contains(
            "error: `big.csv` at workspace: is 68157440 bytes, more than the 64 MiB limit"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("error: `link.csv` at workspace: is a symlink to"),
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains("hunter2"), "{}", run.stdout);

    // Through a linked directory, and into .git: refused as well.
    std::fs::create_dir_all(env.base.join("elsewhere")).unwrap();
    std::fs::write(
        env.base.join("elsewhere/p.csv"),
        "user,password\nroot,hunter2\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(env.base.join("elsewhere"), env.path("linked")).unwrap();
    std::os::unix::fs::symlink(".git/config", env.path("gitconfig.csv")).unwrap();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    toml.push_str("\n[plots.dir]\npath = \"linked\"\n\n[plots.file]\npath = \"linked/p.csv\"\n\n[plots.git]\npath = \"gitconfig.csv\"\n");
    env.write("gitml.toml", toml);
    let run = env.git_ml(&["plots", "show", "--format", "json"]);
    run.code(1);
    assert!(
        !run.stdout.contains("hunter2") && !run.stdout.contains("repositoryformatversion"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr
            .contains("error: `linked/p.csv` at workspace: is a symlink to"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("error: `gitconfig.csv` at workspace: leads into the git directory"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("warning: `linked` (gitml.toml:"),
        "{}",
        run.stderr
    );

    // Committed, the link is refused too (git stores the link, not the file).
    env.git(&["add", "gitml.toml", "link.csv"]);
    env.git(&["commit", "-q", "-m", "link"]);
    let run = env.git_ml(&["plots", "show", "HEAD", "--format", "json"]);
    assert!(
        run.stderr
            .contains("error: `link.csv` at HEAD: is a symlink in this commit"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_million_points_stay_fast_and_bounded() {
    let env = TestEnv::new();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    toml.push_str("\n[plots.loss]\npath = \"loss.csv\"\n");
    env.write("gitml.toml", toml);
    let mut text = String::with_capacity(24 << 20);
    text.push_str("step,loss\n");
    for i in 0..1_000_000u32 {
        text.push_str(&format!("{i},{:.6}\n", 1.0 / (1.0 + i as f64 / 1000.0)));
    }
    env.write("loss.csv", &text);
    for format in ["json", "html", "md"] {
        let start = std::time::Instant::now();
        let run = env.git_ml(&["plots", "show", "--format", format]);
        let took = start.elapsed();
        run.success();
        eprintln!(
            "1,000,000 points as {format}: {took:?}, {} bytes",
            run.stdout.len()
        );
        assert!(took.as_secs() < 60, "{format} took {took:?}");
        assert!(
            run.stdout.len() < 200_000,
            "{format}: {} bytes",
            run.stdout.len()
        );
        if format == "json" {
            let j = run.json();
            let s = &plot(&j, "loss")["revisions"][0]["series"][0];
            assert_eq!(s["total"], 1_000_000);
            assert_eq!(s["points"].as_array().unwrap().len(), 1000);
        }
    }
}

#[test]
fn configuration_errors_name_the_section() {
    let env = TestEnv::new();
    let base = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    for (extra, needle) in [
        (
            "[plots.roc]\npath = \"r.json\"\nx_axis = \"fpr\"\n",
            "[plots.roc] unknown key `x_axis`; known keys: path, x, y, title, x_label, y_label, kind",
        ),
        (
            "[plots.roc]\npath = \"../r.json\"\n",
            "[plots.roc]: invalid path `../r.json`",
        ),
        (
            "[plots.roc]\npath = \"r.json\"\nkind = \"pie\"\n",
            "`kind = \"pie\"` is not one of line, scatter, confusion, image",
        ),
    ] {
        env.write("gitml.toml", format!("{base}\n{extra}"));
        let run = env.git_ml(&["plots", "show"]);
        run.code(2);
        assert!(run.stderr.contains(needle), "{extra}: {}", run.stderr);
        assert!(run.stderr.contains("hint: "), "{}", run.stderr);
    }
    env.write("gitml.toml", &base);
    let run = env.git_ml(&["plots", "show"]);
    run.success();
    assert!(
        run.stderr.contains("warning: no plots are declared"),
        "{}",
        run.stderr
    );
}

#[test]
fn directory_plots_entries_override_stage_paths() {
    let env = TestEnv::new();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    toml.push_str(
        "\n[plots.pr]\npath = \"eval/plots/pr.json\"\nx = \"recall\"\ny = \"precision\"\nkind = \"scatter\"\n\n[stages.eval]\ncmd = \"true\"\nplots = [\"eval/plots\"]\n",
    );
    env.write("gitml.toml", toml);
    env.write(
        "eval/plots/pr.json",
        r#"[{"precision": 1.0, "recall": 0.0}, {"precision": 0.5, "recall": 1.0}]"#,
    );
    env.write("eval/plots/sub/acc.csv", "epoch,acc\n0,0.5\n1,0.7\n");
    env.write("eval/plots/.hidden.json", "not read");
    env.write("eval/plots/README.md", "# notes");
    let j = env
        .git_ml(&["plots", "show", "--format", "json"])
        .success()
        .json();
    let names: Vec<&str> = j["plots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pr", "eval/plots/sub/acc.csv"]);
    let pr = plot(&j, "pr");
    assert_eq!(pr["kind"], "scatter");
    assert_eq!(points(&pr["revisions"][0]), [(0.0, 1.0), (1.0, 0.5)]);
    let acc = plot(&j, "eval/plots/sub/acc.csv");
    assert_eq!(acc["x"], "epoch");
    assert!(
        j["warnings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("`eval/plots/README.md` is not a plot file"),
        "{j:#}"
    );
}

#[test]
fn plots_inside_a_tracked_output() {
    let env = TestEnv::new();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    toml.push_str("\n[plots.roc]\npath = \"eval/plots/roc.json\"\nx = \"fpr\"\ny = \"tpr\"\n");
    env.write("gitml.toml", toml);
    env.write("eval/plots/roc.json", roc(1.0));
    env.write("eval/metrics.json", "{}");
    env.git_ml(&["add", "eval"]).success();
    env.commit_all("tracked eval");
    // In the working tree the file is on disk and read like any other.
    let j = env
        .git_ml(&["plots", "show", "--format", "json"])
        .success()
        .json();
    assert_eq!(points(&plot(&j, "roc")["revisions"][0]).len(), 11);
    // In a commit only the pointer is in git's tree: the file is read through it and the cache.
    let run = env.git_ml(&["plots", "show", "HEAD", "--format", "json"]);
    run.success();
    assert_eq!(points(&plot(&run.json(), "roc")["revisions"][0]).len(), 11);
    // Without the object, and no remote to fetch it from: said so, with the way to get it.
    for o in env.cache_objects() {
        std::fs::remove_file(o).unwrap();
    }
    let run = env.git_ml(&["plots", "show", "HEAD", "--format", "json"]);
    let j = run.json();
    let all = j["warnings"].to_string();
    assert!(all.contains("git ml pull"), "{j:#}");
}

/// Pixels of `png` within `tol` of `rgb`, inside the rectangle `area` (x0, y0, x1, y1).
fn count_colour(img: &Image, area: (usize, usize, usize, usize), rgb: [u8; 3], tol: i32) -> usize {
    let mut n = 0;
    for y in area.1..area.3 {
        for x in area.0..area.2 {
            let p = img.at(x, y);
            if (0..3).all(|i| (p[i] as i32 - rgb[i] as i32).abs() <= tol) {
                n += 1;
            }
        }
    }
    n
}

struct Image {
    width: usize,
    height: usize,
    rgb: Vec<[u8; 3]>,
}

impl Image {
    fn decode(path: &Path) -> Image {
        let decoder =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        let channels = info.color_type.samples();
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        let rgb = buf[..info.buffer_size()]
            .chunks(channels)
            .map(|c| {
                if channels >= 3 {
                    [c[0], c[1], c[2]]
                } else {
                    [c[0]; 3]
                }
            })
            .collect();
        Image {
            width: info.width as usize,
            height: info.height as usize,
            rgb,
        }
    }

    fn at(&self, x: usize, y: usize) -> [u8; 3] {
        self.rgb[y * self.width + x]
    }

    /// The bounding box of pixels exactly `rgb` (the plot area's background).
    fn bbox(&self, rgb: [u8; 3]) -> Option<(usize, usize, usize, usize)> {
        let mut b: Option<(usize, usize, usize, usize)> = None;
        for y in 0..self.height {
            for x in 0..self.width {
                if self.at(x, y) == rgb {
                    b = Some(match b {
                        None => (x, y, x + 1, y + 1),
                        Some((x0, y0, x1, y1)) => {
                            (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1))
                        }
                    });
                }
            }
        }
        b
    }
}

fn hex(c: &str) -> [u8; 3] {
    let v = u32::from_str_radix(c.trim_start_matches('#'), 16).unwrap();
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

/// The HTML of a ROC diff in a real browser: both revisions' curves are drawn, in their colours,
/// inside the plot area.
#[test]
fn browser_renders_the_roc_diff() {
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
    let Some(chromium) = chromium else {
        if std::env::var_os("GITML_REQUIRE_BROWSER").is_some() {
            panic!(
                "GITML_REQUIRE_BROWSER is set but no chromium was found; install it with `apt-get install -y chromium`"
            );
        }
        eprintln!(
            "\n*** SKIPPED browser_renders_the_roc_diff: chromium is not installed (`apt-get install -y chromium`; set GITML_REQUIRE_BROWSER=1 to make this a failure) ***\n"
        );
        return;
    };
    let env = TestEnv::new();
    let mut toml = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    toml.push_str(
        "\n[plots.roc]\npath = \"roc.json\"\nx = \"fpr\"\ny = \"tpr\"\ntitle = \"ROC\"\n",
    );
    env.write("gitml.toml", toml);
    env.write("roc.json", roc(1.0));
    env.commit_all("v1");
    env.write("roc.json", roc(0.25));
    env.commit_all("v2");
    let page = env.base.join("roc.html");
    env.git_ml(&[
        "plots",
        "diff",
        "HEAD~1",
        "HEAD",
        "--format",
        "html",
        "-o",
        page.to_str().unwrap(),
    ])
    .success();
    let shot = env.base.join("roc.png");
    let profile = env.base.join("chromium-profile");
    let out = env
        .command(chromium, &env.base)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1000,800")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(
        shot.is_file(),
        "chromium wrote no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let img = Image::decode(&shot);
    let area = img
        .bbox(hex(gitml::plots::svg::PLOT_BACKGROUND))
        .expect("the plot area is on the screenshot");
    let (w, h) = (area.2 - area.0, area.3 - area.1);
    assert!(w > 500 && h > 250, "plot area {area:?}");
    let total = w * h;
    for (i, name) in ["HEAD~1", "HEAD"].iter().enumerate() {
        let colour = hex(gitml::plots::svg::PALETTE[i]);
        let n = count_colour(&img, area, colour, 40);
        // A 2 px line across a ~670x320 area: hundreds of pixels, not a filled area.
        assert!(
            n > 400,
            "{name}'s curve ({colour:?}) has {n} pixels in the plot area {area:?}"
        );
        assert!(
            n < total / 10,
            "{name}'s colour fills {n} of {total} pixels"
        );
    }
    // The curves differ: x^1 is the diagonal; x^0.25 is far above it at fpr 0.1 (0.56 vs 0.1).
    let x = area.0 + w / 10;
    let column_hits = |rgb: [u8; 3]| {
        (area.1..area.3)
            .filter(|&y| {
                (x.saturating_sub(2)..x + 3).any(|xx| {
                    let p = img.at(xx, y);
                    (0..3).all(|i| (p[i] as i32 - rgb[i] as i32).abs() <= 40)
                })
            })
            .min()
    };
    let (old_y, new_y) = (
        column_hits(hex(gitml::plots::svg::PALETTE[0])),
        column_hits(hex(gitml::plots::svg::PALETTE[1])),
    );
    let (Some(old_y), Some(new_y)) = (old_y, new_y) else {
        panic!("both curves cross x = {x}: {old_y:?} {new_y:?}");
    };
    assert!(
        new_y + 100 < old_y,
        "the new curve is well above the old one at fpr 0.1: {new_y} vs {old_y}"
    );
}
