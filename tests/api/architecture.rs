//! The module graph of `src/` has no cycle at any depth: data flows one way, as `src/lib.rs`
//! says. Print every level's graph with `cargo test --test api architecture -- --nocapture`.
//!
//! The graph is read at every level: for the crate root and for each module with at least two
//! child modules in files (`spotify`, `now_playing`, `now_playing/lists`, `render`, ...), the
//! nodes are its direct child modules, and an edge `a -> b` means code in `a` (its own file
//! and every module under it) names something in sibling `b`. Paths are read from every file:
//! `crate::a::b`, `super::x` (relative to the enclosing module, inline `mod tests {}`
//! included) and `self::x`. The rules:
//! - a path through an import (`use`, `pub use`, private or not) is followed to where the
//!   import points, so a child naming a sibling through the parent's re-export
//!   (`super::Snapshot` when the parent says `pub use service::Snapshot`) is an edge to that
//!   sibling;
//! - a child naming an item defined in its parent's own file (`mod.rs`) is no edge: the
//!   parent sits above its children, and the parent naming a child is the normal direction;
//! - glob imports (`use super::*`) are not followed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;
type ModulePath = Vec<String>;

#[test]
fn the_top_level_modules_of_src_form_no_cycle() {
    let crate_ = read_crate(&src());
    let graph = crate_.level_graph(&[]);
    assert!(graph.len() > 5, "read too few modules: {graph:?}");
    println!("{}", render("src/", &graph));
    let cycles = cycles(&graph);
    assert!(cycles.is_empty(), "modules in a cycle: {cycles:?}");
}

#[test]
fn no_module_at_any_depth_is_in_a_cycle_with_its_siblings() {
    let crate_ = read_crate(&src());
    let levels = crate_.levels();
    assert!(
        levels.iter().any(|l| l == &["spotify".to_owned()]),
        "read too few levels: {levels:?}"
    );
    let mut failures = Vec::new();
    for level in &levels {
        let graph = crate_.level_graph(level);
        let name = format!(
            "src/{}",
            level.iter().map(|s| format!("{s}/")).collect::<String>()
        );
        println!("{}", render(&name, &graph));
        for cycle in cycles(&graph) {
            failures.push(format!("{name}: {cycle:?}"));
        }
    }
    assert!(failures.is_empty(), "modules in a cycle: {failures:#?}");
}

#[test]
fn the_reader_sees_grouped_and_inline_paths_and_skips_comments_and_strings() {
    let text = "use crate::{a::X, b, c::{d, e}};\n// crate::z\nlet x = crate::f::g();\n\
                /// [`crate::y`]\nlet s = \"crate::q {\";\n/* crate::w */\n";
    let found: BTreeSet<_> = references(text, &[]).into_iter().collect();
    let expected: BTreeSet<ModulePath> = [
        vec!["a", "X"],
        vec!["b"],
        vec!["c", "d"],
        vec!["c", "e"],
        vec!["f", "g"],
    ]
    .map(|p| p.into_iter().map(String::from).collect())
    .into();
    assert_eq!(found, expected);
}

#[test]
fn super_and_self_resolve_against_the_enclosing_module() {
    let module: ModulePath = vec!["spotify".into(), "client".into()];
    let text = "use super::error::E;\nuse self::inner::I;\nuse super::super::clock::C;\n\
                mod tests {\n    use super::helper;\n}\n";
    let found: BTreeSet<_> = references(text, &module).into_iter().collect();
    let expected: BTreeSet<ModulePath> = [
        vec!["spotify", "error", "E"],
        vec!["spotify", "client", "inner", "I"],
        vec!["clock", "C"],
        vec!["spotify", "client", "helper"],
    ]
    .map(|p| p.into_iter().map(String::from).collect())
    .into();
    assert_eq!(found, expected);
}

