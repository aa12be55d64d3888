//! Entry points for fuzzing every parser of untrusted input: the bytes come from a cloned
//! repository, a remote, a CI payload or a DVC project, so none of them may panic, hang or accept
//! something that does not read back the same.
//!
//! Each function takes arbitrary bytes and panics only on a bug: a parser panicking, or a
//! property failing (what parses must serialise and parse back equal; escaped text must not
//! carry what it escapes). Two drivers call them: the coverage-guided `fuzz/` targets
//! (libFuzzer through cargo-fuzz), and `tests/fuzz.rs`, which runs the seed corpus and
//! random mutations of it on every `cargo test`. See docs/fuzzing.md.

use crate::data::pointer::Pointer;

/// Every target, by name (the `fuzz/fuzz_targets/*.rs` and corpus directory names).
/// A fuzz target: its name and the function that takes one input.
pub type Target = (&'static str, fn(&[u8]));

pub const TARGETS: &[Target] = &[
    ("pointer", pointer),
    ("manifest", manifest),
    ("config", config),
    ("lockfile", lockfile),
    ("note", note),
    ("metrics", metrics),
    ("plots", plots),
    ("tag", tag),
    ("event", event),
    ("dvc", dvc),
    ("escape", escape),
];

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// The first byte picks a variant; the rest is the input.
fn split(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((&b, rest)) => (b, rest),
        None => (0, data),
    }
}

/// A pointer file (`*.gitml`): parses, or fails with an error naming the file; what parses
/// writes back and parses again to the same pointer.
pub fn pointer(data: &[u8]) {
    let Some(t) = text(data) else { return };
    match Pointer::parse(t, "x.gitml") {
        Ok(p) => {
            let again = Pointer::parse(&p.to_toml(), "x.gitml").expect("a written pointer parses");
            assert_eq!(p, again, "pointer round trip");
        }
        Err(e) => assert!(
            e.to_string().contains("x.gitml"),
            "error without the file: {e}"
        ),
    }
}

/// A directory manifest: a root object and its chunks, from a remote or a damaged cache. The
/// input is split at NUL bytes into root and chunks; chunks are looked up by their real oid, so
/// the fuzzer can build consistent manifests, and a missing one is an error.
pub fn manifest(data: &[u8]) {
    use crate::data::manifest::Manifest;
    use crate::oid::Oid;
    let mut parts = data.split(|&b| b == 0);
    let root = parts.next().unwrap_or_default();
    let chunks: std::collections::HashMap<Oid, Vec<u8>> =
        parts.map(|c| (Oid::of(c), c.to_vec())).collect();
    let root_oid = Oid::of(root);
    let read = |oid: Oid| {
        chunks
            .get(&oid)
            .cloned()
            .ok_or_else(|| crate::Error::Other(format!("no chunk {oid}")))
    };
    let _ = Manifest::chunk_refs(root_oid, root);
    if let Ok(m) = Manifest::from_objects(root_oid, root, &read) {
        // What was accepted is valid, and writes back to objects that parse to the same entries.
        m.validate(&|| "fuzz".into())
            .expect("an accepted manifest is valid");
        let objects = m.to_objects();
        let written: std::collections::HashMap<Oid, Vec<u8>> =
            objects.chunks.iter().cloned().collect();
        let again = Manifest::from_objects(objects.root_oid, &objects.root, &|oid| {
            written
                .get(&oid)
                .cloned()
                .ok_or_else(|| crate::Error::Other(format!("no chunk {oid}")))
        })
        .expect("a written manifest parses");
        assert_eq!(m.files(), again.files());
        assert_eq!(m.size(), again.size());
    }
}

