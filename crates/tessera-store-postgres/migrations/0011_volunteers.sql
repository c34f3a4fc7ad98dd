-- The volunteer programme (tessera-volunteers): the coordinators' role, the programme,
-- applications, matching runs, offers, overrides and rosters.
ALTER TABLE accounts DROP CONSTRAINT accounts_role_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_role_check
    CHECK (role IN ('fan', 'operator', 'analyst', 'accreditation', 'vetting', 'desk', 'volunteers'));

-- One row: missions, venues, positions and policy as the domain writes them (text, not JSONB,
-- so that it reads back byte for byte as on SQLite), and the latest run, which a new run must
-- have been computed after (its compare-and-set; the row lock serialises runs).
CREATE TABLE volunteer_programme (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    json       TEXT    NOT NULL,
    last_run   BIGINT,
    updated_at BIGINT  NOT NULL
);

-- The application only sealed; in clear its state and the account that applied for itself.
CREATE TABLE volunteer_applications (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account      BIGINT UNIQUE,
    state        TEXT   NOT NULL CHECK (state IN ('submitted', 'offered', 'accepted', 'refused')),
    sealed       BYTEA  NOT NULL,
    submitted_at BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX volunteer_applications_by_state ON volunteer_applications (state);

CREATE TABLE volunteer_runs (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    by_whom   TEXT   NOT NULL,
    at        BIGINT NOT NULL,
    summary   TEXT   NOT NULL,
    proposals TEXT   NOT NULL
);

CREATE TABLE volunteer_offers (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run         BIGINT NOT NULL REFERENCES volunteer_runs (id),
    application BIGINT NOT NULL REFERENCES volunteer_applications (id),
    mission     TEXT   NOT NULL,
    venue       TEXT   NOT NULL,
    offered_at  BIGINT NOT NULL,
    deadline    BIGINT NOT NULL CHECK (deadline > offered_at),
    state       TEXT   NOT NULL CHECK (state IN ('offered', 'accepted', 'refused', 'withdrawn')),
    answered_at BIGINT
);
CREATE INDEX volunteer_offers_by_application ON volunteer_offers (application, id);

-- Audited: who, when and why, never edited; `run` is set once a forced assignment is carried out.
CREATE TABLE volunteer_overrides (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    application BIGINT NOT NULL REFERENCES volunteer_applications (id),
    action      TEXT   NOT NULL,
    by_whom     TEXT   NOT NULL,
    reason      TEXT   NOT NULL CHECK (reason <> ''),
    at          BIGINT NOT NULL,
    run         BIGINT REFERENCES volunteer_runs (id)
);

CREATE TABLE volunteer_rosters (
    id   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at   BIGINT NOT NULL,
    json TEXT   NOT NULL
);
