-- Identity is a stable id (`user:<users.id>` for an account and every token made for it,
-- `token:<tokens.id>` for a service token); names are labels. Rows written before this
-- migration named people by their display name (an email for accounts): each is resolved to
-- the account of that email, else to the oldest service token of that name, else kept as
-- `name:<name>` (readable by staff, owned by nobody).

-- A token's scope is a (plan, fund) pair; a NULL plan is a token created before scopes had
-- one (its fund in any plan) or a token for every plan.
ALTER TABLE tokens ADD COLUMN plan TEXT;

ALTER TABLE applications ADD COLUMN owner_id TEXT;
UPDATE applications SET owner_id = COALESCE(
    (SELECT 'user:' || u.id FROM users u WHERE u.email = applications.owner),
    (SELECT 'token:' || t.id FROM tokens t WHERE t.name = applications.owner AND t.user_id IS NULL ORDER BY t.created_at, t.id LIMIT 1),
    'name:' || applications.owner);
CREATE INDEX applications_owner_id ON applications (owner_id, id);

UPDATE participants SET actor = COALESCE(
    (SELECT 'user:' || u.id FROM users u WHERE u.email = participants.actor),
    (SELECT 'token:' || t.id FROM tokens t WHERE t.name = participants.actor AND t.user_id IS NULL ORDER BY t.created_at, t.id LIMIT 1),
    'name:' || participants.actor);

UPDATE opinions SET reviewer = COALESCE(
    (SELECT 'user:' || u.id FROM users u WHERE u.email = opinions.reviewer),
    (SELECT 'token:' || t.id FROM tokens t WHERE t.name = opinions.reviewer AND t.user_id IS NULL ORDER BY t.created_at, t.id LIMIT 1),
    'name:' || opinions.reviewer);

-- Replies were keyed by display name: two principals of one name shared them.
DELETE FROM idempotency;

-- An applicant key (the fund's key field: a SIRET, or what `[fund.keys]` declares) belongs to
-- one principal, bound on first use; `metroplan applicant-key transfer` moves it.
CREATE TABLE applicant_keys (
    plan TEXT NOT NULL,
    fund TEXT NOT NULL,
    key TEXT NOT NULL,
    principal_id TEXT NOT NULL,
    bound_at TEXT NOT NULL,
    PRIMARY KEY (plan, fund, key)
);
CREATE INDEX applicant_keys_principal ON applicant_keys (principal_id);
-- Keys already used: bound to their first filer.
INSERT OR IGNORE INTO applicant_keys (plan, fund, key, principal_id, bound_at)
    SELECT plan, fund, applicant_key, owner_id, created_at FROM applications
    WHERE applicant_key IS NOT NULL ORDER BY created_at, id;
