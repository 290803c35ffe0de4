-- OpenID Connect sign-in (issue 19). A sign-in under way: the `state` sent to the provider
-- (kept hashed), with the nonce and PKCE verifier it must come back to; used once.
CREATE TABLE oidc_logins (
    state_hash TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    nonce TEXT NOT NULL,
    verifier TEXT NOT NULL,
    back TEXT NOT NULL,
    created_at TEXT NOT NULL
);
-- An identity at a provider (its stable `sub`), linked to one account: by the verified email
-- the provider asserted, or by an administrator.
CREATE TABLE oidc_identities (
    provider TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    linked_at TEXT NOT NULL,
    linked_by TEXT NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX oidc_identities_user ON oidc_identities (user_id);
-- A session opened through a provider keeps its ID token, to end the provider's session too
-- at sign-out (RP-initiated logout).
ALTER TABLE sessions ADD COLUMN oidc_provider TEXT;
ALTER TABLE sessions ADD COLUMN id_token TEXT;
