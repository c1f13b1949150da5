//! The module graph of `src/`, read from its `crate::` paths, has no cycle: data flows one
//! way, as `src/lib.rs` says. Print the graph with
//! `cargo test --test api architecture -- --nocapture`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn the_top_level_modules_of_src_form_no_cycle() {
    let graph = module_graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(graph.len() > 5, "read too few modules: {graph:?}");
    println!("{}", render(&graph));
    let cycles: Vec<_> = strongly_connected(&graph)
        .into_iter()
        .filter(|component| component.len() > 1)
        .collect();
    assert!(
        cycles.is_empty(),
        "modules in a cycle: {cycles:?}\n{}",
        render(&graph)
    );
}

#[test]
fn the_reader_sees_grouped_and_inline_paths_and_skips_comments() {
    let text =
        "use crate::{a::X, b, c::{d, e}};\n// crate::z\nlet x = crate::f::g();\n/// [`crate::y`]\n";
    let found: BTreeSet<_> = crate_paths(text).into_iter().collect();
    let expected: BTreeSet<_> = ["a", "b", "c", "f"].map(String::from).into();
    assert_eq!(found, expected);
}

#[test]
fn a_cycle_is_found() {
    let mut graph = Graph::new();
    graph.entry("a".into()).or_default().insert("b".into());
    graph.entry("b".into()).or_default().insert("c".into());
    graph.entry("c".into()).or_default().insert("a".into());
    graph.entry("d".into()).or_default().insert("a".into());
    let components = strongly_connected(&graph);
    assert!(components.iter().any(|c| c.len() == 3), "{components:?}");
}

/// Each top-level module (a file `src/x.rs` or a directory `src/x/`) and the other top-level
/// modules its code names through `crate::`.
fn module_graph(src: &Path) -> Graph {
    let mut graph = Graph::new();
    for file in rust_files(src) {
        let relative = file.strip_prefix(src).expect("under src");
        let first = relative.components().next().expect("a component");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        let deps = graph.entry(module.clone()).or_default();
        for target in crate_paths(&text) {
            if target != module {
                deps.insert(target);
            }
        }
    }
    graph
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable directory") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The first segment after every `crate::` outside comments, with `crate::{a, b::c}` read
/// as `a` and `b`.
fn crate_paths(text: &str) -> Vec<String> {
    let code: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .map(|line| format!("{line}\n"))
        .collect();
    let mut found = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        let preceded_by_ident = rest[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        rest = &rest[at + "crate::".len()..];
        if preceded_by_ident {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = matching_brace(group);
            found.extend(top_level_items(&group[..end]).map(first_segment));
            rest = &group[end..];
        } else {
            found.push(first_segment(rest));
        }
    }
    found.retain(|name| !name.is_empty() && name != "self");
    found
}

fn matching_brace(text: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            _ => {}
        }
    }
    text.len()
}

fn top_level_items(group: &str) -> impl Iterator<Item = &str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                items.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items.into_iter()
}

fn first_segment(path: &str) -> String {
    path.trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// Tarjan's strongly connected components.
fn strongly_connected(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        components: Vec<Vec<String>>,
    }
    fn visit<'g>(state: &mut State<'g>, node: &'g str) {
        let next = state.index.len();
        state.index.insert(node, next);
        state.low.insert(node, next);
        state.stack.push(node);
        state.on_stack.insert(node);
        let edges = state.graph.get(node).into_iter().flatten();
        for target in edges {
            let target = target.as_str();
            if !state.index.contains_key(target) {
                visit(state, target);
                let low = state.low[node].min(state.low[target]);
                state.low.insert(node, low);
            } else if state.on_stack.contains(target) {
                let low = state.low[node].min(state.index[target]);
                state.low.insert(node, low);
            }
        }
        if state.low[node] == state.index[node] {
            let mut component = Vec::new();
            while let Some(member) = state.stack.pop() {
                state.on_stack.remove(member);
                component.push(member.to_owned());
                if member == node {
                    break;
                }
            }
            component.sort();
            state.components.push(component);
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for node in graph.keys() {
        if !state.index.contains_key(node.as_str()) {
            visit(&mut state, node);
        }
    }
    state.components
}

/// The graph from the modules that depend on nothing up, one line per module.
fn render(graph: &Graph) -> String {
    let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
    // Longest path to a leaf; a module in a cycle gets the depth found before the repeat.
    fn level<'g>(
        graph: &'g Graph,
        node: &'g str,
        depth: &mut BTreeMap<&'g str, usize>,
        seen: &mut BTreeSet<&'g str>,
    ) -> usize {
        if let Some(d) = depth.get(node) {
            return *d;
        }
        if !seen.insert(node) {
            return 0;
        }
        let d = graph
            .get(node)
            .into_iter()
            .flatten()
            .map(|t| level(graph, t, depth, seen) + 1)
            .max()
            .unwrap_or(0);
        depth.insert(node, d);
        d
    }
    for node in graph.keys() {
        level(graph, node, &mut depth, &mut BTreeSet::new());
    }
    let mut order: Vec<_> = graph.keys().map(String::as_str).collect();
    order.sort_by_key(|n| (depth[n], *n));
    let mut out =
        String::from("module graph of src/ (a module uses only those listed after it):\n");
    for node in order {
        let deps: Vec<_> = graph[node].iter().map(String::as_str).collect();
        out.push_str(&format!("  {node:<12} -> {}\n", deps.join(", ")));
    }
    out
}
