-- Workflow language v2: the ledger becomes append-only entries, declarations of interest are
-- kept, opinions say whether they are favourable, and time moves files (timers, reminders).

-- Every commitment, decommitment, payment and reclaim is an entry; none is changed or
-- deleted. A file's and a year's amounts are sums of entries; the `ledger` row of a year
-- stays the lock and running total that the envelope check's one statement reads.
CREATE TABLE ledger_entries (
    id BIGSERIAL PRIMARY KEY,
    plan TEXT NOT NULL,
    fund TEXT NOT NULL,
    year BIGINT NOT NULL,
    application_id TEXT NOT NULL REFERENCES applications (id),
    kind TEXT NOT NULL CHECK (kind IN ('commit', 'decommit', 'payment', 'reclaim')),
    cents BIGINT NOT NULL CHECK (cents > 0),
    at TEXT NOT NULL,
    action TEXT NOT NULL
);
CREATE INDEX ledger_entries_application ON ledger_entries (application_id);
CREATE INDEX ledger_entries_year ON ledger_entries (plan, fund, year);

-- What the ledger held before: one commitment and one payment per file.
INSERT INTO ledger_entries (plan, fund, year, application_id, kind, cents, at, action)
    SELECT plan, fund, COALESCE(call_year, 0), id, 'commit', awarded_cents, COALESCE(decided_on, updated_at), 'migration'
    FROM applications WHERE awarded_cents IS NOT NULL AND awarded_cents > 0;
INSERT INTO ledger_entries (plan, fund, year, application_id, kind, cents, at, action)
    SELECT plan, fund, COALESCE(call_year, 0), id, 'payment', paid_cents, updated_at, 'migration'
    FROM applications WHERE paid_cents > 0;

-- A reviewer's declared link of interest: final, shown to staff.
CREATE TABLE declarations (
    application_id TEXT NOT NULL REFERENCES applications (id),
    reviewer TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (application_id, reviewer)
);

-- Whether the opinion is favourable. Opinions given before opinions said so counted toward
-- the decision as given: they keep that meaning (favourable), so a file in committee at the
-- upgrade is not refused its proposal.
ALTER TABLE opinions ADD COLUMN favourable BIGINT;
UPDATE opinions SET favourable = 1;

-- The day a file entered its current state, and the first day it entered each state.
ALTER TABLE applications ADD COLUMN entered_on TEXT;
CREATE TABLE state_entries (
    application_id TEXT NOT NULL REFERENCES applications (id),
    state TEXT NOT NULL,
    entered_on TEXT NOT NULL,
    PRIMARY KEY (application_id, state)
);

-- What time will do to a file: a timed transition or a reminder, due on a day of the plan's
-- time zone. `done_at` is set once, by the one process whose conditional update wins.
CREATE TABLE timers (
    application_id TEXT NOT NULL REFERENCES applications (id),
    kind TEXT NOT NULL CHECK (kind IN ('transition', 'reminder')),
    name TEXT NOT NULL,
    due_on TEXT NOT NULL,
    done_at TEXT,
    PRIMARY KEY (application_id, kind, name, due_on)
);
CREATE INDEX timers_due ON timers (due_on) WHERE done_at IS NULL;
