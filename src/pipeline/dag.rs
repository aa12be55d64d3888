//! The stage graph: an edge from A to B when an output of A is (or contains, or lies inside) a
//! dependency of B. Checked once, with errors that point at the stage in `gitml.toml`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::Stage;
use crate::error::{Error, Result};

pub struct Dag {
    /// In a topological order (ties by name, so the order is stable).
    pub stages: Vec<Stage>,
    /// Stage name -> the stages it depends on.
    pub upstream: BTreeMap<String, BTreeSet<String>>,
}

/// Whether `a` is `b` or one contains the other.
fn overlaps(a: &str, b: &str) -> bool {
    a == b
        || a.strip_prefix(b).is_some_and(|r| r.starts_with('/'))
        || b.strip_prefix(a).is_some_and(|r| r.starts_with('/'))
}

fn err(stage: &Stage, message: String) -> Error {
    Error::Config {
        file: format!("{}:{}", crate::config::PROJECT_FILE, stage.line),
        message: format!("[stages.{}] {message}", stage.name),
    }
}

/// Whether `path` is, or lies inside, a path with a pointer file in the work tree.
pub fn is_tracked_data(root: &Path, path: &str) -> bool {
    let mut p = path;
    loop {
        if root.join(crate::data::pointer::pointer_path(p)).is_file() {
            return true;
        }
        match p.rsplit_once('/') {
            Some((parent, _)) => p = parent,
            None => return false,
        }
    }
}

