//! OpenID Connect sign-in (ProConnect for public agents, FranceConnect for the public, or any
//! provider): the authorization code flow with PKCE, `state` and `nonce`, and the ID token
//! checked by `openidconnect` (issuer, audience, expiry, signature against the provider's
//! published keys, nonce). The providers come from a TOML file (`serve --oidc FILE`); which
//! account an identity opens is [`link`]'s business.
//!
//! A sign-in under way is a row of `oidc_logins`, keyed by the hash of its `state` and bound
//! to the browser by a cookie holding that `state`: a callback is accepted once, from the
//! browser that started it, within [`LOGIN_LIFETIME`].

pub mod link;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, ProviderMetadataWithLogout, RedirectUrl, Scope, TokenResponse,
};
use serde::Deserialize;
use sqlx::Row;

use crate::clock::stamp;
use crate::store::Db;
use crate::tokens::hash;

/// How long a sign-in may stay at the provider before its callback is refused.
pub const LOGIN_LIFETIME: SignedDuration = SignedDuration::from_mins(10);

/// How long a provider's metadata and keys are kept before they are fetched again (a key the
/// provider rotates in is published before it signs with it).
const DISCOVERY_LIFETIME: Duration = Duration::from_secs(600);

/// Who may sign in through a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Audience {
    /// Staff accounts only (ProConnect): an identity opens an existing account.
    Staff,
    /// Applicants only (FranceConnect): an identity with a verified email opens its account,
    /// or a new applicant account.
    Applicants,
    /// Both.
    Everyone,
}

impl Audience {
    pub fn staff(self) -> bool {
        matches!(self, Audience::Staff | Audience::Everyone)
    }
    pub fn applicants(self) -> bool {
        matches!(self, Audience::Applicants | Audience::Everyone)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    provider: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    label: String,
    issuer: String,
    client_id: String,
    client_secret: Option<String>,
    client_secret_file: Option<PathBuf>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(rename = "for")]
    audience: Audience,
}

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

#[derive(Clone)]
struct Discovered {
    client: Client,
    end_session: Option<url::Url>,
    at: Instant,
}

/// One configured provider.
pub struct Provider {
    /// Stable: linked identities are recorded under it.
    pub id: String,
    /// What the sign-in button names ("ProConnect").
    pub label: String,
    pub audience: Audience,
    issuer: IssuerUrl,
    client_id: ClientId,
    secret: ClientSecret,
    scopes: Vec<String>,
    discovered: tokio::sync::Mutex<Option<Discovered>>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("Provider")
            .field("id", &self.id)
            .field("issuer", &self.issuer.as_str())
            .field("client_id", &self.client_id.as_str())
            .finish_non_exhaustive()
    }
}

/// The configured providers and the HTTP client that reaches them.
#[derive(Debug, Default)]
pub struct Providers {
    list: Vec<Provider>,
    http: Option<openidconnect::reqwest::Client>,
}

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("{path}: {message}")]
    Config { path: String, message: String },
    #[error("no OpenID provider `{0}` is configured")]
    UnknownProvider(String),
    #[error("the provider could not be reached or answered wrongly: {0}")]
    Unreachable(String),
    #[error("no sign-in under way matches this answer (used already, or from another browser)")]
    UnknownLogin,
    #[error("the sign-in took longer than {} minutes", LOGIN_LIFETIME.as_mins())]
    Expired,
    #[error("the provider refused the sign-in: {0}")]
    Refused(String),
    #[error("the ID token was refused: {0}")]
    InvalidIdToken(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Who the provider says signed in, once its ID token passed every check.
#[derive(Debug, Clone)]
pub struct Identity {
    pub provider: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    /// The raw ID token, kept with the session for the provider's logout.
    pub id_token: String,
}

/// The provider's answer as it came back to the callback, and the `state` the browser's
/// cookie holds.
#[derive(Debug, Clone, Copy)]
pub struct Callback<'a> {
    pub state: &'a str,
    pub cookie: Option<&'a str>,
    pub code: &'a str,
    /// The `iss` parameter (RFC 9207), when the provider sends it.
    pub iss: Option<&'a str>,
}

/// Where the browser goes to sign in, and the `state` its cookie must hold on return.
#[derive(Debug)]
pub struct Started {
    pub url: url::Url,
    pub state: String,
}

