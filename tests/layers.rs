//! The module structure: imports point one way.
//!
//! Reads every file under `src/` as text, resolves each `crate::`, `super::`
//! and `self::` path it names (in `use` lists too) to the file that defines
//! the module, and checks two things: no file reaches itself through
//! imports (no circle, however long), and every import between top-level
//! modules goes down the layers the README draws
//! (app -> cli -> collect -> pipeline, reports -> findings -> analysis ->
//! filter, sources -> events, decoding, policy -> time, stats). Unit-test
//! modules are left out: a test may use the test kit.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers, top first; a module may import only modules of lower layers
/// (or its own).
const LAYERS: [&[&str]; 10] = [
    &["main"],
    &["app"],
    &["cli"],
    &["collect"],
    &["pipeline", "report"],
    &["findings"],
    &["analysis"],
    &["filter", "source", "testkit"],
    &["policy", "event", "decode"],
    &["stats", "time", "service"],
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file: `src/source/flow/mod.rs` is
/// `["source", "flow"]`; `lib.rs` is `[]`; `main.rs` is `["main"]`.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The file defining the longest prefix of `path` that is a module.
fn file_of(path: &[String], files: &BTreeMap<Vec<String>, PathBuf>) -> Option<Vec<String>> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|m| files.contains_key(m))
}

/// The file's text without its unit-test module and comments.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(at) => &l[..at],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Expands a `use` tree (`a::{b, c::{d, e}}`) into its paths.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap().trim().to_string()];
    };
    let prefix = tree[..open].trim_end_matches("::");
    let inner = &tree[open + 1..tree.rfind('}').unwrap()];
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .filter(|i| !i.trim().is_empty())
        .flat_map(expand)
        .map(|p| match p.as_str() {
            "self" => prefix.to_string(),
            _ => format!("{prefix}::{p}"),
        })
        .collect()
}

/// Every module path the code names, resolved against the file's module.
fn named_paths(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        let after = &rest[at + 4..];
        let end = after.find(';').unwrap_or(after.len());
        if before.is_none_or(|c| !c.is_alphanumeric() && c != '_') {
            paths.extend(expand(&after[..end]));
        }
        rest = &after[end..];
    }
    // Paths written inline (`crate::analysis::rdp::RdpMove`).
    let bytes = code.as_bytes();
    for root in ["crate::", "super::"] {
        for (at, _) in code.match_indices(root) {
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
                continue;
            }
            let end = code[at..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| at + e);
            paths.push(code[at..end].trim_end_matches(':').to_string());
        }
    }
    paths.sort();
    paths.dedup();
    // A file's own module for `self` and `super`: a `mod.rs` is its folder.
    paths
        .into_iter()
        .filter_map(|p| {
            let mut segs: Vec<&str> = p.split("::").collect();
            let mut base: Vec<String> = match *segs.first()? {
                "crate" => Vec::new(),
                "self" | "super" => module.to_vec(),
                _ => return None,
            };
            if segs[0] == "crate" || segs[0] == "self" {
                segs.remove(0);
            }
            while segs.first() == Some(&"super") {
                base.pop()?;
                segs.remove(0);
            }
            base.extend(segs.iter().map(|s| s.to_string()));
            Some(base)
        })
        .collect()
}

fn graph() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mut list = Vec::new();
    rust_files(&src(), &mut list);
    let files: BTreeMap<Vec<String>, PathBuf> =
        list.into_iter().map(|f| (module_of(&f), f)).collect();
    let mut edges = BTreeMap::new();
    for (module, file) in &files {
        let text = std::fs::read_to_string(file).unwrap();
        // main.rs is its own crate: it reaches the library as `portent::`.
        let text = if module == &["main"] {
            text.replace("portent::", "crate::")
        } else {
            text
        };
        let to: BTreeSet<Vec<String>> = named_paths(&code(&text), module)
            .iter()
            .filter_map(|p| file_of(p, &files))
            .filter(|m| m != module && !m.is_empty())
            .collect();
        edges.insert(module.clone(), to);
    }
    edges
}

fn show(m: &[String]) -> String {
    m.join("::")
}

#[test]
fn no_file_reaches_itself_through_imports() {
    let g = graph();
    assert!(g.len() > 30, "read only {} modules", g.len());
    // Depth-first search with colours; a grey node reached again closes a
    // circle.
    fn visit(
        n: &Vec<String>,
        g: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
        circles: &mut Vec<String>,
    ) {
        state.insert(n.clone(), 1);
        stack.push(n.clone());
        for m in g.get(n).into_iter().flatten() {
            match state.get(m).copied().unwrap_or(0) {
                0 => visit(m, g, state, stack, circles),
                1 => {
                    let from = stack.iter().position(|s| s == m).unwrap();
                    let names: Vec<String> = stack[from..].iter().map(|s| show(s)).collect();
                    circles.push(format!("{} -> {}", names.join(" -> "), show(m)));
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.clone(), 2);
    }
    let (mut state, mut circles) = (BTreeMap::new(), Vec::new());
    for n in g.keys() {
        if !state.contains_key(n) {
            visit(n, &g, &mut state, &mut Vec::new(), &mut circles);
        }
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn imports_between_modules_point_down_the_layers() {
    let layer = |m: &[String]| {
        LAYERS
            .iter()
            .position(|l| l.contains(&m[0].as_str()))
            .unwrap_or_else(|| panic!("module {} is in no layer of LAYERS", show(m)))
    };
    let mut up = Vec::new();
    let g = graph();
    for (from, tos) in &g {
        for to in tos {
            if from[0] != to[0] && layer(from) >= layer(to) {
                up.push(format!("{} -> {}", show(from), show(to)));
            }
        }
    }
    assert!(
        up.is_empty(),
        "imports that do not point down:\n{}",
        up.join("\n")
    );
    // The check reads real imports: the pipeline reaches the findings model
    // and the sources.
    let pipeline = &g[&vec!["pipeline".to_string()]];
    assert!(pipeline.contains(&vec!["findings".to_string()]));
    assert!(pipeline.iter().any(|m| m[0] == "source"));
}

#[test]
fn use_trees_expand_to_their_paths() {
    assert_eq!(
        expand("super::{flow, walk::{CaptureOutput, CHUNK_BYTES}, self as x}"),
        [
            "super::flow",
            "super::walk::CaptureOutput",
            "super::walk::CHUNK_BYTES",
            "super"
        ]
    );
    let m = vec!["source".to_string(), "flow".to_string(), "pair".to_string()];
    assert_eq!(
        named_paths("use super::record::Ctx;", &m),
        [vec!["source", "flow", "record", "Ctx"]]
    );
}