impl Dag {
    /// Build and check the graph; `root` is the repository (a dependency nobody produces must
    /// exist there).
    pub fn new(stages: Vec<Stage>, root: &Path) -> Result<Dag> {
        // Duplicate or overlapping outputs.
        let mut producers: Vec<(&str, &Stage)> = Vec::new();
        for s in &stages {
            for o in &s.outs {
                if let Some((other_out, other)) = producers.iter().find(|(p, _)| overlaps(p, o)) {
                    return Err(err(
                        s,
                        format!(
                            "output `{o}` overlaps `{other_out}`, an output of stage `{}`; each path has one producer",
                            other.name
                        ),
                    ));
                }
                producers.push((o, s));
            }
        }
        let mut upstream: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for s in &stages {
            let ups = upstream.entry(s.name.clone()).or_default();
            for d in &s.deps {
                let from: Vec<&Stage> = producers
                    .iter()
                    .filter(|(o, _)| overlaps(o, d))
                    .map(|(_, p)| *p)
                    .collect();
                if from.is_empty() {
                    // Tracked data not pulled yet (a fresh clone) is there in principle.
                    if !root.join(d).exists() && !is_tracked_data(root, d) {
                        return Err(err(
                            s,
                            format!("depends on `{d}`, which does not exist and no stage produces"),
                        ));
                    }
                    continue;
                }
                for p in from {
                    if p.name == s.name {
                        return Err(err(s, format!("depends on its own output `{d}`")));
                    }
                    ups.insert(p.name.clone());
                }
            }
        }
        // Kahn's algorithm, smallest name first among the ready.
        let mut remaining: BTreeMap<String, BTreeSet<String>> = upstream.clone();
        let mut by_name: BTreeMap<String, Stage> =
            stages.into_iter().map(|s| (s.name.clone(), s)).collect();
        let mut order = Vec::new();
        while !remaining.is_empty() {
            let Some(next) = remaining
                .iter()
                .find(|(_, ups)| ups.is_empty())
                .map(|(n, _)| n.clone())
            else {
                let cycle: Vec<String> = remaining.keys().cloned().collect();
                let first = &by_name[&cycle[0]];
                return Err(err(
                    first,
                    format!(
                        "is part of a cycle: {} depend on each other's outputs",
                        cycle
                            .iter()
                            .map(|c| format!("`{c}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            };
            remaining.remove(&next);
            for ups in remaining.values_mut() {
                ups.remove(&next);
            }
            order.push(by_name.remove(&next).expect("stage"));
        }
        Ok(Dag {
            stages: order,
            upstream,
        })
    }

    pub fn get(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name == name)
    }

    /// The named stages and everything upstream of them, in order (all stages if `names` is
    /// empty).
    pub fn select(&self, names: &[String]) -> Result<Vec<&Stage>> {
        if names.is_empty() {
            return Ok(self.stages.iter().collect());
        }
        let mut wanted: BTreeSet<String> = BTreeSet::new();
        let mut todo: Vec<String> = Vec::new();
        for n in names {
            if self.get(n).is_none() {
                let known: Vec<&str> = self.stages.iter().map(|s| s.name.as_str()).collect();
                return Err(Error::Other(format!(
                    "no stage named `{n}` in gitml.toml (stages: {})",
                    known.join(", ")
                )));
            }
            todo.push(n.clone());
        }
        while let Some(n) = todo.pop() {
            if wanted.insert(n.clone()) {
                todo.extend(self.upstream[&n].iter().cloned());
            }
        }
        Ok(self
            .stages
            .iter()
            .filter(|s| wanted.contains(&s.name))
            .collect())
    }

    /// Text, Mermaid or Graphviz.
    pub fn render(&self, format: &str) -> String {
        let mut out = String::new();
        match format {
            "mermaid" => {
                out.push_str("flowchart TD\n");
                for s in &self.stages {
                    out.push_str(&format!("    {}[\"{}\"]\n", id(&s.name), s.name));
                }
                for (to, ups) in &self.upstream {
                    for from in ups {
                        out.push_str(&format!("    {} --> {}\n", id(from), id(to)));
                    }
                }
            }
            "dot" => {
                out.push_str("digraph pipeline {\n    rankdir=LR;\n");
                for s in &self.stages {
                    out.push_str(&format!("    \"{}\";\n", s.name));
                }
                for (to, ups) in &self.upstream {
                    for from in ups {
                        out.push_str(&format!("    \"{from}\" -> \"{to}\";\n"));
                    }
                }
                out.push_str("}\n");
            }
            _ => {
                for s in &self.stages {
                    let ups = &self.upstream[&s.name];
                    if ups.is_empty() {
                        out.push_str(&format!("{}\n", s.name));
                    } else {
                        let list: Vec<&str> = ups.iter().map(String::as_str).collect();
                        out.push_str(&format!("{}  <- {}\n", s.name, list.join(", ")));
                    }
                }
            }
        }
        out
    }
}

fn id(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(name: &str, deps: &[&str], outs: &[&str]) -> Stage {
        Stage {
            name: name.into(),
            cmd: "true".into(),
            deps: deps.iter().map(|s| s.to_string()).collect(),
            outs: outs.iter().map(|s| s.to_string()).collect(),
            line: 1,
            ..Default::default()
        }
    }

    #[test]
    fn order_cycles_and_duplicates() {
        let root = Path::new("/");
        let d = Dag::new(
            vec![
                stage("train", &["feat/x.csv"], &["model"]),
                stage("prep", &[], &["feat"]),
                stage("eval", &["model"], &["metrics.json"]),
            ],
            root,
        )
        .unwrap();
        let names: Vec<&str> = d.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["prep", "train", "eval"]);
        let sel: Vec<&str> = d
            .select(&["train".into()])
            .unwrap()
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(sel, ["prep", "train"]);
        let cyc = Dag::new(
            vec![stage("a", &["y"], &["x"]), stage("b", &["x"], &["y"])],
            root,
        );
        assert!(cyc.err().unwrap().to_string().contains("cycle"));
        let dup = Dag::new(
            vec![stage("a", &[], &["x"]), stage("b", &[], &["x/y"])],
            root,
        );
        assert!(dup.err().unwrap().to_string().contains("overlaps"));
        let missing = Dag::new(vec![stage("a", &["nowhere-to-be-found"], &[])], root);
        assert!(
            missing
                .err()
                .unwrap()
                .to_string()
                .contains("does not exist")
        );
    }
}
