//! The OpenID provider the sign-in tests start on loopback: npm's `oidc-provider`
//! (`tests/oidc/provider.mjs`), with the accounts and clients a test gives it. The browser
//! tests (the e2e crate) include this file too.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

pub const CLIENT_ID: &str = "metroplan";
pub const CLIENT_SECRET: &str = "un-secret-de-test-assez-long-pour-hs256";

pub struct OidcProvider {
    pub issuer: String,
    dir: tempfile::TempDir,
    _child: tokio::process::Child,
}

fn repo() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // The server crate or the e2e crate: both are one level below the repository.
    here.parent().expect("a crate inside the repository").into()
}

impl OidcProvider {
    /// A provider that sends people back to `site` (this server's public address), knowing
    /// `accounts`: `{ login: { email, email_verified, given_name, family_name } }`.
    pub async fn start(site: &str, accounts: Value) -> OidcProvider {
        let dir = tempfile::tempdir().unwrap();
        let config = json!({
            "clients": [{
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [format!("{site}/connexion/oidc/retour")],
                "post_logout_redirect_uris": [format!("{site}/")],
            }],
            "accounts": accounts,
        });
        let config_path = dir.path().join("provider.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let oidc = repo().join("tests/oidc");
        let log = dir.path().join("provider.log");
        let mut child = tokio::process::Command::new("node")
            .arg(oidc.join("provider.mjs"))
            .arg(&config_path)
            .current_dir(&oidc)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .kill_on_drop(true)
            .spawn()
            .expect("node");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the provider says it listens within 30 s")
            .unwrap()
            .unwrap_or_else(|| {
                panic!(
                    "the OpenID provider did not start (is tests/oidc installed? `cargo xtask setup`): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            });
        let issuer = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("provider said {line:?}"))
            .to_string();
        // Its later lines (none expected) must not fill the pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        OidcProvider {
            issuer,
            dir,
            _child: child,
        }
    }

    /// The providers' file a server is started with (`serve --oidc`), naming this provider
    /// `id` for `audience` (staff, applicants, everyone).
    pub fn providers_file(&self, id: &str, label: &str, audience: &str) -> PathBuf {
        let path = self.dir.path().join(format!("{id}.toml"));
        std::fs::write(
            &path,
            format!(
                "[[provider]]\nid = \"{id}\"\nlabel = \"{label}\"\nissuer = \"{}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\nfor = \"{audience}\"\n",
                self.issuer
            ),
        )
        .unwrap();
        path
    }

    /// Makes the next token response carry a doctored ID token (`audience`, `expired`,
    /// `signature`, `issuer`, `replay`).
    pub async fn tamper_next(&self, mode: &str) {
        let r = http()
            .post(format!("{}/test/tamper", self.issuer))
            .body(json!({ "mode": mode }).to_string())
            .send()
            .await
            .expect("the provider answers");
        assert_eq!(r.status().as_u16(), 204, "tamper {mode}");
    }
}

fn http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in at the provider as `login` the way a browser would (its development login form),
/// from the authorization address this server redirected to; returns the address the
/// provider sends the browser back to (this server's callback, with `code` and `state`).
pub async fn sign_in_at_provider(authorize: &str, login: &str) -> String {
    let http = http();
    let mut jar: Vec<(String, String)> = Vec::new();
    let mut url = authorize.to_string();
    let mut form: Option<Vec<(&str, &str)>> = None;
    for _ in 0..10 {
        let cookie = jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let req = match form.take() {
            Some(f) => http.post(&url).form(&f),
            None => http.get(&url),
        };
        let res = req
            .header("cookie", cookie)
            .send()
            .await
            .expect("the provider answers");
        for c in res.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (kv, _) = c.split_once(';').unwrap_or((c, ""));
            if let Some((k, v)) = kv.split_once('=') {
                jar.retain(|(name, _)| name != k);
                jar.push((k.to_string(), v.to_string()));
            }
        }
        let status = res.status().as_u16();
        if (300..400).contains(&status) {
            let to = res.headers()["location"].to_str().unwrap().to_string();
            let base = openidconnect::url::Url::parse(&url).unwrap();
            let next = base.join(&to).unwrap();
            if !next.as_str().starts_with(&format!(
                "{}://{}",
                base.scheme(),
                base.host_str().unwrap()
            )) || next.port() != base.port()
            {
                return next.to_string();
            }
            url = next.to_string();
            continue;
        }
        let html = res.text().await.unwrap();
        assert_eq!(status, 200, "provider page {url}: {html}");
        let action = html
            .split("action=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_else(|| panic!("a login form at {url}: {html}"));
        url = openidconnect::url::Url::parse(&url)
            .unwrap()
            .join(action)
            .unwrap()
            .to_string();
        form = Some(vec![
            ("prompt", "login"),
            ("login", login),
            ("password", "n'importe"),
        ]);
    }
    panic!("the provider never sent the browser back");
}