/// `gitml.toml` from a cloned repository: settings, stages, gates, declared files, hooks,
/// plots, the registry policy and metric directions.
pub fn config(data: &[u8]) {
    let Some(t) = text(data) else { return };
    let _ = crate::config::check_project_text(t);
    if let Ok(project) = t.parse::<toml::Table>() {
        let _ = crate::plots::config::declared(&project, t);
        let _ = crate::registry::Policy::from_project(&project);
        let _ = crate::gate::directions(&project);
        if let Ok(stages) = crate::pipeline::stages(&project, t) {
            let _ = crate::pipeline::dag::Dag::new(
                stages,
                std::path::Path::new("/nonexistent/gitml-fuzz"),
            );
        }
    }
}

/// `gitml.lock`: parses, or fails; what parses writes back and parses to the same.
pub fn lockfile(data: &[u8]) {
    use crate::pipeline::lockfile::LockFile;
    let Some(t) = text(data) else { return };
    if let Ok(l) = LockFile::parse(t)
        && let Ok(written) = toml::to_string(&l)
    {
        let again = LockFile::parse(&written).expect("a written lock file parses");
        assert_eq!(l, again, "lock file round trip");
    }
}

/// A git note of run records: bad lines are warnings, never a panic; every good line is a run,
/// and a run writes back to a line that parses to one run.
pub fn note(data: &[u8]) {
    let Some(t) = text(data) else { return };
    let (runs, warnings) = crate::record::parse_note(t, "0123456789abcdef");
    let lines = t.lines().filter(|l| !l.trim().is_empty()).count();
    assert_eq!(
        runs.len() + warnings.len(),
        lines,
        "each line is a run or a warning"
    );
    for r in runs {
        let line = serde_json::to_string(&r).expect("a run serialises");
        let (again, w) = crate::record::parse_note(&line, "0123456789abcdef");
        assert!(w.is_empty() && again.len() == 1, "run round trip: {line}");
    }
}

/// A metrics or params file in each format the name selects, and `--metric K=V`.
pub fn metrics(data: &[u8]) {
    let (which, rest) = split(data);
    let Some(t) = text(rest) else { return };
    let name = ["m.json", "m.yaml", "m.toml", "m.yml"][usize::from(which % 4)];
    if let Err(e) = crate::record::files::parse_report(t, name) {
        let msg = e.to_string();
        assert!(msg.contains(name), "error without the file: {msg}");
        assert!(msg.len() < 1000, "a long error: {} bytes", msg.len());
    }
    let _ = crate::record::files::parse_assignment(t);
}

/// A plot file (JSON, CSV, TSV, YAML), then the series inferred from what parses.
pub fn plots(data: &[u8]) {
    use crate::plots::parse::Format;
    let (which, rest) = split(data);
    let format = [Format::Json, Format::Csv, Format::Tsv, Format::Yaml][usize::from(which % 4)];
    let _ = crate::plots::parse::parse(rest, format);
}

/// A tag name read from `refs/tags` (GTO's format, or anything else).
pub fn tag(data: &[u8]) {
    let Some(t) = text(data) else { return };
    if let Some((name, _event)) = crate::registry::parse_tag(t) {
        assert!(!name.is_empty(), "a registry event for no model: {t:?}");
        assert!(
            t.starts_with(&name),
            "the model name is the tag's prefix: {t:?}"
        );
    }
    let _ = crate::registry::parse_version(t);
}

/// A GitHub event payload, of each kind `git ml ci` reads.
pub fn event(data: &[u8]) {
    let (which, rest) = split(data);
    let name = [
        "pull_request",
        "pull_request_target",
        "push",
        "workflow_run",
        "issue_comment",
        "workflow_dispatch",
        "schedule",
    ][usize::from(which % 7)];
    let _ = crate::ci::event::parse_github(name, rest);
}

/// The DVC files `git ml import dvc` reads from a repository: `.dvc`, `.dir`, `dvc.lock`,
/// `.dvc/config`, `dvc.yaml` (with `vars` read from the input itself).
pub fn dvc(data: &[u8]) {
    let (which, rest) = split(data);
    let _ = crate::dvc::files::parse_dir(rest, "x.dir");
    let Some(t) = text(rest) else { return };
    match which % 5 {
        0 => drop(crate::dvc::files::parse_dvc_file(t, "x.dvc")),
        1 => drop(crate::dvc::files::parse_lock(t, "dvc.lock")),
        2 => drop(crate::dvc::config::parse(t, ".dvc/config")),
        3 => drop(crate::dvc::yaml::parse(t, "x.yaml")),
        _ => {
            let read = |_: &str| Some(t.to_string());
            drop(crate::dvc::pipeline::parse(t, "dvc.yaml", &read));
        }
    }
}

