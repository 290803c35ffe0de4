-- People: staff created by `metroplan user create`, applicants who register. Tokens belong to them.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    fund TEXT,
    siret TEXT,
    -- argon2id, PHC string.
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- A signed-in browser: the cookie holds a secret whose SHA-256 is the id.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    csrf TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Failed sign-ins by email, for the throttle.
CREATE TABLE login_failures (
    email TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    first_at TEXT NOT NULL,
    locked_until TEXT
);

ALTER TABLE tokens ADD COLUMN user_id TEXT REFERENCES users (id);
