-- Plan roles (issue 16): which of a plan's `[[role]]`s a person or service takes on that plan's
-- files, for one fund or for every fund of the plan (`fund` NULL).
--
-- A table of grants rather than columns on `users` and `tokens`: one principal may hold several
-- roles in a plan, and in several plans. It is keyed by the principal's stable id (`user:<users.id>`,
-- `token:<tokens.id>`), never by a name: an account's grants hold for its sessions and for every
-- token made for it with `--user`, which share that id, without being copied to each token.
-- A principal with no grant in a plan takes every role of its kind there, as before this
-- migration, so the accounts and tokens that exist keep working.
CREATE TABLE role_grants (
    principal TEXT NOT NULL,
    plan TEXT NOT NULL,
    fund TEXT,
    role TEXT NOT NULL,
    created_at TEXT NOT NULL
);
-- One row per grant (a NULL fund is "every fund"), found by principal.
CREATE UNIQUE INDEX role_grants_key ON role_grants (principal, plan, COALESCE(fund, ''), role);

-- An account's scope is a (plan, fund) pair, as a token's is since 0003: a NULL plan is an
-- account created before scopes had one (its fund in any plan) or an account for every plan.
ALTER TABLE users ADD COLUMN plan TEXT;