/// Names from a repository on their way into Markdown and Mermaid for GitHub: whatever the
/// name, no mention survives, no table cell or HTML breaks, and no Mermaid string ends early;
/// on a terminal, no control character survives.
pub fn escape(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let md = crate::text::markdown(&s);
    let mentions = |t: &str| {
        t.char_indices().any(|(i, c)| {
            c == '@'
                && t[i + 1..]
                    .chars()
                    .next()
                    .is_some_and(|n| n.is_ascii_alphanumeric())
        })
    };
    assert!(!mentions(&md), "a live mention in {md:?}");
    assert!(!md.contains('<') && !md.contains('>'), "HTML in {md:?}");
    assert!(
        !md.contains('\n') && !md.contains('\r'),
        "a line break in {md:?}"
    );
    let unescaped_pipe = md
        .char_indices()
        .any(|(i, c)| c == '|' && !md[..i].ends_with('\\'));
    assert!(!unescaped_pipe, "a cell break in {md:?}");
    assert!(
        !md.contains("](") || md.contains("\\]("),
        "a link in {md:?}"
    );
    let mm = crate::text::mermaid(&s);
    for bad in ['"', '`', '\n', '\r', '<', '>', ';'] {
        assert!(!mm.contains(bad), "{bad:?} in Mermaid text {mm:?}");
    }
    assert!(!mentions(&mm), "a live mention in Mermaid text {mm:?}");
    let term = crate::text::escape_control(&s);
    assert!(
        !term.chars().any(|c| (c as u32) < 0x20 || c as u32 == 0x7f),
        "a control character in {term:?}"
    );
    let defused = crate::text::defuse_mentions(&s);
    assert!(!mentions(&defused), "a live mention in {defused:?}");
}

