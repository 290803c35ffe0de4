//! The README's main command as a newcomer meets it, the server as a real process on a fresh
//! SQLite file: on a first start it says how to create the first administrator (and the
//! command it prints works); `serve --demo` prints trial accounts an applicant signs in with,
//! on a date where a call is open, and seeds them only once.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::{metroplan, repo};

struct Serve {
    child: Child,
    addr: String,
    lines: Receiver<String>,
}

impl Serve {
    /// `metroplan serve` on the repository's plans, any free port, without `--now`.
    fn start(db: &str, dir: &std::path::Path, more: &[&str]) -> Serve {
        let mut child = Command::new(metroplan())
            .current_dir(repo())
            .args(["serve", "--plans", "plans", "--bind", "127.0.0.1:0"])
            .args(["--database", db])
            .arg("--documents")
            .arg(dir.join("documents"))
            .args(more)
            .env("METROPLAN_LOG", "warn")
            .env_remove("METROPLAN_NOW")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start metroplan serve");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the server says where it listens");
        let addr = first
            .strip_prefix("metroplan: listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_string();
        Serve { child, addr, lines }
    }

    /// What the server printed after its address, until it has been quiet for a second.
    fn told(&self) -> Vec<String> {
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            match self.lines.recv_timeout(Duration::from_secs(1)) {
                Ok(l) => out.push(l),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        out
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Page {
    status: u16,
    head: String,
    body: String,
}

impl Page {
    fn cookie(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let v = l
                .strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))?;
            let pair = v.split(';').next()?;
            pair.strip_prefix(&format!("{name}=")).map(str::to_string)
        })
    }
}

fn http(addr: &str, method: &str, path: &str, cookie: &str, form: &str) -> Page {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    Page {
        status: head.split_whitespace().nth(1).unwrap().parse().unwrap(),
        head: head.to_string(),
        body: body.to_string(),
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Signs in through the page's form, as a browser without JavaScript; the session cookie.
fn sign_in(addr: &str, email: &str, password: &str) -> Option<String> {
    let form = http(addr, "GET", "/connexion", "", "");
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf_cookie = form.cookie("mp_csrf").expect("an anonymous CSRF cookie");
    let at = form
        .body
        .find("name=\"_csrf\" value=\"")
        .expect("a CSRF field")
        + 20;
    let token = &form.body[at..at + form.body[at..].find('"').unwrap()];
    let r = http(
        addr,
        "POST",
        "/connexion",
        &format!("mp_csrf={csrf_cookie}"),
        &format!(
            "_csrf={token}&email={}&password={}",
            encode(email),
            encode(password)
        ),
    );
    (r.status == 303).then(|| r.cookie("mp_session")).flatten()
}

/// The words of a shell command line (plain words, double and single quotes).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_default().push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                word.get_or_insert_default();
            }
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, c) => word.get_or_insert_default().push(c),
        }
    }
    words.extend(word);
    words
}

#[test]
fn a_first_start_says_how_to_create_the_first_administrator_and_that_command_works() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("metroplan.db").display());
    let server = Serve::start(&db, dir.path(), &[]);
    let told = server.told();
    assert!(
        told.iter().any(|l| l.contains("no account yet")),
        "{told:#?}"
    );
    let command = told
        .iter()
        .find(|l| l.contains(" user create "))
        .unwrap_or_else(|| panic!("no command: {told:#?}"));
    assert!(
        told.iter()
            .any(|l| l.contains(&format!("http://{}/connexion", server.addr))),
        "{told:#?}"
    );
    // The command as printed, run as it is: the program, this database, an admin.
    let words = shell_words(command.trim());
    assert!(
        words.windows(2).any(|w| w == ["--role", "admin"]),
        "{words:?}"
    );
    assert!(
        words.windows(2).any(|w| w[0] == "--database" && w[1] == db),
        "{words:?}"
    );
    let email = words[words.iter().position(|w| w == "--email").unwrap() + 1].clone();
    let mut create = Command::new(&words[0])
        .args(&words[1..])
        .current_dir(repo())
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the printed command");
    create
        .stdin
        .take()
        .unwrap()
        .write_all(b"une phrase de passe solide\n")
        .unwrap();
    let out = create.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = http(
        &server.addr,
        "GET",
        "/admin",
        &format!(
            "mp_session={}",
            sign_in(&server.addr, &email, "une phrase de passe solide")
                .expect("the admin signs in")
        ),
        "",
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains("Démonstration"), "not a demonstration");
    drop(server);

    // Once an account exists, the server says nothing more.
    let again = Serve::start(&db, dir.path(), &[]);
    let told = again.told();
    assert!(told.is_empty(), "{told:#?}");
}

