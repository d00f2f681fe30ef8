//! The Debian package: contrib/build-deb.sh packages the binaries this test
//! run built (debug profile, `--no-build`: a release build would take
//! minutes) and the .deb must hold the daemon, the unit, the init script,
//! the man pages and the conffiles, carry the right control fields and pass
//! lintian without errors. Needs cargo-deb (the script installs it) and
//! lintian, not root. L2TPNS_SKIP_PACKAGE=1 skips it on purpose.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn skip() -> bool {
    if std::env::var("L2TPNS_SKIP_PACKAGE").as_deref() == Ok("1") {
        eprintln!("L2TPNS_SKIP_PACKAGE=1: skipping the Debian package test");
        return true;
    }
    false
}

fn run(c: &mut Command) -> String {
    let out = c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"));
    assert!(
        out.status.success(),
        "{c:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Builds the .deb into a fresh directory from the binaries of this build.
fn build_deb(dir: &Path) -> PathBuf {
    let _ = std::fs::remove_dir_all(dir);
    // target/debug/l2tpns -> "debug" (cargo-deb's name is "dev").
    let bin = Path::new(env!("CARGO_BIN_EXE_l2tpns"));
    let profile = match bin.parent().and_then(Path::file_name) {
        Some(p) if p == "debug" => "dev".to_string(),
        Some(p) => p.to_string_lossy().into_owned(),
        None => panic!("no profile directory above {}", bin.display()),
    };
    let out = run(Command::new(format!("{ROOT}/contrib/build-deb.sh"))
        .args(["--no-build", "--fast", "--profile", &profile, "-o"])
        .arg(dir));
    let deb = PathBuf::from(out.lines().last().unwrap_or_default());
    assert!(deb.is_file(), "build-deb.sh printed no .deb: {out}");
    deb
}

fn field(deb: &Path, name: &str) -> String {
    run(Command::new("dpkg-deb").arg("-f").arg(deb).arg(name))
        .trim()
        .to_string()
}

#[test]
fn debian_package_is_complete_and_lintian_clean() {
    if skip() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("l2tpns-deb-{}", std::process::id()));
    let deb = build_deb(&dir);

    // Control fields.
    assert_eq!(field(&deb, "Package"), "l2tpns-rs");
    assert_eq!(
        field(&deb, "Version"),
        format!("{}-1", env!("CARGO_PKG_VERSION"))
    );
    let arch = run(Command::new("dpkg").arg("--print-architecture"));
    assert_eq!(field(&deb, "Architecture"), arch.trim());
    for f in ["Conflicts", "Replaces", "Provides"] {
        assert_eq!(field(&deb, f), "l2tpns", "{f}");
    }
    assert_eq!(field(&deb, "Section"), "net");
    assert!(field(&deb, "Depends").contains("libc6"));
    assert!(!field(&deb, "Maintainer").is_empty());

    // Files.
    let listing = run(Command::new("dpkg-deb").arg("-c").arg(&deb));
    let files: BTreeSet<&str> = listing
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .map(|p| p.trim_start_matches('.'))
        .collect();
    for want in [
        "/usr/sbin/l2tpns",
        "/usr/bin/l2tpns-loadgen",
        "/usr/lib/systemd/system/l2tpns.service",
        "/etc/init.d/l2tpns",
        "/etc/logrotate.d/l2tpns",
        "/usr/share/man/man8/l2tpns.8.gz",
        "/usr/share/man/man5/startup-config.5.gz",
        "/usr/share/man/man1/l2tpns-loadgen.1.gz",
        "/usr/share/doc/l2tpns-rs/copyright",
        "/usr/share/doc/l2tpns-rs/changelog.Debian.gz",
    ] {
        assert!(
            files.contains(want),
            "{want} not in the package:\n{listing}"
        );
    }
    let conffiles = run(Command::new("dpkg-deb")
        .args(["--info"])
        .arg(&deb)
        .arg("conffiles"));
    let conffiles: BTreeSet<&str> = conffiles.lines().map(str::trim).collect();
    let want: BTreeSet<&str> = [
        "/etc/l2tpns/startup-config",
        "/etc/l2tpns/ip_pool",
        "/etc/l2tpns/garden",
        "/etc/l2tpns/users",
        "/etc/l2tpns/ppp-secrets",
        "/etc/init.d/l2tpns",
        "/etc/logrotate.d/l2tpns",
        "/etc/default/l2tpns",
    ]
    .into();
    assert_eq!(conffiles, want);

    // The unit shipped is the one in contrib/, unchanged.
    let tree = dir.join("tree");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tree));
    let unit = std::fs::read_to_string(tree.join("usr/lib/systemd/system/l2tpns.service"))
        .expect("unit in the package");
    let ours = std::fs::read_to_string(format!("{ROOT}/contrib/l2tpns.service")).unwrap();
    assert_eq!(unit, ours);

    // lintian: warnings are allowed, errors are not.
    let out = Command::new("lintian")
        .args(["--fail-on", "error", "--no-tag-display-limit"])
        .arg(&deb)
        .output()
        .expect("lintian (apt-get install lintian)");
    let report = String::from_utf8_lossy(&out.stdout);
    eprintln!("lintian:\n{report}");
    assert!(
        out.status.success() && !report.lines().any(|l| l.starts_with("E:")),
        "lintian found errors:\n{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// systemd accepts the unit (with ExecStart pointing at the binary of this
/// build: verify checks that the program exists).
#[test]
fn systemd_unit_verifies() {
    if skip() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("l2tpns-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let unit = std::fs::read_to_string(format!("{ROOT}/contrib/l2tpns.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/sbin/l2tpns "));
    let unit = unit.replace(
        "ExecStart=/usr/sbin/l2tpns ",
        &format!("ExecStart={} ", env!("CARGO_BIN_EXE_l2tpns")),
    );
    let path = dir.join("l2tpns.service");
    std::fs::write(&path, unit).unwrap();
    run(Command::new("systemd-analyze").arg("verify").arg(&path));
    let _ = std::fs::remove_dir_all(&dir);
}
