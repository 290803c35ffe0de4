-- Every piece uploaded, for the upload quotas (issue 19): a replaced piece stays in the
-- content store, since the audit trail names it, so each upload counts against the file's
-- and the uploader's allowance, replaced or not.
CREATE TABLE uploads (
    application_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    size BIGINT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX uploads_application ON uploads (application_id);
CREATE INDEX uploads_actor ON uploads (actor, created_at);
