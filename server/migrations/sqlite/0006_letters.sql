-- The documents the administration issues (issue 17): receipts, decision letters, arrêtés,
-- conventions. Each is a PDF kept in the content store by its hash, like the pieces; this
-- row says which file it belongs to, which template made it, what it is called and the day
-- it is dated. Rows are never changed: a document issued stays what it was.
CREATE TABLE letters (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    application_id TEXT NOT NULL,
    template TEXT NOT NULL,
    title TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    issued_on TEXT NOT NULL,
    created_at TEXT NOT NULL,
    action TEXT NOT NULL
);
CREATE INDEX letters_application ON letters (application_id);
