//! The man pages stay true to the code: startup-config(5) describes every
//! variable of `VARS` (src/config/startup/table.rs) and no other; l2tpns(8) and
//! l2tpns-loadgen(1) list exactly the options their `--help` (clap) prints.

use std::collections::BTreeSet;
use std::process::Command;

use l2tpns::config::vars::VARS;

fn page(name: &str) -> String {
    let path = format!("{}/Docs/man/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The lines of section `.SH NAME` up to the next `.SH`.
fn section<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .skip_while(|l| *l != format!(".SH {name}"))
        .skip(1)
        .take_while(|l| !l.starts_with(".SH "))
        .collect()
}

/// The tag line of every `.TP` entry in a section.
fn tags<'a>(lines: &[&'a str]) -> Vec<&'a str> {
    lines
        .windows(2)
        .filter(|w| w[0] == ".TP")
        .map(|w| w[1])
        .collect()
}

#[test]
fn startup_config_page_names_every_variable_and_no_other() {
    let text = page("startup-config.5");
    let lines = section(&text, "VARIABLES");
    let mut in_page = Vec::new();
    for tag in tags(&lines) {
        let name = tag
            .strip_prefix(".B ")
            .unwrap_or_else(|| panic!("VARIABLES entry not in `.B name` form: {tag:?}"));
        in_page.push(name.to_string());
    }
    let page_set: BTreeSet<&str> = in_page.iter().map(String::as_str).collect();
    assert_eq!(
        page_set.len(),
        in_page.len(),
        "a variable is described twice"
    );
    let code: BTreeSet<&str> = VARS.iter().map(|v| v.name).collect();
    let missing: Vec<_> = code.difference(&page_set).collect();
    let unknown: Vec<_> = page_set.difference(&code).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "Docs/man/startup-config.5: missing {missing:?}; not in src/config/startup/table.rs {unknown:?}"
    );
}

/// `-v...` / `-V,` / `<FILE>` decorations off; `\-` (roff) to `-`.
fn flags_in(words: &str) -> Vec<String> {
    words
        .replace("\\-", "-")
        .split([' ', ','])
        .map(|w| w.trim_end_matches("..."))
        .filter(|w| w.starts_with('-') && w.len() > 1)
        .map(str::to_string)
        .collect()
}

/// The flags `BIN --help` prints under "Options:".
fn help_flags(bin: &str) -> BTreeSet<String> {
    let out = Command::new(bin)
        .arg("--help")
        .output()
        .unwrap_or_else(|e| panic!("{bin} --help: {e}"));
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut flags = BTreeSet::new();
    for line in help.lines().skip_while(|l| *l != "Options:").skip(1) {
        // "  -c <CONFIG>    The startup-config file": flags come first.
        let head = line.trim_start().split("  ").next().unwrap_or("");
        flags.extend(flags_in(head));
    }
    assert!(flags.contains("--help"), "no options found in:\n{help}");
    flags
}

/// The flags of the `.TP` entries of a page's OPTIONS section.
fn page_flags(name: &str) -> BTreeSet<String> {
    let text = page(name);
    let mut flags = BTreeSet::new();
    for tag in tags(&section(&text, "OPTIONS")) {
        // `.BI \-c " file"`, `.BR \-V ", " \-\-version`: the flags are
        // outside the quotes, argument names and separators inside.
        for part in tag.split('"').step_by(2) {
            flags.extend(flags_in(part));
        }
    }
    flags
}

#[test]
fn l2tpns_page_lists_exactly_the_command_line_options() {
    assert_eq!(
        page_flags("l2tpns.8"),
        help_flags(env!("CARGO_BIN_EXE_l2tpns")),
        "Docs/man/l2tpns.8 OPTIONS vs l2tpns --help"
    );
}

#[test]
fn loadgen_page_lists_exactly_the_command_line_options() {
    assert_eq!(
        page_flags("l2tpns-loadgen.1"),
        help_flags(env!("CARGO_BIN_EXE_l2tpns-loadgen")),
        "Docs/man/l2tpns-loadgen.1 OPTIONS vs l2tpns-loadgen --help"
    );
}
