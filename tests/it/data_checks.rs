//! Table profiles, drift and data gates (`git ml data`, `[data.gates]`), checked against an
//! independent computation (pandas and SciPy, tests/it/data_reference.py) on generated data with
//! known shifts, and fed the malformed tables users have.

use std::path::Path;
use std::process::Command;

use crate::common::TestEnv;

fn python() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-tools/bin/python")
}

/// The two versions of the reference table committed as `data/train.<kind>` (csv or parquet),
/// and what pandas and SciPy say about them.
fn reference(env: &TestEnv, kind: &str) -> serde_json::Value {
    let dir = env.base.join("reference");
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/data_reference.py"))
        .arg(&dir)
        .arg(kind)
        .output()
        .expect("run the reference (scripts/test installs pandas and SciPy)");
    assert!(
        out.status.success(),
        "reference failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::create_dir_all(env.path("data")).unwrap();
    let tracked = format!("data/train.{kind}");
    std::fs::copy(dir.join(format!("old.{kind}")), env.path(&tracked)).unwrap();
    env.git_ml(&["add", &tracked]).success();
    env.commit_all("data v1");
    std::fs::copy(dir.join(format!("new.{kind}")), env.path(&tracked)).unwrap();
    env.git_ml(&["add", &tracked]).success();
    env.commit_all("data v2");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[track_caller]
fn close(what: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: git-ml {got}, reference {want} (tolerance {tol})"
    );
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn profiles_and_drift_agree_with_pandas_and_scipy() {
    agree_with_reference("csv");
}

/// The same table as Parquet (eight row groups, a nested list column), against pandas'
/// `read_parquet`.
#[test]
fn parquet_profiles_and_drift_agree_with_pandas_and_scipy() {
    agree_with_reference("parquet");
}

fn agree_with_reference(kind: &str) {
    let env = TestEnv::new();
    let want = reference(&env, kind);
    let tracked = format!("data/train.{kind}");
    for (side, rev) in [("old", "HEAD~1"), ("new", "HEAD")] {
        let got = env
            .git_ml(&["data", "show", &tracked, "--rev", rev, "--json"])
            .success()
            .json();
        let p = &got["profile"];
        let w = &want[side];
        assert_eq!(p["rows"], w["rows"], "{side} rows");
        let names: Vec<&str> = p["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        let mut want_names: Vec<&str> = w["columns"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        want_names.sort();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(sorted, want_names, "{side} columns");
        if kind == "parquet" {
            let tags = p["columns"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == "tags");
            assert_eq!(tags.unwrap()["type"], "nested", "a list column is nested");
        }
        for c in p["columns"].as_array().unwrap() {
            let name = c["name"].as_str().unwrap();
            let r = &w["columns"][name];
            let what = |s: &str| format!("{side} {name} {s}");
            assert_eq!(c["nulls"], r["nulls"], "{}", what("nulls"));
            assert_eq!(c["count"], r["count"], "{}", what("count"));
            let distinct = f(&c["distinct"]);
            if c["distinct_exact"].as_bool().unwrap() {
                assert_eq!(c["distinct"], r["distinct"], "{}", what("distinct"));
            } else {
                close(
                    &what("distinct"),
                    distinct,
                    f(&r["distinct"]),
                    0.03 * f(&r["distinct"]),
                );
            }
            if let Some(n) = c.get("numbers") {
                let sd = f(&r["sd"]);
                close(
                    &what("mean"),
                    f(&n["mean"]),
                    f(&r["mean"]),
                    1e-9 * f(&r["mean"]).abs().max(1.0),
                );
                close(&what("sd"), f(&n["sd"]), sd, 1e-9 * sd);
                assert_eq!(n["min"], r["min"], "{}", what("min"));
                assert_eq!(n["max"], r["max"], "{}", what("max"));
                // Counted values: exact; from the sketch: within 1% of the spread.
                let exact = n.get("values").is_some();
                for q in n["quantiles"].as_array().unwrap() {
                    let (k, v) = (q[0].as_str().unwrap(), f(&q[1]));
                    let tol = if exact { 0.0 } else { 0.01 * sd };
                    close(&what(k), v, f(&r["quantiles"][k]), tol);
                }
            } else {
                let values: serde_json::Map<String, serde_json::Value> = c["values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| (v["value"].as_str().unwrap().to_string(), v["count"].clone()))
                    .collect();
                assert_eq!(
                    serde_json::Value::Object(values),
                    r["values"],
                    "{}",
                    what("values")
                );
            }
        }
    }
    let got = env
        .git_ml(&["data", "diff", "HEAD~1", "HEAD", &tracked, "--json"])
        .success()
        .json();
    let t = &got["tables"][0];
    assert_eq!(t["path"], tracked.as_str());
    assert_eq!(t["rows_change"], 600);
    for c in t["columns"].as_array().unwrap() {
        let name = c["column"].as_str().unwrap();
        let r = &want["drift"][name];
        let stats = &c["statistics"];
        let exact = ["age", "country", "flag", "name", "tags"].contains(&name);
        for (k, v) in r.as_object().unwrap() {
            let (got, want) = (f(&stats[k]), f(v));
            // From the sketches: D within 0.005, PSI within 0.01 + 5%.
            let tol = match (exact, k.as_str()) {
                (true, _) => 1e-9,
                (false, "ks") => 0.005,
                _ => 0.01 + 0.05 * want,
            };
            close(&format!("{name} {k}"), got, want, tol);
        }
    }
    // The shifts the data was made with are the columns that drifted.
    let drifted: Vec<&str> = t["drifted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        drifted.contains(&"ts") && drifted.contains(&"country"),
        "{drifted:?}"
    );
    assert!(
        !drifted.contains(&"id") && !drifted.contains(&"flag"),
        "{drifted:?}"
    );
}

fn small_table(env: &TestEnv, rows: &[&str]) {
    let mut text = String::new();
    for r in rows {
        text.push_str(r);
        text.push('\n');
    }
    env.write("data/t.csv", text);
    env.git_ml(&["add", "data/t.csv"]).success();
}

#[test]
fn data_gates_decide_the_check_with_named_columns_and_verdicts() {
    let env = TestEnv::new();
    let rows = |shift: i64, extra: bool| -> Vec<String> {
        let mut v = vec![if extra {
            "a,b,@team|x,c".to_string()
        } else {
            "a,b,@team|x".into()
        }];
        for i in 0..200 {
            let b = if i % 10 == 0 {
                String::new()
            } else {
                format!("{}", (i % 7) + shift)
            };
            let cat = if (i + shift) % 3 == 0 { "red" } else { "blue" };
            v.push(if extra {
                format!("{i},{b},{cat},1")
            } else {
                format!("{i},{b},{cat}")
            });
        }
        v
    };
    env.write("README", "a start without tables");
    env.commit_all("start");
    let base = rows(0, false);
    small_table(&env, &base.iter().map(String::as_str).collect::<Vec<_>>());
    env.commit_all("v1");
    let changed = rows(5, true);
    small_table(
        &env,
        &changed.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    env.commit_all("v2");

    let gates = |extra: &str| {
        let text = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
        let text = text.split("\n[data").next().unwrap().to_string();
        std::fs::write(env.path("gitml.toml"), format!("{text}\n{extra}")).unwrap();
    };
    // A gate that holds: additive schema, enough rows, nulls under 20%.
    gates(
        "[data.gates.\"data/*.csv\"]\nschema = \"additive\"\nmin_rows = 100\nmax_null_ratio = 0.2\n",
    );
    let r = env
        .git_ml(&["check", "HEAD", "--base", "HEAD~1", "--json"])
        .success()
        .json();
    assert_eq!(r["passed"], true);
    assert_eq!(r["data"][0]["verdict"], "pass");
    assert_eq!(r["data"][0]["path"], "data/t.csv");

    // Drift of `b` (shifted by 5) and a stricter schema: both fail, and say which column.
    gates(
        "[data.gates.\"data/*.csv\"]\nschema = \"no-changes\"\nmax_drift = { ks = 0.5 }\ncolumns = [\"a\", \"b\"]\n",
    );
    let out = env.git_ml(&["check", "HEAD", "--base", "HEAD~1", "--json"]);
    out.code(1);
    let r = out.json();
    let d = &r["data"][0];
    assert_eq!(d["verdict"], "fail");
    let cols = d["columns"].as_array().unwrap();
    assert_eq!(cols.len(), 2, "only the named columns: {cols:?}");
    let b = cols.iter().find(|c| c["column"] == "b").unwrap();
    assert_eq!(b["drifted"], true);
    assert_eq!(b["statistic"], "ks");
    assert!(f(&b["value"]) > 0.5);
    let a = cols.iter().find(|c| c["column"] == "a").unwrap();
    assert_eq!(a["drifted"], false);
    let rules: Vec<&str> = d["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"schema: no changes"), "{rules:?}");

    // `data diff` (and so the report) judges a column by the gate that covers it, and the other
    // columns by the defaults: the report and the check never disagree about a column.
    let col = |r: &serde_json::Value, name: &str| {
        r["tables"][0]["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["column"] == name)
            .unwrap_or_else(|| panic!("no column {name} in {r}"))
            .clone()
    };
    let data_diff = || {
        env.git_ml(&["data", "diff", "HEAD~1", "HEAD", "--json"])
            .success()
            .json()
    };
    let r = data_diff();
    let b = col(&r, "b");
    assert_eq!(
        (b["statistic"].as_str(), b["threshold"].as_f64()),
        (Some("ks"), Some(0.5))
    );
    assert_eq!(b["drifted"], true);
    assert_eq!(
        col(&r, "@team|x")["statistic"],
        "js",
        "not a gated column: {r}"
    );
    gates("[data.gates.\"data/*.csv\"]\nmax_drift = { ks = 0.99 }\n");
    let r = data_diff();
    let b = col(&r, "b");
    assert_eq!(
        (b["statistic"].as_str(), b["drifted"].as_bool()),
        (Some("ks"), Some(false))
    );
    assert!(
        !r["tables"][0]["drifted"]
            .as_array()
            .unwrap()
            .contains(&"b".into()),
        "{r}"
    );
    let full = env
        .git_ml(&["diff", "HEAD~1", "HEAD", "--json"])
        .success()
        .json();
    assert_eq!(
        full["tables"][0]["columns"], r["tables"][0]["columns"],
        "{full}"
    );
    gates(
        "[data.gates.\"data/*.csv\"]\nschema = \"no-changes\"\nmax_drift = { ks = 0.5 }\ncolumns = [\"a\", \"b\"]\n",
    );

    // The terminal and Markdown verdicts; a column named `@team|x` neither pings nor breaks a table.
    let term = env.git_ml(&["check", "HEAD", "--base", "HEAD~1"]);
    term.code(1);
    assert!(
        term.stdout.contains("data data/t.csv (data/*.csv)") && term.stdout.contains("FAIL"),
        "{}",
        term.stdout
    );
    let md = env
        .git_ml(&["data", "diff", "HEAD~1", "HEAD", "--md"])
        .success()
        .stdout
        .clone();
    assert!(!md.contains("@team") && md.contains("team"), "{md}");
    assert!(!md.contains("@team|x"), "{md}");

    // A glob that matches nothing is skipped, and the check still passes on that gate alone.
    gates("[data.gates.\"other/*.csv\"]\nmin_rows = 1\n");
    let r = env
        .git_ml(&["check", "HEAD", "--base", "HEAD~1", "--json"])
        .success()
        .json();
    assert_eq!(r["data"][0]["verdict"], "skipped");
    assert!(
        r["data"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("no tracked table")
    );

    // A table new on this side: only rows and nulls are checked.
    gates("[data.gates.\"data/*.csv\"]\nmin_rows = 1000\nschema = \"additive\"\n");
    let out = env.git_ml(&["check", "HEAD", "--base", "HEAD~2", "--json"]);
    let r = out.json();
    assert_eq!(r["data"][0]["verdict"], "fail", "{r}");
    assert!(
        r["data"][0]["rules"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("200 rows")
    );
    gates("[data.gates.\"data/*.csv\"]\nmin_rows = 100\nschema = \"additive\"\n");
    let r = env
        .git_ml(&["check", "HEAD", "--base", "HEAD~2", "--json"])
        .success()
        .json();
    assert_eq!(r["data"][0]["verdict"], "new", "{r}");

    // Mistakes in the gate are errors that name the section.
    gates("[data.gates.\"data/*.csv\"]\nmax_drift = { chi2 = 1 }\n");
    let out = env.git_ml(&["check", "HEAD", "--base", "HEAD~1"]);
    out.code(2);
    assert!(
        out.stderr.contains("[data.gates.\"data/*.csv\"]")
            && out.stderr.contains("unknown statistic"),
        "{}",
        out.stderr
    );
}

#[test]
fn malformed_tables_get_a_clear_error_and_lose_nothing() {
    let env = TestEnv::new();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "ragged.csv",
            b"a,b,c\n1,2,3\n4,5\n".to_vec(),
            "line 3: 2 fields, but the header has 3",
        ),
        (
            "latin1.csv",
            b"name,n\ncaf\xe9,1\n".to_vec(),
            "line 2: column `name` is not UTF-8",
        ),
        (
            "rows.jsonl",
            b"{\"a\":1}\n[1,2]\n".to_vec(),
            "line 2: not a JSON object",
        ),
        (
            "quote.csv",
            b"a,b\n1,\"open\n2,3\n".to_vec(),
            "line 2: a quoted field is never closed",
        ),
    ];
    for (name, bytes, message) in &cases {
        env.write(name, bytes);
        let out = env.git_ml(&["data", "show", name]);
        out.code(2);
        assert!(
            out.stderr.contains(&format!("{name}: ")) && out.stderr.contains(message),
            "{name}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains("hint: ") && out.stderr.contains("docs/data-checks.md"),
            "{}",
            out.stderr
        );
        assert_eq!(&env.read(name), bytes, "{name} was changed");
    }
    // An empty file: a profile with nothing in it, said plainly.
    env.write("empty.csv", "");
    let out = env
        .git_ml(&["data", "show", "empty.csv"])
        .success()
        .stdout
        .clone();
    assert!(
        out.contains("0 rows") && out.contains("the file is empty"),
        "{out}"
    );
    // Parquet: garbage, a file cut short, and a codec git-ml does not build in, each named.
    let made = Command::new(python())
        .arg("-c")
        .arg(
            "import sys, pyarrow as pa, pyarrow.parquet as pq\n\
             t = pa.table({'a': list(range(5000)), 'b': [[i, i] for i in range(5000)]})\n\
             pq.write_table(t, sys.argv[1] + '/whole.parquet')\n\
             pq.write_table(t, sys.argv[1] + '/brotli.parquet', compression='brotli')\n",
        )
        .arg(&env.root)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let whole = env.read("whole.parquet");
    let parquet_cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "garbage.parquet",
            b"PAR1\0\0PAR1".to_vec(),
            "cannot be read as Parquet",
        ),
        (
            "cut.parquet",
            whole[..whole.len() / 2].to_vec(),
            "cannot be read as Parquet",
        ),
        (
            "brotli.parquet",
            env.read("brotli.parquet"),
            "rewrite it with snappy, zstd",
        ),
    ];
    for (name, bytes, message) in &parquet_cases {
        env.write(name, bytes);
        let out = env.git_ml(&["data", "show", name]);
        out.code(2);
        assert!(
            out.stderr.contains(&format!("{name}: ")) && out.stderr.contains(message),
            "{name}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        assert_eq!(&env.read(name), bytes, "{name} was changed");
    }
    // ... and a whole one with a nested column profiles.
    let p = env
        .git_ml(&["data", "show", "whole.parquet", "--json"])
        .success()
        .json();
    assert_eq!(p["profile"]["rows"], 5000);
    assert_eq!(p["profile"]["columns"][1]["type"], "nested");
    assert_eq!(p["profile"]["columns"][1]["distinct"], 5000);
    // A 1 GiB line (a sparse file: no newline anywhere) is refused in bounded memory.
    let big = env.path("one-line.csv");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let out = env.git_ml(&["data", "show", "one-line.csv"]);
    out.code(2);
    assert!(
        out.stderr
            .contains("one-line.csv: line 1: a record longer than 64 MiB"),
        "{}",
        out.stderr
    );

    // A tracked malformed table fails a data gate with the same message, and is still intact.
    env.write("data/t.csv", b"a,b\n1,2\n3\n");
    env.git_ml(&["add", "data/t.csv"]).success();
    env.commit_all("bad table");
    let text = std::fs::read_to_string(env.path("gitml.toml")).unwrap();
    std::fs::write(
        env.path("gitml.toml"),
        format!("{text}\n[data.gates.\"data/*.csv\"]\nmin_rows = 1\n"),
    )
    .unwrap();
    let out = env.git_ml(&["check", "HEAD", "--base", "HEAD", "--json"]);
    out.code(1);
    let r = out.json();
    assert_eq!(r["data"][0]["verdict"], "fail");
    assert!(
        r["data"][0]["rules"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("line 3: 1 fields"),
        "{r}"
    );
    env.git_ml(&["verify"]).success();
    assert_eq!(env.read("data/t.csv"), b"a,b\n1,2\n3\n");
}

#[test]
fn profiles_travel_with_push_and_pull_and_a_damaged_one_is_recomputed() {
    let env = TestEnv::new();
    let store = env.base.join("store");
    std::fs::create_dir_all(&store).unwrap();
    env.git_ml(&["remote", "add", "store", store.to_str().unwrap()])
        .success();
    let mut text = String::from("x,y\n");
    for i in 0..500 {
        text.push_str(&format!("{i},{}\n", i % 4));
    }
    env.write("data/dir/part.csv", &text);
    env.write("data/dir/notes.txt", "not a table");
    env.git_ml(&["add", "data/dir"]).success();
    env.commit_all("a directory with a table");
    // The profile is computed once (by show), then pushed with the data, once.
    let shown = env
        .git_ml(&[
            "data",
            "show",
            "data/dir/part.csv",
            "--rev",
            "HEAD",
            "--json",
        ])
        .success()
        .json();
    assert_eq!(shown["profile"]["rows"], 500);
    let out = env.git_ml(&["push"]).success().stderr.clone();
    assert!(out.contains("pushed 1 table profile"), "{out}");
    let out = env.git_ml(&["push"]).success().stderr.clone();
    assert!(!out.contains("table profile"), "pushed again: {out}");

    let clone = env.clone_repo();
    clone.git_ml(&["pull"]).success();
    let profiles = clone.cache_dir().join("profiles/v2");
    let stored: Vec<_> = walk(&profiles);
    assert_eq!(stored.len(), 1, "{stored:?}");
    // The clone reads the pulled profile even without the content: remove the object.
    let oid = shown["profile"]["oid"]
        .as_str()
        .unwrap()
        .trim_start_matches("blake3:")
        .to_string();
    let object = clone
        .cache_dir()
        .join("blake3")
        .join(&oid[..2])
        .join(&oid[2..]);
    std::fs::remove_file(&object).unwrap();
    let again = clone
        .git_ml(&[
            "data",
            "show",
            "data/dir/part.csv",
            "--rev",
            "HEAD",
            "--json",
        ])
        .success()
        .json();
    assert_eq!(again["profile"]["rows"], 500);

    // A damaged stored profile is not believed: it is computed again from the content.
    let local = walk(&env.cache_dir().join("profiles/v2"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    std::fs::remove_file(&local).unwrap();
    std::fs::write(&local, b"{\"version\":1,\"oid\":\"blake3:00\",\"rows\":7}").unwrap();
    let again = env
        .git_ml(&[
            "data",
            "show",
            "data/dir/part.csv",
            "--rev",
            "HEAD",
            "--json",
        ])
        .success()
        .json();
    assert_eq!(again["profile"]["rows"], 500);

    // gc takes a profile with its content, in the cache and on the remote; a kept table keeps
    // its profile.
    env.write("data/kept.csv", "k\n1\n2\n");
    env.git_ml(&["add", "data/kept.csv"]).success();
    env.commit_all("a second table");
    env.git_ml(&["data", "show", "data/kept.csv"]).success();
    env.git_ml(&["push"]).success();
    let on_remote = || walk(&store.join("profiles/v2"));
    assert_eq!(on_remote().len(), 2, "{:?}", on_remote());
    env.git_ml(&["rm", "--delete", "data/dir"]).success();
    env.commit_all("the directory goes");
    // An older git-ml's layout is never read again; a newer one's is not ours to remove.
    let (older, newer) = (
        env.cache_dir().join("profiles/v1/ab/cdef.json"),
        env.cache_dir().join("profiles/v9/ab/cdef.json"),
    );
    for p in [&older, &newer] {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"{}").unwrap();
    }
    // A stray file among the profiles is left alone, not an error.
    let stray = env.cache_dir().join("profiles/v2/NOTES");
    std::fs::write(&stray, b"mine").unwrap();
    for remote in [&["-r", "store"][..], &[][..]] {
        let mut args = vec![
            "-c",
            "gc.grace=0",
            "-c",
            "gc.keep_commits=1",
            "gc",
            "--force",
        ];
        args.extend(remote);
        env.git_ml(&args).success();
    }
    assert_eq!(on_remote().len(), 1, "{:?}", on_remote());
    let local = walk(&env.cache_dir().join("profiles/v2"));
    assert_eq!(local.iter().filter(|p| p.ends_with("NOTES")).count(), 1);
    assert_eq!(local.len(), 2, "{local:?}");
    assert!(!older.exists() && newer.exists() && stray.exists());
    let kept = env
        .git_ml(&["data", "show", "data/kept.csv", "--json"])
        .success()
        .json();
    assert_eq!(kept["profile"]["rows"], 2);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "pushed") {
                continue;
            }
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
