//! The browser: headless Chromium driven through ChromeDriver (Debian's `chromium` and
//! `chromium-driver`), and what every page visited goes through (see [`Web::save`]).

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use super::checks;
use crate::mail::MailRelay;
use crate::{metroplan, repo};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
pub const PASSWORD: &str = "une phrase de passe solide";

pub fn vnu_jar() -> PathBuf {
    repo().join("tests/web/node_modules/vnu-jar/build/dist/vnu.jar")
}

pub fn out_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    // target/<profile>/deps/it-… → target/web
    let target = exe
        .ancestors()
        .nth(3)
        .expect("target directory")
        .to_path_buf();
    target.join("web")
}

pub fn prerequisites() {
    let missing: Vec<String> = [
        (
            PathBuf::from(CHROMEDRIVER),
            "apt-get install chromium-driver",
        ),
        (PathBuf::from(CHROMIUM), "apt-get install chromium"),
        (vnu_jar(), "npm ci --prefix tests/web"),
    ]
    .into_iter()
    .filter(|(p, _)| !p.exists())
    .map(|(p, how)| format!("{} (install: {how})", p.display()))
    .collect();
    assert!(
        missing.is_empty(),
        "the browser tests need: {}; `.ci/run` installs them",
        missing.join(", ")
    );
}

pub struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

pub async fn browser() -> (Driver, Client) {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver(child);
    let url = format!("http://127.0.0.1:{port}");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1366,900", "--lang=fr-FR"]
        }),
    );
    let start = Instant::now();
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(c) => return (driver, c),
            Err(e) if start.elapsed() < Duration::from_secs(20) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("no WebDriver session: {e}"),
        }
    }
}