impl Providers {
    /// Reads the providers' file; a mistake in it stops the server's start, naming it.
    pub fn load(path: &Path) -> Result<Providers, OidcError> {
        let bad = |message: String| OidcError::Config {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let file: File = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let mut list: Vec<Provider> = Vec::new();
        for e in file.provider {
            if e.id.is_empty()
                || !e
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(bad(format!(
                    "provider id `{}`: letters, digits, `-` and `_` only",
                    e.id
                )));
            }
            if list.iter().any(|p| p.id == e.id) {
                return Err(bad(format!("provider `{}` is declared twice", e.id)));
            }
            let secret = match (e.client_secret, e.client_secret_file) {
                (Some(s), None) => s,
                (None, Some(f)) => std::fs::read_to_string(&f)
                    .map_err(|err| {
                        bad(format!(
                            "provider `{}`: client_secret_file {}: {err}",
                            e.id,
                            f.display()
                        ))
                    })?
                    .trim()
                    .to_string(),
                _ => {
                    return Err(bad(format!(
                        "provider `{}`: give either client_secret or client_secret_file",
                        e.id
                    )));
                }
            };
            let issuer = IssuerUrl::new(e.issuer.clone())
                .map_err(|err| bad(format!("provider `{}`: issuer: {err}", e.id)))?;
            let scopes = if e.scopes.is_empty() {
                vec!["openid".into(), "email".into(), "profile".into()]
            } else {
                e.scopes
            };
            list.push(Provider {
                id: e.id,
                label: e.label,
                audience: e.audience,
                issuer,
                client_id: ClientId::new(e.client_id),
                secret: ClientSecret::new(secret),
                scopes,
                discovered: Default::default(),
            });
        }
        let http = openidconnect::reqwest::ClientBuilder::new()
            // Following redirects would let a provider's answer send the server elsewhere.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| bad(e.to_string()))?;
        Ok(Providers {
            list,
            http: Some(http),
        })
    }

    pub fn all(&self) -> &[Provider] {
        &self.list
    }

    pub fn get(&self, id: &str) -> Option<&Provider> {
        self.list.iter().find(|p| p.id == id)
    }

    fn http(&self) -> &openidconnect::reqwest::Client {
        self.http
            .as_ref()
            .expect("providers are only listed when loaded, with their client")
    }

