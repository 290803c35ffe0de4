-- Access that ends (issue 19): a token revoked stops authenticating; a disabled account
-- can no longer sign in, its sessions end and its tokens stop too. Rows stay, for the audit
-- trail that names them.
ALTER TABLE tokens ADD COLUMN revoked_at TEXT;
ALTER TABLE users ADD COLUMN disabled_at TEXT;
