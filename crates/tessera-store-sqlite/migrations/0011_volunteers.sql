-- The volunteer programme (tessera-volunteers): the coordinators' role, the programme,
-- applications, matching runs, offers, overrides and rosters.
--
-- The role widens the accounts' CHECK in place, as 0008 and 0010 did and for the same reason
-- (see 0008); the migration runner bumps the schema version and checks that the edit took.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql, '''accreditation'', ''vetting'', ''desk''))',
                     '''accreditation'', ''vetting'', ''desk'', ''volunteers''))')
 WHERE type = 'table' AND name = 'accounts';
PRAGMA writable_schema = RESET;

-- One row: missions, venues, positions and policy as the domain writes them, and the latest
-- run, which a new run must have been computed after (its compare-and-set).
CREATE TABLE volunteer_programme (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    json       TEXT    NOT NULL,
    last_run   INTEGER,
    updated_at INTEGER NOT NULL
);

-- The application only sealed; in clear its state and the account that applied for itself.
CREATE TABLE volunteer_applications (
    -- AUTOINCREMENT: the id is the applicant's number in every run and offer, never reused.
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    account      INTEGER UNIQUE,
    state        TEXT    NOT NULL CHECK (state IN ('submitted', 'offered', 'accepted', 'refused')),
    sealed       BLOB    NOT NULL,
    submitted_at INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX volunteer_applications_by_state ON volunteer_applications (state);

CREATE TABLE volunteer_runs (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    by_whom   TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    summary   TEXT    NOT NULL,
    proposals TEXT    NOT NULL
);

CREATE TABLE volunteer_offers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run         INTEGER NOT NULL REFERENCES volunteer_runs (id),
    application INTEGER NOT NULL REFERENCES volunteer_applications (id),
    mission     TEXT    NOT NULL,
    venue       TEXT    NOT NULL,
    offered_at  INTEGER NOT NULL,
    deadline    INTEGER NOT NULL CHECK (deadline > offered_at),
    state       TEXT    NOT NULL CHECK (state IN ('offered', 'accepted', 'refused', 'withdrawn')),
    answered_at INTEGER
);
CREATE INDEX volunteer_offers_by_application ON volunteer_offers (application, id);

-- Audited: who, when and why, never edited; `run` is set once a forced assignment is carried out.
CREATE TABLE volunteer_overrides (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    application INTEGER NOT NULL REFERENCES volunteer_applications (id),
    action      TEXT    NOT NULL,
    by_whom     TEXT    NOT NULL,
    reason      TEXT    NOT NULL CHECK (reason <> ''),
    at          INTEGER NOT NULL,
    run         INTEGER REFERENCES volunteer_runs (id)
);

CREATE TABLE volunteer_rosters (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    at   INTEGER NOT NULL,
    json TEXT    NOT NULL
);