pub fn user(db: &str, email: &str, role: &str, name: &str) {
    let mut child = Command::new(metroplan())
        .args([
            "user",
            "create",
            "--email",
            email,
            "--role",
            role,
            "--name",
            name,
            "--database",
            db,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("user create");
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn axe_source() -> String {
    std::fs::read_to_string(repo().join("tests/web/node_modules/axe-core/axe.min.js"))
        .expect("axe-core (npm ci --prefix tests/web)")
}

/// The pages of one journey, saved as they were served.
pub struct Web {
    pub c: Client,
    pub base: String,
    pub dir: PathBuf,
    pub saved: Vec<PathBuf>,
    pub axe: String,
    /// Accessibility violations (axe-core, WCAG 2.1 A and AA rules) by page.
    pub violations: Vec<String>,
    /// What a person would see wrong, by page (see [`checks`]).
    pub findings: Vec<String>,
}

impl Web {
    pub async fn go(&self, path: &str) {
        self.c
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("goto {path}: {e}"));
    }

    pub async fn css(&self, sel: &str) -> fantoccini::elements::Element {
        self.c
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(sel))
            .await
            .unwrap_or_else(|e| panic!("no `{sel}` on {}: {e}", self.path_now()))
    }

    fn path_now(&self) -> String {
        "the current page".into()
    }

    /// Clicks a link or a submit button and waits for the next page to load.
    pub async fn click(&self, sel: &str) {
        self.c
            .execute("window.__metroplanOld = true;", vec![])
            .await
            .unwrap();
        self.tick(sel).await;
        let start = Instant::now();
        loop {
            let done = self
                .c
                .execute(
                    "return window.__metroplanOld === undefined && document.readyState === 'complete';",
                    vec![],
                )
                .await
                .map(|v| v == json!(true))
                .unwrap_or(false);
            if done {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "clicking `{sel}` led to no new page"
            );
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    /// Clicks a control that stays on the page (a checkbox, a radio button).
    pub async fn tick(&self, sel: &str) {
        self.css(sel)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {sel}: {e}"));
    }

    pub async fn fill(&self, sel: &str, text: &str) {
        let e = self.css(sel).await;
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    /// Date inputs take keyboard input in the browser's locale: set the value directly.
    pub async fn date(&self, id: &str, value: &str) {
        self.c
            .execute(
                "document.getElementById(arguments[0]).value = arguments[1];",
                vec![json!(id), json!(value)],
            )
            .await
            .unwrap();
    }

    /// The element's text, with no-break spaces (French number grouping) as plain spaces.
    pub async fn text(&self, sel: &str) -> String {
        self.css(sel)
            .await
            .text()
            .await
            .unwrap()
            .replace(['\u{a0}', '\u{202f}'], " ")
    }

    pub async fn h1(&self) -> String {
        self.text("h1").await
    }

    /// The page as a person gets it: axe-core, the [`checks`] of what a person reads at
    /// 1366 px, then at 390 px and 320 px (nothing scrolls sideways, chart labels legible),
    /// screenshots at 1366 and 390 px; and the HTML for the Nu HTML Checker: as served for a page reached by GET (fetched again
    /// with the browser's cookies), else as the browser holds it.
    pub async fn save(&mut self, name: &str, served: bool) {
        let n = self.saved.len() + 1;
        self.audit(name).await;
        for f in checks::page(&self.c).await {
            self.findings.push(format!("{name}: {f}"));
        }
        let png = self.c.screenshot().await.unwrap();
        std::fs::write(self.dir.join(format!("{n:02}-{name}.png")), png).unwrap();
        for f in checks::narrow(&self.c, &self.dir.join(format!("{n:02}-{name}-390.png"))).await {
            self.findings.push(format!("{name}: {f}"));
        }
        let html = if served {
            self.c
                .execute_async(
                    "const done = arguments[arguments.length - 1]; fetch(location.href).then(r => r.text()).then(done, e => done('FETCH FAILED ' + e));",
                    vec![],
                )
                .await
                .unwrap()
        } else {
            self.c
                .execute(
                    "return '<!DOCTYPE html>\\n' + document.documentElement.outerHTML;",
                    vec![],
                )
                .await
                .unwrap()
        };
        let html = html.as_str().unwrap_or_default().to_string();
        assert!(!html.starts_with("FETCH FAILED"), "{name}: {html}");
        let path = self.dir.join(format!("{n:02}-{name}.html"));
        std::fs::write(&path, html).unwrap();
        self.saved.push(path);
    }

    /// Runs axe-core on the page as displayed, with the WCAG 2.1 A and AA rules.
    pub async fn audit(&mut self, name: &str) {
        self.c
            .execute(&self.axe, vec![])
            .await
            .expect("axe-core loads");
        let found = self
            .c
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
                   .then(r => done(r.violations.map(v => v.id + ' (' + v.impact + '): ' + v.help + ' at ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))),
                         e => done(['axe failed: ' + e]));",
                vec![],
            )
            .await
            .expect("axe-core runs");
        for v in found.as_array().into_iter().flatten() {
            self.violations
                .push(format!("{name}: {}", v.as_str().unwrap_or_default()));
        }
    }

    pub async fn sign_in(&self, email: &str) {
        self.go("/connexion").await;
        self.fill("#email", email).await;
        self.fill("#password", PASSWORD).await;
        self.click("main form button[type=submit]").await;
        let who = self.text("header .account span").await;
        assert!(!who.is_empty(), "signed in as {email}");
    }

    pub async fn sign_out(&self) {
        self.go("/").await;
        self.click("header .account form button").await;
        self.css("header .account a[href='/connexion']").await;
    }

    /// Takes a workflow action from the application's page.
    pub async fn act(&self, action: &str) {
        self.click(&format!(
            "form[action$='/actions/{action}'] button[type=submit]"
        ))
        .await;
    }

    /// Takes a step the workflow marks as destructive: the action, then its confirmation page.
    pub async fn act_confirmed(&self, action: &str) {
        self.act(action).await;
        assert!(
            self.h1().await.starts_with("Confirmer"),
            "{}",
            self.h1().await
        );
        self.click("form.action-danger button[type=submit]").await;
    }

    pub async fn state(&self) -> String {
        self.text("dl.fiche .etat").await
    }

    pub fn id_now(url: &str) -> String {
        url.split_once("/dossiers/")
            .map(|(_, id)| id.split(['?', '/']).next().unwrap_or(id))
            .expect("on an application's page")
            .to_string()
    }
}

impl Web {
    /// A journey's browser against `base`, saving its pages under `dir` (emptied first).
    pub async fn open(base: String, dir: PathBuf) -> (Driver, Web) {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (driver, c) = browser().await;
        let w = Web {
            c,
            base,
            dir,
            saved: Vec::new(),
            axe: axe_source(),
            violations: Vec::new(),
            findings: Vec::new(),
        };
        (driver, w)
    }

    /// Registers an applicant's account from the sign-up page and confirms its address with
    /// the link the relay received; ends signed in, on their files.
    pub async fn register(&self, mail: &MailRelay, name: &str, siret: &str, email: &str) {
        self.go("/inscription").await;
        self.fill("#name", name).await;
        self.fill("#siret", siret).await;
        self.fill("#email", email).await;
        self.fill("#password", PASSWORD).await;
        self.fill("#password2", PASSWORD).await;
        self.click("main form button[type=submit]").await;
        assert_eq!(
            self.h1().await,
            "Vérifiez votre messagerie",
            "{email} registered"
        );
        self.go(&mail.link(email, "/inscription/confirmer")).await;
        self.fill("#password", PASSWORD).await;
        self.click("main form button[type=submit]").await;
        assert_eq!(self.h1().await, "Mes dossiers", "{email} confirmed");
    }

    /// What every journey ends with: no finding a person would see, no axe-core violation, and
    /// every saved page valid for the Nu HTML Checker.
    pub async fn verdict(self, at_least: usize) {
        self.c.clone().close().await.unwrap();
        assert!(
            self.findings.is_empty(),
            "what a person would see wrong ({} findings):\n{}",
            self.findings.len(),
            self.findings.join("\n")
        );
        assert!(
            self.violations.is_empty(),
            "accessibility violations (axe-core, WCAG 2.1 AA):\n{}",
            self.violations.join("\n")
        );
        let out = Command::new("java")
            .arg("-jar")
            .arg(vnu_jar())
            .args(["--errors-only", "--format", "json"])
            .args(&self.saved)
            .output()
            .expect("java runs the Nu HTML Checker");
        let report: serde_json::Value =
            serde_json::from_slice(&out.stderr).unwrap_or(serde_json::Value::Null);
        let messages = report["messages"].as_array().cloned().unwrap_or_default();
        assert!(
            out.status.success() && messages.is_empty(),
            "HTML errors:\n{}",
            messages
                .iter()
                .map(|m| format!(
                    "{} line {}: {}",
                    m["url"].as_str().unwrap_or(""),
                    m["lastLine"],
                    m["message"].as_str().unwrap_or("")
                ))
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert!(
            self.saved.len() >= at_least,
            "{} pages checked",
            self.saved.len()
        );
    }
}
