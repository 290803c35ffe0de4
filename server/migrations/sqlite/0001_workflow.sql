-- Applications, their workflow, the envelope ledger and the audit chain.
-- Money is in cents (INTEGER): exact, and the envelope check is one conditional UPDATE.
CREATE TABLE applications (
    id TEXT PRIMARY KEY,
    plan TEXT NOT NULL,
    fund TEXT NOT NULL,
    call_year INTEGER,
    applicant_key TEXT,
    applicant_name TEXT,
    title TEXT,
    state TEXT NOT NULL,
    version INTEGER NOT NULL,
    owner TEXT NOT NULL,
    owner_email TEXT,
    data TEXT NOT NULL,
    requested_cents INTEGER,
    awarded_cents INTEGER,
    paid_cents INTEGER NOT NULL DEFAULT 0,
    outcome TEXT,
    ruleset TEXT,
    evaluation TEXT,
    filed_on TEXT,
    deadline TEXT,
    final_report INTEGER NOT NULL DEFAULT 0,
    decided_on TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX applications_list ON applications (plan, fund, state, id);
CREATE INDEX applications_owner ON applications (owner, id);
CREATE INDEX applications_call ON applications (plan, fund, call_year, id);

-- One filing per applicant per call (article 6 of the demo fund): the database refuses a
-- second one even when two arrive at once.
CREATE TABLE filings (
    plan TEXT NOT NULL,
    fund TEXT NOT NULL,
    call_year INTEGER NOT NULL,
    applicant_key TEXT NOT NULL,
    application_id TEXT NOT NULL REFERENCES applications (id),
    PRIMARY KEY (plan, fund, call_year, applicant_key)
);

CREATE TABLE participants (
    application_id TEXT NOT NULL REFERENCES applications (id),
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (application_id, actor, kind)
);

CREATE TABLE opinions (
    application_id TEXT NOT NULL REFERENCES applications (id),
    reviewer TEXT NOT NULL,
    opinion TEXT NOT NULL,
    scores TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (application_id, reviewer)
);

CREATE TABLE documents (
    application_id TEXT NOT NULL REFERENCES applications (id),
    kind TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    file_name TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (application_id, kind)
);

CREATE TABLE ledger (
    plan TEXT NOT NULL,
    fund TEXT NOT NULL,
    year INTEGER NOT NULL,
    committed_cents INTEGER NOT NULL DEFAULT 0,
    paid_cents INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (plan, fund, year)
);

CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    fund TEXT,
    email TEXT,
    hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

-- Append-only; each row's hash covers the previous row's hash.
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    application_id TEXT,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    at TEXT NOT NULL,
    action TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT,
    payload TEXT NOT NULL,
    reason TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX events_application ON events (application_id, seq);

-- The head of the chain: a deleted last event no longer matches it.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, 'genesis');

CREATE TABLE idempotency (
    principal TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER,
    body TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (principal, key)
);

CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    application_id TEXT,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT
);
CREATE INDEX outbox_pending ON outbox (sent_at, next_attempt_at);
