//! The mail relay a served process sends to: aiosmtpd (`server/tests/fixtures/smtp/relay.py`)
//! over implicit TLS, with a certificate for `localhost` signed by a CA made for the run with
//! `openssl`, which the server is told to trust (`--smtp-ca`). Tests read the messages it
//! received and follow their links, as a person would.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::repo;

pub struct MailRelay {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("/usr/bin/openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("/usr/bin/openssl (cargo xtask setup)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl MailRelay {
    pub fn start() -> MailRelay {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let key = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        let ca_subject = format!(
            "/CN=metroplan e2e CA {}",
            d.file_name().unwrap().to_string_lossy()
        );
        openssl(
            d,
            &[
                &[
                    "req",
                    "-x509",
                    "-days",
                    "1",
                    "-subj",
                    &ca_subject,
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                ][..],
                &key,
            ]
            .concat(),
        );
        openssl(
            d,
            &[
                &[
                    "req",
                    "-subj",
                    "/CN=localhost",
                    "-keyout",
                    "relay.key",
                    "-out",
                    "relay.csr",
                ][..],
                &key,
            ]
            .concat(),
        );
        std::fs::write(
            d.join("relay.ext"),
            "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "relay.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "1",
                "-extfile",
                "relay.ext",
                "-out",
                "relay.pem",
            ],
        );
        let out = d.join("messages");
        std::fs::create_dir(&out).unwrap();
        let mut child = Command::new("python3")
            .arg(repo().join("server/tests/fixtures/smtp/relay.py"))
            .arg("--out")
            .arg(&out)
            .args(["--mode", "tls", "--cert"])
            .arg(d.join("relay.pem"))
            .arg("--key")
            .arg(d.join("relay.key"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(d.join("relay.log")).unwrap())
            .spawn()
            .expect("python3 and aiosmtpd (cargo xtask setup)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("ready ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "the relay did not start: {line:?} {}",
                    std::fs::read_to_string(d.join("relay.log")).unwrap_or_default()
                )
            });
        MailRelay { dir, port, child }
    }

    /// The options that make `metroplan serve` send to this relay.
    pub fn serve_args(&self) -> Vec<String> {
        vec![
            "--smtp".into(),
            format!("smtps://localhost:{}", self.port),
            "--smtp-ca".into(),
            self.dir
                .path()
                .join("ca.pem")
                .to_string_lossy()
                .into_owned(),
        ]
    }

    fn texts_to(&self, to: &str) -> Vec<String> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("messages"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| {
                serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(p).unwrap())
                    .unwrap()
            })
            .filter(|m| {
                m["rcpt"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|x| x == to))
            })
            .map(|m| {
                assert!(
                    m["tls"].as_str().is_some_and(|v| v.starts_with("TLSv1.")),
                    "sent over TLS: {m}"
                );
                decoded(m["data"].as_str().unwrap())
            })
            .collect()
    }

    /// The path of the newest link to `path` sent to `to`, waiting for the message (the
    /// server's outbox sends it within a second or so).
    pub fn link(&self, to: &str, path: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(found) = self.texts_to(to).iter().rev().find_map(|t| {
                let at = t.find(&format!("{path}?jeton="))?;
                Some(t[at..].split_whitespace().next()?.to_string())
            }) {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no link to {path} reached {to} in 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for MailRelay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A message's body, quoted-printable decoded when it is so encoded.
fn decoded(data: &str) -> String {
    let data = data.replace("\r\n", "\n");
    let (head, body) = data.split_once("\n\n").unwrap_or(("", &data));
    if !head.contains("Content-Transfer-Encoding: quoted-printable") {
        return body.to_string();
    }
    let body = body.replace("=\n", "");
    let raw = body.as_bytes();
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'='
            && i + 2 < raw.len()
            && let Ok(b) = u8::from_str_radix(&body[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("a UTF-8 message")
}