    async fn discover(&self, p: &Provider, redirect: &str) -> Result<Discovered, OidcError> {
        let mut cached = p.discovered.lock().await;
        if let Some(d) = cached.as_ref()
            && d.at.elapsed() < DISCOVERY_LIFETIME
        {
            return Ok(d.clone());
        }
        let metadata = ProviderMetadataWithLogout::discover_async(p.issuer.clone(), self.http())
            .await
            .map_err(|e| OidcError::Unreachable(chain(&e)))?;
        let end_session = metadata
            .additional_metadata()
            .end_session_endpoint
            .as_ref()
            .map(|u| u.url().clone());
        let redirect = RedirectUrl::new(redirect.to_string())
            .map_err(|e| OidcError::Unreachable(format!("redirect address: {e}")))?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            p.client_id.clone(),
            Some(p.secret.clone()),
        )
        .set_redirect_uri(redirect);
        let d = Discovered {
            client,
            end_session,
            at: Instant::now(),
        };
        *cached = Some(d.clone());
        Ok(d)
    }

    /// Begins a sign-in through `provider`: the address to send the browser to, and the
    /// `state` to keep in its cookie. `redirect` is this site's callback address.
    pub async fn start(
        &self,
        db: &Db,
        provider: &str,
        redirect: &str,
        back: &str,
        now: Timestamp,
    ) -> Result<Started, OidcError> {
        let p = self
            .get(provider)
            .ok_or_else(|| OidcError::UnknownProvider(provider.into()))?;
        let d = self.discover(p, redirect).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = d.client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for s in p.scopes.iter().filter(|s| s.as_str() != "openid") {
            request = request.add_scope(Scope::new(s.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        // Sign-ins abandoned at the provider are useless once expired; swept here.
        sqlx::query("DELETE FROM oidc_logins WHERE created_at < $1")
            .bind(stamp(now - LOGIN_LIFETIME))
            .execute(&db.pool)
            .await?;
        sqlx::query(
            "INSERT INTO oidc_logins (state_hash, provider, nonce, verifier, back, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(hash(state.secret()))
        .bind(&p.id)
        .bind(nonce.secret())
        .bind(verifier.secret())
        .bind(back)
        .bind(stamp(now))
        .execute(&db.pool)
        .await?;
        Ok(Started {
            url,
            state: state.secret().clone(),
        })
    }

    /// Ends a sign-in: `state` and `code` as the provider sent them back, `cookie` the state
    /// the browser kept. The sign-in is used up whatever the outcome. Returns who signed in
    /// and the page to go back to.
    pub async fn finish(
        &self,
        db: &Db,
        back: Callback<'_>,
        redirect: &str,
        now: Timestamp,
    ) -> Result<(Identity, String), OidcError> {
        let Callback {
            state,
            cookie,
            code,
            iss,
        } = back;
        let row = sqlx::query(
            "DELETE FROM oidc_logins WHERE state_hash = $1 RETURNING provider, nonce, verifier, back, created_at",
        )
        .bind(hash(state))
        .fetch_optional(&db.pool)
        .await?
        .ok_or(OidcError::UnknownLogin)?;
        // Compared by hash: constant in time whatever the cookie holds.
        if cookie.map(hash) != Some(hash(state)) {
            return Err(OidcError::UnknownLogin);
        }
        let created: String = row.try_get("created_at")?;
        if created
            .parse::<Timestamp>()
            .map_or(true, |t| t + LOGIN_LIFETIME < now)
        {
            return Err(OidcError::Expired);
        }
        let provider: String = row.try_get("provider")?;
        let p = self
            .get(&provider)
            .ok_or_else(|| OidcError::UnknownProvider(provider.clone()))?;
        // RFC 9207: an answer that names another issuer than the one the sign-in went to
        // is a mix-up between providers.
        if let Some(iss) = iss
            && iss.trim_end_matches('/') != p.issuer.as_str().trim_end_matches('/')
        {
            return Err(OidcError::Refused(format!(
                "the answer comes from issuer {iss}, not {}",
                p.issuer.as_str()
            )));
        }
        let nonce = Nonce::new(row.try_get("nonce")?);
        let verifier = PkceCodeVerifier::new(row.try_get("verifier")?);
        let back: String = row.try_get("back")?;
        let d = self.discover(p, redirect).await?;
        let tokens = d
            .client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| OidcError::Unreachable(e.to_string()))?
            .set_pkce_verifier(verifier)
            .request_async(self.http())
            .await
            .map_err(|e| OidcError::Refused(chain(&e)))?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| OidcError::InvalidIdToken("the token response has none".into()))?;
        let verifier = d.client.id_token_verifier();
        let claims: &CoreIdTokenClaims = id_token
            .claims(&verifier, &nonce)
            .map_err(|e| OidcError::InvalidIdToken(chain(&e)))?;
        // The access token must be the one the ID token was issued with, when it says so.
        if let Some(expected) = claims.access_token_hash() {
            let alg = id_token
                .signing_alg()
                .map_err(|e| OidcError::InvalidIdToken(chain(&e)))?;
            let key = id_token
                .signing_key(&verifier)
                .map_err(|e| OidcError::InvalidIdToken(chain(&e)))?;
            let actual = AccessTokenHash::from_token(tokens.access_token(), alg, key)
                .map_err(|e| OidcError::InvalidIdToken(chain(&e)))?;
            if actual != *expected {
                return Err(OidcError::InvalidIdToken(
                    "its at_hash does not match the access token".into(),
                ));
            }
        }
        let mut identity = Identity {
            provider: p.id.clone(),
            subject: claims.subject().as_str().to_string(),
            email: claims.email().map(|e| e.as_str().to_string()),
            email_verified: claims.email_verified().unwrap_or(false),
            name: full_name(
                claims
                    .given_name()
                    .and_then(|n| n.get(None))
                    .map(|n| n.as_str()),
                claims
                    .family_name()
                    .and_then(|n| n.get(None))
                    .map(|n| n.as_str()),
            ),
            id_token: id_token.to_string(),
        };
        // Some providers put the email in the user info only.
        if identity.email.is_none()
            && let Ok(request) = d.client.user_info(
                tokens.access_token().clone(),
                Some(claims.subject().clone()),
            )
        {
            let info: CoreUserInfoClaims = request
                .request_async(self.http())
                .await
                .map_err(|e| OidcError::Unreachable(chain(&e)))?;
            identity.email = info.email().map(|e| e.as_str().to_string());
            identity.email_verified = info.email_verified().unwrap_or(false);
            if identity.name.is_none() {
                identity.name = full_name(
                    info.given_name()
                        .and_then(|n| n.get(None))
                        .map(|n| n.as_str()),
                    info.family_name()
                        .and_then(|n| n.get(None))
                        .map(|n| n.as_str()),
                );
            }
        }
        Ok((identity, back))
    }

    /// Where to send the browser to end its session at `provider` too, if the provider says
    /// how (its `end_session_endpoint`), coming back to `after`.
    pub async fn logout_url(
        &self,
        provider: &str,
        id_token: &str,
        redirect: &str,
        after: &str,
    ) -> Option<url::Url> {
        let p = self.get(provider)?;
        let d = match self.discover(p, redirect).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(provider, error = %e, "provider logout skipped");
                return None;
            }
        };
        let mut url = d.end_session?;
        url.query_pairs_mut()
            .append_pair("id_token_hint", id_token)
            .append_pair("client_id", p.client_id.as_str())
            .append_pair("post_logout_redirect_uri", after);
        Some(url)
    }
}

fn full_name(given: Option<&str>, family: Option<&str>) -> Option<String> {
    let name = [given, family]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!name.is_empty()).then_some(name)
}

/// An error with its causes, for the logs (the crate's top error often says only "request
/// failed").
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}