#[test]
fn a_sibling_named_through_the_parents_re_export_is_an_edge_and_a_parent_item_is_not() {
    let mut crate_ = Crate::default();
    crate_.add(
        vec!["p".into()],
        "mod a; mod b; mod c;\npub use b::Shared;\npub struct Own;\n",
    );
    crate_.add(
        vec!["p".into(), "a".into()],
        "use super::Shared;\nuse super::Own;\n",
    );
    crate_.add(vec!["p".into(), "b".into()], "pub struct Shared;\n");
    crate_.add(vec!["p".into(), "c".into()], "use crate::p::Own;\n");
    let graph = crate_.level_graph(&["p".to_owned()]);
    assert_eq!(graph["a"], BTreeSet::from(["b".to_owned()]));
    assert!(graph["c"].is_empty(), "{graph:?}");
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

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every file of the library with its module path, the paths it names, and the imports
/// (name -> full path) each module holds.
#[derive(Default)]
struct Crate {
    files: Vec<(ModulePath, Vec<ModulePath>)>,
    imports: BTreeMap<ModulePath, BTreeMap<String, ModulePath>>,
}

impl Crate {
    fn add(&mut self, module: ModulePath, text: &str) {
        for (at, name, target) in imports(text, &module) {
            self.imports.entry(at).or_default().insert(name, target);
        }
        self.files.push((module.clone(), references(text, &module)));
    }

    /// The modules with at least two child modules in files, the crate root first.
    fn levels(&self) -> Vec<ModulePath> {
        let mut children: BTreeMap<ModulePath, BTreeSet<&str>> = BTreeMap::new();
        for (module, _) in &self.files {
            for depth in 0..module.len() {
                children
                    .entry(module[..depth].to_vec())
                    .or_default()
                    .insert(&module[depth]);
            }
        }
        children
            .into_iter()
            .filter(|(_, c)| c.len() > 1)
            .map(|(m, _)| m)
            .collect()
    }

    fn children(&self, level: &[String]) -> BTreeSet<String> {
        self.files
            .iter()
            .filter(|(m, _)| m.len() > level.len() && m.starts_with(level))
            .map(|(m, _)| m[level.len()].clone())
            .collect()
    }

    fn level_graph(&self, level: &[String]) -> Graph {
        let children = self.children(level);
        let mut graph: Graph = children
            .iter()
            .map(|c| (c.clone(), BTreeSet::new()))
            .collect();
        for (module, paths) in &self.files {
            if module.len() <= level.len() || !module.starts_with(level) {
                continue;
            }
            let from = &module[level.len()];
            for path in paths {
                let path = self.follow_imports(path.clone());
                if path.len() > level.len() && path.starts_with(level) {
                    let to = &path[level.len()];
                    if to != from && children.contains(to) {
                        graph.get_mut(from).expect("a child").insert(to.clone());
                    }
                }
            }
        }
        graph
    }

    /// Rewrites a path that goes through an import to the path the import names.
    fn follow_imports(&self, mut path: ModulePath) -> ModulePath {
        for _ in 0..16 {
            let rewrite = (1..path.len()).rev().find_map(|k| {
                let target = self.imports.get(&path[..k])?.get(&path[k])?;
                (target[..] != path[..=k]).then(|| (k, target.clone()))
            });
            match rewrite {
                Some((k, mut target)) => {
                    target.extend_from_slice(&path[k + 1..]);
                    path = target;
                }
                None => break,
            }
        }
        path
    }
}

fn read_crate(src: &Path) -> Crate {
    let mut crate_ = Crate::default();
    for file in rust_files(src) {
        let relative = file.strip_prefix(src).expect("under src");
        let mut module: ModulePath = relative
            .components()
            .map(|c| {
                c.as_os_str()
                    .to_string_lossy()
                    .trim_end_matches(".rs")
                    .to_owned()
            })
            .collect();
        if module == ["main"] {
            continue; // the binary, a crate of its own
        }
        if module
            .last()
            .is_some_and(|last| last == "mod" || last == "lib")
        {
            module.pop();
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        crate_.add(module, &text);
    }
    crate_
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

/// The text with comments, string and char literals blanked out, so that braces and paths
/// in them are not read.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
            out.push(' ');
        } else if c == 'r' && matches!(next, Some('"' | '#')) && !ident_before(&chars, i) {
            let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
            if chars.get(i + 1 + hashes) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            i += 2 + hashes;
            while i < chars.len()
                && !(chars[i] == '"' && chars[i + 1..].iter().take(hashes).all(|&c| c == '#'))
            {
                i += 1;
            }
            i += 1 + hashes;
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && (chars.get(i + 2) == Some(&'\'') || next == Some('\\')) {
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// One scan of a file: every path that starts with `crate::`, `super::` or `self::` (as
/// full module paths), and every `use` (the module it is in, the name, the full target).
struct Scan {
    references: Vec<ModulePath>,
    imports: Vec<(ModulePath, String, ModulePath)>,
}

fn references(text: &str, module: &[String]) -> Vec<ModulePath> {
    scan(text, module).references
}

fn imports(text: &str, module: &[String]) -> Vec<(ModulePath, String, ModulePath)> {
    scan(text, module).imports
}

fn scan(text: &str, file_module: &[String]) -> Scan {
    let code = code_only(text);
    let mut result = Scan {
        references: Vec::new(),
        imports: Vec::new(),
    };
    // Inline modules open at a brace depth; the module path grows while inside them.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let at_boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let module: ModulePath = file_module
            .iter()
            .cloned()
            .chain(inline.iter().map(|(m, _)| m.clone()))
            .collect();
        match bytes[i] {
            b'{' => {
                depth += 1;
                i += 1;
                continue;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                i += 1;
                continue;
            }
            _ => {}
        }
        if at_boundary && let Some(after) = rest.strip_prefix("mod ") {
            let name = first_segment(after);
            let tail = after.trim_start()[name.len()..].trim_start();
            if !name.is_empty() && tail.starts_with('{') {
                inline.push((name, depth));
            }
        }
        if at_boundary && let Some(after) = rest.strip_prefix("use ") {
            let end = after.find(';').unwrap_or(after.len());
            for (path, alias) in use_tree(&after[..end]) {
                let Some(full) = absolute(&path, &module, true) else {
                    continue;
                };
                let name = alias.unwrap_or_else(|| full.last().cloned().unwrap_or_default());
                if name != "*" && name != "_" {
                    result.imports.push((module.clone(), name, full.clone()));
                }
                result.references.push(full);
            }
            i += "use ".len() + end;
            continue;
        }
        let starts_path = ["crate::", "super::", "self::"]
            .iter()
            .any(|p| rest.starts_with(p));
        if at_boundary && starts_path && !code[..i].ends_with("::") {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':' || c == '{'))
                .unwrap_or(rest.len());
            let end = if rest[..end].ends_with('{') {
                end - 1 + matching_brace(&rest[end..]) + 2
            } else {
                end
            };
            for (path, _) in use_tree(&rest[..end.min(rest.len())]) {
                if let Some(full) = absolute(&path, &module, false) {
                    result.references.push(full);
                }
            }
            i += end.max(1);
            continue;
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    result.references.retain(|p| !p.is_empty());
    result
}

/// A path as written, made absolute from the module it is written in. In a `use`, a first
/// segment that is no keyword is relative to the module (a child, or an outside crate).
fn absolute(path: &[String], module: &[String], in_use: bool) -> Option<ModulePath> {
    let mut full: ModulePath = Vec::new();
    let mut segments = path.iter().peekable();
    match segments.peek().map(|s| s.as_str()) {
        Some("crate" | "$crate") => {
            segments.next();
        }
        Some("self") => {
            segments.next();
            full = module.to_vec();
        }
        Some("super") => {
            full = module.to_vec();
            while segments.peek().is_some_and(|s| *s == "super") {
                segments.next();
                full.pop();
            }
        }
        Some(_) if in_use => full = module.to_vec(),
        _ => return None,
    }
    full.extend(segments.filter(|s| *s != "self").cloned());
    Some(full)
}

/// `a::b::{c, d::{e as f}}` read as `a::b::c` and `a::b::d::e` (alias `f`).
fn use_tree(text: &str) -> Vec<(ModulePath, Option<String>)> {
    let text = text.trim();
    let mut prefix = ModulePath::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            let end = matching_brace(group);
            let mut all = Vec::new();
            for item in top_level_items(&group[..end]) {
                if item.trim().is_empty() {
                    continue;
                }
                for (path, alias) in use_tree(item) {
                    let mut full = prefix.clone();
                    full.extend(path);
                    all.push((full, alias));
                }
            }
            return all;
        }
        let segment: String = if rest.starts_with('*') {
            "*".into()
        } else {
            rest.chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '$')
                .collect()
        };
        if segment.is_empty() {
            return vec![(prefix, None)];
        }
        rest = &rest[segment.len()..];
        prefix.push(segment);
        match rest.strip_prefix("::") {
            Some(after) => rest = after,
            None => {
                let alias = rest
                    .trim_start()
                    .strip_prefix("as ")
                    .map(first_segment)
                    .filter(|a| !a.is_empty());
                return vec![(prefix, alias)];
            }
        }
    }
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

fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    strongly_connected(graph)
        .into_iter()
        .filter(|component| component.len() > 1)
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
fn render(name: &str, graph: &Graph) -> String {
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
    let mut out = format!("module graph of {name} (a module uses only those listed after it):\n");
    for node in order {
        let deps: Vec<_> = graph[node].iter().map(String::as_str).collect();
        out.push_str(&format!("  {node:<12} -> {}\n", deps.join(", ")));
    }
    out
}
