-- Links sent by email (issue 19): a password reset, an address confirmed at registration.
-- Only the secret's hash is kept; a link is used once and expires.
CREATE TABLE email_links (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    purpose TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
CREATE INDEX email_links_user ON email_links (user_id, purpose);
-- The account messages sent to an address within the hour are counted before each new one.
CREATE INDEX outbox_recipient ON outbox (recipient, created_at);
-- An applicant who registers is confirmed by the link sent to the address; accounts made
-- before, and those an administrator makes, are confirmed when made.
ALTER TABLE users ADD COLUMN email_confirmed_at TEXT;
UPDATE users SET email_confirmed_at = created_at;
