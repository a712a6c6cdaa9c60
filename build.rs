//! Compiles the admin API (`proto/`) into Rust. The protobuf compiler is protox,
//! pure Rust, so building Interlock never needs a system `protoc`.
//!
//! Also compiles `native/re2_check.cc`, the shim through which translation checks
//! regexes with RE2 itself (the engine Envoy uses), against the system RE2
//! (Debian: `libre2-dev`).

use std::error::Error;
use std::process::Command;

/// The project's own protos, relative to the include root `proto/`.
const PROTOS: &[&str] = &["interlock/admin/v1/admin.proto"];

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=proto");
    for proto in PROTOS {
        println!("cargo:rerun-if-changed=proto/{proto}");
    }
    let descriptors = protox::compile(PROTOS, ["proto"])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    compile_re2_shim()
}

/// The C++ shim over RE2 (see `src/translate/regex/re2.rs`), linked with the
/// system RE2. Flags come from `pkg-config re2` when it knows RE2, else the
/// default include path and `-lre2`.
fn compile_re2_shim() -> Result<(), Box<dyn Error>> {
    const SHIM: &str = "native/re2_check.cc";
    println!("cargo:rerun-if-changed={SHIM}");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    let cflags = pkg_config(&["--cflags", "re2"]);
    let libs = pkg_config(&["--libs", "re2"]);
    if cflags.is_none() && !std::path::Path::new("/usr/include/re2/re2.h").exists() {
        return Err("RE2 not found: install it (Debian: apt-get install libre2-dev)".into());
    }
    let mut build = cc::Build::new();
    build.cpp(true).std("c++17").file(SHIM).warnings(true);
    for flag in cflags.iter().flat_map(|f| f.split_whitespace()) {
        match flag.strip_prefix("-I") {
            Some(dir) => build.include(dir),
            None => build.flag(flag),
        };
    }
    build.try_compile("interlock_re2_check")?;
    // After the shim, which needs it.
    let mut linked = false;
    for flag in libs.iter().flat_map(|l| l.split_whitespace()) {
        if let Some(dir) = flag.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={dir}");
        } else if let Some(lib) = flag.strip_prefix("-l") {
            println!("cargo:rustc-link-lib={lib}");
            linked |= lib == "re2";
        }
    }
    if !linked {
        println!("cargo:rustc-link-lib=re2");
    }
    Ok(())
}

/// `pkg-config <args>`'s output, or `None` when pkg-config is missing or fails.
fn pkg_config(args: &[&str]) -> Option<String> {
    let out = Command::new("pkg-config").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}