/// Manifest seeds written by git-ml itself (a root and its chunks, NUL-separated), so the corpus
/// always has the current format: small, with every entry kind, and large enough to chunk.
pub fn manifest_seeds() -> Vec<Vec<u8>> {
    use crate::data::manifest::{Entry, EntryKind, Manifest};
    use crate::oid::Oid;
    let file = |path: String, n: u64| Entry {
        path,
        kind: EntryKind::File {
            oid: Oid::of(path_bytes(n).as_slice()),
            size: n,
            executable: n.is_multiple_of(7),
        },
    };
    fn path_bytes(n: u64) -> Vec<u8> {
        n.to_le_bytes().to_vec()
    }
    let small = Manifest::new(vec![
        file("a.csv".into(), 10),
        file("sub/b.csv".into(), 14),
        Entry {
            path: "empty".into(),
            kind: EntryKind::EmptyDir,
        },
        Entry {
            path: "link".into(),
            kind: EntryKind::Symlink {
                target: "a.csv".into(),
            },
        },
    ]);
    let big = Manifest::new(
        (0..1500)
            .map(|i| file(format!("d{}/f{i:05}.bin", i % 13), i))
            .collect(),
    );
    [small, big]
        .iter()
        .map(|m| {
            let o = m.to_objects();
            let mut out = o.root.clone();
            for (_, c) in &o.chunks {
                out.push(0);
                out.extend_from_slice(c);
            }
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    //! The fuzz targets on every `cargo test`: each seed and regression input, then random
    //! mutations of them (bit flips, byte edits, splices, repeats). Not coverage-guided (that is
    //! `fuzz/`, with libFuzzer), but it runs everywhere and catches a regression at once.
    //! `GITML_FUZZ_ITERS` sets the mutations per target (default 3,000), `GITML_FUZZ_SEED` the
    //! seed; a failing input is saved under `target/fuzz-failures/` for a regression file.

    use std::path::{Path, PathBuf};

    fn corpus(target: &str) -> Vec<Vec<u8>> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
        let mut out = Vec::new();
        for dir in ["corpus", "regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
                continue;
            };
            let mut paths: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            out.extend(paths.iter().filter_map(|p| std::fs::read(p).ok()));
        }
        if target == "manifest" {
            out.extend(super::manifest_seeds());
        }
        out
    }

    fn mutate(rng: &mut fastrand::Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
        let mut v = seeds[rng.usize(..seeds.len())].clone();
        for _ in 0..rng.usize(1..=4) {
            let len = v.len();
            match rng.u8(..7) {
                0 if len > 0 => {
                    let i = rng.usize(..len);
                    v[i] ^= 1 << rng.u8(..8);
                }
                1 if len > 0 => {
                    let i = rng.usize(..len);
                    v[i] = *rng
                        .choice(b"\0\n\r\t \"'{}[]:=,.#@|<>\\-+eE0123456789".iter())
                        .unwrap();
                }
                2 => {
                    let i = rng.usize(..=len);
                    let b = rng.u8(..);
                    v.insert(i, b);
                }
                3 if len > 0 => {
                    let a = rng.usize(..len);
                    let b = (a + rng.usize(..=16)).min(len);
                    v.drain(a..b);
                }
                4 if len > 0 => {
                    // Repeat a slice: deep nesting, long lines, many keys.
                    let a = rng.usize(..len);
                    let b = (a + rng.usize(1..=32)).min(len);
                    let piece = v[a..b].to_vec();
                    for _ in 0..rng.usize(1..=64) {
                        v.splice(a..a, piece.iter().copied());
                    }
                }
                5 => {
                    // Splice in part of another seed.
                    let other = &seeds[rng.usize(..seeds.len())];
                    if !other.is_empty() {
                        let a = rng.usize(..other.len());
                        let b = (a + rng.usize(..=64)).min(other.len());
                        let at = rng.usize(..=len);
                        v.splice(at..at, other[a..b].iter().copied());
                    }
                }
                _ => v.truncate(rng.usize(..=len)),
            }
        }
        v
    }

    fn save_failure(target: &str, input: &[u8]) -> PathBuf {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-failures");
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(format!(
            "{target}-{}",
            &crate::oid::Oid::of(input).to_string()[..16]
        ));
        let _ = std::fs::write(&path, input);
        path
    }

    #[test]
    fn every_target_survives_its_corpus_and_random_mutations() {
        let iters: usize = std::env::var("GITML_FUZZ_ITERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3000);
        let seed: u64 = std::env::var("GITML_FUZZ_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| fastrand::u64(..));
        // The panics are the finding: keep the default hook from printing thousands of them.
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let mut failures = Vec::new();
        for &(name, target) in super::TARGETS {
            let seeds = corpus(name);
            assert!(
                !seeds.is_empty(),
                "no seeds for fuzz target `{name}`: run fuzz/seeds.py"
            );
            let mut rng = fastrand::Rng::with_seed(
                seed ^ crate::oid::Oid::of(name.as_bytes()).to_string().len() as u64
                    ^ name.len() as u64,
            );
            let inputs = seeds
                .iter()
                .cloned()
                .chain((0..iters).map(|_| mutate(&mut rng, &seeds)));
            for input in inputs {
                let outcome = std::panic::catch_unwind(|| target(&input));
                if let Err(panic) = outcome {
                    let msg = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    let saved = save_failure(name, &input);
                    failures.push(format!(
                        "{name}: {msg} (input saved as {})",
                        saved.display()
                    ));
                    break;
                }
            }
        }
        std::panic::set_hook(hook);
        assert!(
            failures.is_empty(),
            "fuzz failures (GITML_FUZZ_SEED={seed}):\n{}",
            failures.join("\n")
        );
    }
}