#[test]
fn serve_demo_on_a_fresh_sqlite_file_prints_trial_accounts_an_applicant_signs_in_with() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("metroplan.db").display());
    let server = Serve::start(&db, dir.path(), &["--demo"]);
    let told = server.told();
    assert!(
        told.iter().any(|l| l.contains("DEMONSTRATION MODE")),
        "{told:#?}"
    );
    let password = told
        .iter()
        .find_map(|l| l.split("the password `").nth(1)?.split('`').next())
        .unwrap_or_else(|| panic!("no password: {told:#?}"))
        .to_string();
    // `    ROLE  EMAIL  NAME`
    let accounts: Vec<(String, String, String)> = told
        .iter()
        .filter(|l| l.starts_with("    "))
        .map(|l| {
            let mut w = l.split_whitespace();
            let role = w.next().unwrap().to_string();
            let email = w.next().unwrap().to_string();
            (role, email, w.collect::<Vec<_>>().join(" "))
        })
        .collect();
    let roles: Vec<&str> = accounts.iter().map(|a| a.0.as_str()).collect();
    for role in ["applicant", "instructor", "approver", "finance", "admin"] {
        assert!(roles.contains(&role), "{role}: {told:#?}");
    }
    assert!(
        roles.iter().filter(|r| **r == "reviewer").count() >= 3,
        "{told:#?}"
    );
    // The call the clock was set in, as the server names it.
    let clock = told
        .iter()
        .find(|l| l.contains("the clock reads"))
        .unwrap_or_else(|| panic!("{told:#?}"));
    let name = |after: &str| {
        clock
            .split(after)
            .nth(1)
            .and_then(|r| r.split('`').nth(1))
            .unwrap_or_else(|| panic!("{clock}"))
            .to_string()
    };
    let (fund, plan) = (name("of fund "), name("(plan "));

    let (_, email, applicant_name) = accounts.iter().find(|a| a.0 == "applicant").unwrap();
    let session = sign_in(&server.addr, email, &password).expect("the applicant signs in");
    let cookie = format!("mp_session={session}");
    let mine = http(&server.addr, "GET", "/mes-dossiers", &cookie, "");
    assert_eq!(mine.status, 200, "{}", mine.body);
    assert!(mine.body.contains(applicant_name.as_str()), "{}", mine.body);
    assert!(
        mine.body.contains("Démonstration"),
        "the banner: {}",
        mine.body
    );
    // The call is open on the server's date: the applicant is offered to file.
    let call = http(
        &server.addr,
        "GET",
        &format!("/plans/{plan}/fonds/{fund}"),
        &cookie,
        "",
    );
    assert_eq!(call.status, 200, "{}", call.body);
    assert!(
        call.body
            .contains(&format!("/plans/{plan}/fonds/{fund}/deposer")),
        "{}",
        call.body
    );
    assert!(sign_in(&server.addr, email, "not the password").is_none());
    drop(server);

    // A second start on the same file: the same accounts, nothing duplicated, no failure.
    let again = Serve::start(&db, dir.path(), &["--demo"]);
    let told_again = again.told();
    assert_eq!(
        told_again.iter().filter(|l| l.starts_with("    ")).count(),
        accounts.len(),
        "{told_again:#?}"
    );
    assert!(sign_in(&again.addr, email, &password).is_some());
}
