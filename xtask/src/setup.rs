//! What the test suite needs from the machine: the programs the tests run (each with the
//! Debian package that provides it), the npm tools, a running PostgreSQL, and root for the
//! fault tests. Missing pieces are installed when we may; otherwise xtask stops and says
//! what to run, so that no test is ever skipped for want of a tool.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use crate::{DEFAULT_TEST_DATABASE, Stop, step};

/// A program a test runs, where it looks for it, and the Debian package that provides it.
struct Program {
    /// An absolute path when the test uses one, else a name looked up in `PATH`.
    name: &'static str,
    package: &'static str,
    used_by: &'static str,
}

const PROGRAMS: &[Program] = &[
    Program {
        name: "/usr/bin/chromium",
        package: "chromium",
        used_by: "the browser test (tests/it/web.rs)",
    },
    Program {
        name: "/usr/bin/chromedriver",
        package: "chromium-driver",
        used_by: "the browser test drives Chromium through it",
    },
    Program {
        name: "java",
        package: "default-jre-headless",
        used_by: "the Nu HTML Checker, in the browser test",
    },
    Program {
        name: "npm",
        package: "npm",
        used_by: "installs vnu-jar and axe-core (tests/web), taplo, mermaid and jsdom (.ci)",
    },
    Program {
        name: "node",
        package: "nodejs",
        used_by: "runs Mermaid's parser on the diagrams `metroplan diagram` prints (.ci/mermaid-parse.mjs)",
    },
    Program {
        name: "python3",
        package: "python3-pip",
        used_by: "installs and runs the PyPI tools of PIP_TOOLS; runs the test time-stamping authority (server/tests/fixtures/tsa/tsa.py)",
    },
    Program {
        name: "psql",
        package: "postgresql-client",
        used_by: "the tests drop their PostgreSQL databases with it",
    },
    Program {
        name: "pg_isready",
        package: "postgresql-client",
        used_by: "the fault tests wait for PostgreSQL with it",
    },
    Program {
        name: "pg_ctlcluster",
        package: "postgresql-common",
        used_by: "the fault tests stop and start the cluster",
    },
    Program {
        name: "mount",
        package: "mount",
        used_by: "the fault tests mount a small tmpfs",
    },
    Program {
        name: "umount",
        package: "mount",
        used_by: "the fault tests",
    },
    Program {
        name: "dd",
        package: "coreutils",
        used_by: "the fault tests fill a disk",
    },
    Program {
        name: "pdftotext",
        package: "poppler-utils",
        used_by: "the PDF letters' text read back (server/tests/it/pdf.rs)",
    },
    Program {
        name: "pdfinfo",
        package: "poppler-utils",
        used_by: "the PDF letters' metadata, page count and size",
    },
    Program {
        name: "pdffonts",
        package: "poppler-utils",
        used_by: "the PDF letters' fonts, embedded and subset",
    },
    Program {
        name: "qpdf",
        package: "qpdf",
        used_by: "checks the PDF letters' structure",
    },
    Program {
        name: "kill",
        package: "procps",
        used_by: "the server tests send signals",
    },
    Program {
        name: "/usr/bin/openssl",
        package: "openssl",
        used_by: "the mail tests make a throwaway CA and certificate; the audit tests a time-stamping authority (`openssl ts`)",
    },
];

/// The Python tools the tests run, from PyPI, each at an exact version (`pip install`).
const PIP_TOOLS: &[(&str, &str, &str)] = &[
    (
        "frictionless",
        "5.21.0",
        "validates the SCDL export against the official schema (server/tests/it/scdl.rs)",
    ),
    (
        "aiosmtpd",
        "1.4.6",
        "the mail relay the notification tests send to, plain and over TLS (server/tests/it/smtp_tls.rs)",
    ),
];

/// The npm projects whose `node_modules` the checks use.
const NPM_DIRS: &[&str] = &["tests/web", "tests/oidc", ".ci"];

pub fn test_database() -> String {
    std::env::var("METROPLAN_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_TEST_DATABASE.into())
}

pub fn run(repo: &Path) -> Result<(), Stop> {
    step("programs the tests run");
    let root = is_root();
    let mut packages = missing_packages(true);
    let cluster = cluster_version();
    if cluster.is_none() {
        println!(
            "  PostgreSQL server       missing (Debian package postgresql): the server's tests run on it too"
        );
        packages.push("postgresql");
    }
    // What only root may do, as the commands to run.
    let mut as_root: Vec<String> = Vec::new();
    if !packages.is_empty() {
        if root {
            apt_install(&packages)?;
            let still = missing_packages(false);
            if !still.is_empty() {
                return Err(Stop::failed(format!(
                    "still missing after apt-get install: {}",
                    still.join(" ")
                )));
            }
        } else {
            as_root.push("apt-get update".into());
            as_root.push(format!(
                "DEBIAN_FRONTEND=noninteractive apt-get install -y {}",
                packages.join(" ")
            ));
        }
    }

    step("PostgreSQL on 127.0.0.1:5432");
    match cluster_version() {
        Some(_) if pg_ready() => println!("  accepting connections"),
        Some(version) if root => start_postgresql(&version)?,
        Some(version) => as_root.push(format!(
            "pg_ctlcluster --skip-systemctl-redirect {version} main start"
        )),
        None if root => {
            return Err(Stop::failed(
                "PostgreSQL is installed but /etc/postgresql holds no cluster: create one (pg_createcluster VERSION main)",
            ));
        }
        None => as_root.push(
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start".into(),
        ),
    }

    if !root {
        let mut message = String::from(
            "not running as root. The fault tests (tests/it/faults.rs) mount small tmpfs filesystems \
             and stop and start the PostgreSQL cluster, so the suite runs as root (as CI does); \
             nothing is skipped.\n",
        );
        if !as_root.is_empty() {
            message.push_str("\nRun, as root:\n");
            for c in &as_root {
                message.push_str(&format!("    {c}\n"));
            }
        }
        message.push_str(
            "\nThen run the tests as root:\n    sudo env \"PATH=$PATH\" cargo xtask test\n",
        );
        return Err(Stop { code: 2, message });
    }

    check_test_database()?;

    step("npm tools (tests/web: vnu-jar and axe-core; tests/oidc: oidc-provider; .ci: taplo)");
    for dir in NPM_DIRS {
        let dir = repo.join(dir);
        if npm_current(&dir) {
            println!("  {}/node_modules is current", rel(repo, &dir));
            continue;
        }
        println!("$ (cd {} && npm ci)", rel(repo, &dir));
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err(Stop::failed(format!(
                "npm ci failed in {}",
                rel(repo, &dir)
            )));
        }
    }
    pip_tools()
}

