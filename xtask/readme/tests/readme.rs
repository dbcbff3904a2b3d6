//! The README's quick starts are the adapters' `counter` examples, and its
//! per-user snippet session-axum's `devices` example: each file's marked
//! items and `main` body appear in the README verbatim (rustdoc's hidden
//! `# ` lines, which wrap the body in a `main` for the doctest, aside).

const README: &str = include_str!("../../../README.md");

/// Checks that the README shows the example `path` whose text is `source` (a
/// file with `// README items: begin/end` around its items and
/// `    // README body: begin/end` around the body of its `main`, shown
/// unindented), and panics with the expected text when it does not.
fn assert_readme_shows(path: &str, source: &str) {
    let between = |from: &str, to: &str| {
        let start = source.find(from).expect("begin marker") + from.len();
        let end = source.find(to).expect("end marker");
        source[start..end].trim_matches('\n').to_owned()
    };
    let items = between("// README items: begin\n", "// README items: end");
    let body = between("    // README body: begin\n", "    // README body: end");
    let body: Vec<&str> = body
        .lines()
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .collect();
    let snippet = format!("{items}\n\n{}\n", body.join("\n"));
    // The README as rendered: without rustdoc's hidden lines.
    let shown: String = README
        .lines()
        .filter(|l| *l != "#" && !l.starts_with("# "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        shown.contains(&snippet),
        "README.md no longer shows {path}:\n{snippet}"
    );
}

/// The examples the README shows: (path from the workspace root, text).
const EXAMPLES: [(&str, &str); 4] = [
    (
        "session-axum/examples/counter.rs",
        include_str!("../../../session-axum/examples/counter.rs"),
    ),
    (
        "session-actix/examples/counter.rs",
        include_str!("../../../session-actix/examples/counter.rs"),
    ),
    (
        "session-rocket/examples/counter.rs",
        include_str!("../../../session-rocket/examples/counter.rs"),
    ),
    (
        "session-axum/examples/devices.rs",
        include_str!("../../../session-axum/examples/devices.rs"),
    ),
];

#[test]
fn the_readme_shows_the_counter_and_devices_examples() {
    for (path, source) in EXAMPLES {
        assert_readme_shows(path, source);
    }
}
