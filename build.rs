//! Compiles the kernel fast path's BPF programs (bpf/fastpath.c) into
//! `$OUT_DIR/fastpath.bpf.o`, which the crate embeds. Without a working
//! clang the crate still builds: the object is empty, a warning says why,
//! and `FastPath::start` returns `NotBuilt` with the same reason
//! (`L2TPNS_BPF_BUILD_ERROR`).

use std::path::{Path, PathBuf};
use std::process::Command;

const SOURCE: &str = "bpf/fastpath.c";
/// Included by SOURCE: the maps and pass reasons.
const HEADER: &str = "bpf/fastpath_maps.h";

fn main() {
    println!("cargo:rerun-if-changed={SOURCE}");
    println!("cargo:rerun-if-changed={HEADER}");
    println!("cargo:rerun-if-env-changed=CLANG");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let object = out.join("fastpath.bpf.o");
    let error = match compile(&object) {
        Ok(()) => String::new(),
        Err(e) => {
            println!("cargo:warning=kernel fast path not built: {e}");
            // An empty object: the crate builds, start() reports the reason.
            std::fs::write(&object, b"").expect("write to OUT_DIR");
            e
        }
    };
    println!("cargo:rustc-env=L2TPNS_BPF_BUILD_ERROR={error}");
}

fn compile(object: &Path) -> Result<(), String> {
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang".to_string());
    let manifest = std::env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?;
    let mut cmd = Command::new(&clang);
    cmd.args(["-O2", "-g", "-target", "bpf", "-Wall", "-Werror"])
        // <linux/*.h> need <asm/types.h>, which lives in the multiarch
        // directory; -idirafter keeps it behind the real include paths.
        .arg("-idirafter")
        .arg(format!("/usr/include/{}", multiarch()))
        // Reproducible: no checkout path in the debug info.
        .arg(format!("-fdebug-prefix-map={manifest}=."))
        .arg("-c")
        .arg(Path::new(&manifest).join(SOURCE))
        .arg("-o")
        .arg(object);
    let output = cmd.output().map_err(|e| {
        format!("cannot run {clang} ({e}); install clang, llvm and libbpf-dev or set CLANG")
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr
            .lines()
            .find(|l| l.contains("error"))
            .unwrap_or("")
            .trim();
        return Err(format!("{clang} failed ({}): {first}", output.status));
    }
    Ok(())
}

/// The Debian multiarch triple of the build host (x86_64-linux-gnu, ...).
fn multiarch() -> String {
    if let Ok(o) = Command::new("gcc").arg("-print-multiarch").output() {
        let s = String::from_utf8_lossy(&o.stdout).trim().to_string();
        if o.status.success() && !s.is_empty() {
            return s;
        }
    }
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_else(|_| "x86_64".into());
    format!("{arch}-linux-gnu")
}