/// Installs each PyPI tool at its pinned version unless that version already answers.
fn pip_tools() -> Result<(), Stop> {
    step("PyPI tools");
    for (name, version, used_by) in PIP_TOOLS {
        // pip's own record: some tools print more than their version to `--version`.
        let current = Command::new("python3")
            .args(["-m", "pip", "show", name])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .find_map(|l| l.strip_prefix("Version: ").map(|v| v.trim().to_string()))
            });
        if current.as_deref() == Some(*version) {
            println!("  {name} {version} ok");
            continue;
        }
        println!("$ python3 -m pip install {name}=={version}   # {used_by}");
        let ok = Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                &format!("{name}=={version}"),
            ])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err(Stop::failed(format!(
                "pip install {name}=={version} failed"
            )));
        }
    }
    Ok(())
}

fn rel(repo: &Path, dir: &Path) -> String {
    dir.strip_prefix(repo).unwrap_or(dir).display().to_string()
}

/// The Debian packages of the programs not found, each once; `report` prints every program.
fn missing_packages(report: bool) -> Vec<&'static str> {
    let mut packages = Vec::new();
    for p in PROGRAMS {
        let found = found(p.name);
        if report {
            if found {
                println!("  {:<23} ok", p.name);
            } else {
                println!(
                    "  {:<23} missing (Debian package {}): {}",
                    p.name, p.package, p.used_by
                );
            }
        }
        if !found && !packages.contains(&p.package) {
            packages.push(p.package);
        }
    }
    packages
}

fn found(name: &str) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if name.starts_with('/') {
        return executable(Path::new(name));
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| executable(&d.join(name))))
}

/// The effective user id is 0 (`/proc/self/status`, else `id -u`).
fn is_root() -> bool {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(line) = status.lines().find(|l| l.starts_with("Uid:"))
    {
        return line.split_whitespace().nth(2) == Some("0");
    }
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn apt_install(packages: &[&str]) -> Result<(), Stop> {
    step(&format!("installing {}", packages.join(" ")));
    let install = || {
        println!("$ apt-get install -y {}", packages.join(" "));
        Command::new("apt-get")
            .args(["install", "-y", "-q"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    if install() {
        return Ok(());
    }
    // A fresh machine's package lists may be missing or out of date.
    println!("$ apt-get update");
    let updated = Command::new("apt-get")
        .args(["update", "-q"])
        .status()
        .is_ok_and(|s| s.success());
    if updated && install() {
        return Ok(());
    }
    Err(Stop::failed(format!(
        "apt-get install -y {} failed",
        packages.join(" ")
    )))
}

/// The version of the machine's PostgreSQL cluster (`ls /etc/postgresql`).
fn cluster_version() -> Option<String> {
    let mut versions: Vec<String> = std::fs::read_dir("/etc/postgresql")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    versions.sort();
    versions.pop()
}

fn pg_ready() -> bool {
    Command::new("pg_isready")
        .args(["-q", "-h", "127.0.0.1", "-p", "5432"])
        .status()
        .is_ok_and(|s| s.success())
}

fn start_postgresql(version: &str) -> Result<(), Stop> {
    println!("$ pg_ctlcluster --skip-systemctl-redirect {version} main start");
    let started = Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", version, "main", "start"])
        .status()
        .is_ok_and(|s| s.success());
    for _ in 0..30 {
        if pg_ready() {
            println!("  accepting connections");
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    Err(Stop::failed(format!(
        "PostgreSQL {version} did not come up on 127.0.0.1:5432 within 30 s (pg_ctlcluster {})",
        if started { "succeeded" } else { "failed" }
    )))
}

/// The tests connect as the URL says and create a database per test.
fn check_test_database() -> Result<(), Stop> {
    let url = test_database();
    let ok = Command::new("psql")
        .args([url.as_str(), "-Atq", "-c", "select 1"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        println!("  {url}: connected");
        return Ok(());
    }
    Err(Stop::failed(format!(
        "cannot connect to {url}: the tests expect a user who may create databases, \
         reached without a password (trust for 127.0.0.1), and its database (createdb test); \
         or set METROPLAN_TEST_DATABASE_URL"
    )))
}

/// `node_modules` exists and npm wrote it after the lock file last changed.
fn npm_current(dir: &Path) -> bool {
    let modified = |p: &Path| -> Option<SystemTime> { p.metadata().ok()?.modified().ok() };
    match (
        modified(&dir.join("node_modules/.package-lock.json")),
        modified(&dir.join("package-lock.json")),
    ) {
        (Some(installed), Some(lock)) => installed >= lock,
        _ => false,
    }
}
