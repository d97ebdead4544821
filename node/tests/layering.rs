//! The crate's modules form layers: no module uses one that uses it back, directly or through
//! others (the order is in `src/lib.rs`). This test reads the sources, collects every
//! `crate::…` and `super::…` path outside test modules and comments, and fails on any cycle
//! between top-level modules, or between the files and directories of one module.
//!
//! A module's own children may use their parent's items and the parent may name its children
//! (`commands/mod.rs`'s `ShardCommand` wraps each family's enum): that is one module's inside,
//! not a cycle between modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path (`["raft", "wal"]`).
type ModPath = Vec<String>;

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).expect("read src");
    for entry in entries {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file is (`src/raft/mod.rs` → `raft`; `src/lib.rs` → the root, empty).
fn module_of(src: &Path, file: &Path) -> ModPath {
    let rel = file
        .strip_prefix(src)
        .expect("under src")
        .with_extension("");
    let mut parts: ModPath = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    // Declared with #[path] inside `commands/table.rs`.
    if parts == ["commands", "table_data"] {
        parts = vec!["commands".into(), "table".into(), "data".into()];
    }
    parts
}

/// The source without its test module (at the end of a file, by convention here) and comments.
fn code_of(text: &str) -> String {
    let body = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    body.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Splits `a, b::{c, d}, e` at the commas outside braces.
fn split_items(list: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, ch) in list.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                items.push(list[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(list[start..].trim());
    items.into_iter().filter(|s| !s.is_empty()).collect()
}

/// The module paths a path tail names, under `base`: `wal::Wal` → base + [wal, Wal];
/// `{a, b::c}` → base + [a], base + [b, c]. Item names are kept: truncation drops them.
fn expand(base: &ModPath, tail: &str, out: &mut Vec<ModPath>) {
    let tail = tail.trim();
    if let Some(inner) = tail.strip_prefix('{') {
        let inner = inner.strip_suffix('}').unwrap_or(inner);
        for item in split_items(inner) {
            expand(base, item, out);
        }
        return;
    }
    let mut path = base.clone();
    let mut rest = tail;
    loop {
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let word = &rest[..end];
        if word.is_empty() || word == "self" {
            break;
        }
        path.push(word.to_string());
        rest = &rest[end..];
        match rest.strip_prefix("::") {
            Some(next) if next.starts_with('{') => {
                let close = matching_brace(next);
                expand(&path, &next[..close], out);
                return;
            }
            Some(next) => rest = next,
            None => break,
        }
    }
    out.push(path);
}

/// The length of the brace group `s` starts with.
fn matching_brace(s: &str) -> usize {
    let mut depth = 0;
    for (i, ch) in s.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    s.len()
}

/// Every module path the code refers to through `crate::` or `super::`.
fn references(module: &ModPath, code: &str) -> Vec<ModPath> {
    let mut parent = module.clone();
    parent.pop();
    let mut out = Vec::new();
    for (anchor, base) in [("crate::", Vec::new()), ("super::", parent)] {
        let mut from = 0;
        while let Some(at) = code[from..].find(anchor) {
            let start = from + at;
            from = start + anchor.len();
            let before = code[..start].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let tail = &code[from..];
            let mut end = tail
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(tail.len());
            // A group after the path: `commands::{self, ApplyCtx}`.
            if tail[end..].starts_with('{') && (end == 0 || tail[..end].ends_with("::")) {
                end += matching_brace(&tail[end..]);
            }
            let tail = &tail[..end];
            expand(&base, tail, &mut out);
        }
    }
    out
}

/// Edges between modules cut to `level` components, leaving out a module's own inside (a
/// module and its ancestors or descendants).
fn edges(src: &Path, level: usize) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<ModPath> = files.iter().map(|f| module_of(src, f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let module = module_of(src, &file);
        if module.is_empty() {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read source");
        let me = module[..module.len().min(level)].join("::");
        for mut target in references(&module, &code_of(&text)) {
            // `commands::ApplyCtx` is an item of the module `commands`.
            while !target.is_empty() && !modules.contains(&target) {
                target.pop();
            }
            let to = target[..target.len().min(level)].join("::");
            let related = to.is_empty()
                || to == me
                || me.starts_with(&format!("{to}::"))
                || to.starts_with(&format!("{me}::"));
            if !related {
                graph.entry(me.clone()).or_default().insert(to);
            }
        }
    }
    graph
}

/// One cycle of `graph`, if it has any.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), 1);
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next.as_str()) {
                Some(1) => {
                    let at = stack.iter().position(|n| n == next).unwrap_or(0);
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(next, graph, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if !state.contains_key(node.as_str()) {
            let mut stack = Vec::new();
            if let Some(c) = visit(node, graph, &mut state, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_module_uses_one_that_uses_it_back() {
    for level in 1..=3 {
        let graph = edges(&src(), level);
        if let Some(cycle) = find_cycle(&graph) {
            panic!(
                "an import cycle between modules (level {level}): {}",
                cycle.join(" -> ")
            );
        }
    }
}

#[test]
fn the_scan_sees_the_known_dependencies() {
    // Not vacuous: the edges every request follows are found.
    let top = edges(&src(), 1);
    for (from, to) in [
        ("connection", "dispatch"),
        ("dispatch", "server"),
        ("server", "raft"),
        ("raft", "shard"),
        ("shard", "commands"),
        ("commands", "keyspace"),
    ] {
        assert!(
            top.get(from).is_some_and(|t| t.contains(to)),
            "{from} -> {to} not found: {top:?}"
        );
    }
    let files = edges(&src(), 2);
    assert!(
        files["raft::group"].contains("raft::shard_group"),
        "{files:?}"
    );
}

#[test]
fn a_cycle_is_found() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    fn edge(graph: &mut BTreeMap<String, BTreeSet<String>>, a: &str, b: &str) {
        graph.entry(a.into()).or_default().insert(b.into());
    }
    edge(&mut graph, "a", "b");
    edge(&mut graph, "b", "c");
    edge(&mut graph, "c", "d");
    assert_eq!(find_cycle(&graph), None);
    edge(&mut graph, "c", "a");
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}

#[test]
fn paths_are_read_as_the_compiler_reads_them() {
    let mut out = Vec::new();
    let here: ModPath = vec!["raft".into(), "group".into()];
    let code = "use super::{wal::{Wal, SyncPolicy}, registry::GroupRegistry};\n\
                use crate::commands::{self, ApplyCtx};\n\
                let x = crate::server::cluster::failover(state);";
    out.extend(references(&here, code));
    let cut: BTreeSet<String> = out.iter().map(|p| p[..2.min(p.len())].join("::")).collect();
    let want: BTreeSet<String> = [
        "raft::wal",
        "raft::registry",
        "commands",
        "commands::ApplyCtx",
        "server::cluster",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(cut, want);
}
