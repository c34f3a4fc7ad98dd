-- Accreditation (tessera-accreditation): its staff's three roles, the responsible
-- organisations, one row per accredited person, and the collection desks' hand-overs.
--
-- The roles widen the accounts' CHECK in place, as 0008 did and for the same reason (see
-- there); the migration runner bumps the schema version and checks that the edit took.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql, 'CHECK (role IN (''fan'', ''operator'', ''analyst''))',
                     'CHECK (role IN (''fan'', ''operator'', ''analyst'', ''accreditation'', ''vetting'', ''desk''))')
 WHERE type = 'table' AND name = 'accounts';
PRAGMA writable_schema = RESET;

-- An organisation's officers and quotas as the domain writes them: the store reads no field.
CREATE TABLE accreditation_orgs (
    code TEXT PRIMARY KEY,
    json TEXT NOT NULL
);

-- Personal data only sealed (`sealed`, `photo`); in clear only what is counted and searched.
CREATE TABLE accreditations (
    -- AUTOINCREMENT: an id goes on a card, and is never given to another person, even
    -- after a row is deleted.
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    org           TEXT    NOT NULL,
    category      TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    duplicate_key TEXT    NOT NULL,
    vetting       TEXT    NOT NULL,
    sealed        BLOB    NOT NULL,
    photo         BLOB,
    serial        INTEGER NOT NULL DEFAULT 0,
    version       INTEGER NOT NULL,
    submitted_at  INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
-- Listing an organisation's rows (by state or not) and a state's rows, in id order.
CREATE INDEX accreditations_by_org ON accreditations (org, state, id);
CREATE INDEX accreditations_by_state ON accreditations (state, id);
-- Reprinted cards, for the gates' revocation list (read once a second): few rows.
CREATE INDEX accreditations_reprinted ON accreditations (id) WHERE serial > 1;
-- The counts per organisation, category and state, from the index alone.
CREATE INDEX accreditations_by_category ON accreditations (org, category, state);
-- One live application per person: the states listed are `QUOTA_RELEASED_STATES`, and the
-- store's duplicate lookups repeat this condition word for word so that SQLite uses the index.
CREATE UNIQUE INDEX accreditations_live_duplicate ON accreditations (duplicate_key)
    WHERE state NOT IN ('refused', 'withdrawn', 'revoked');

-- The places each organisation holds per category (rows in a state not in
-- `QUOTA_RELEASED_STATES`). The quota check reads these instead of counting: an import's
-- chunks each hold every organisation's people, so counting them at each chunk would scan the
-- whole index every time. The store's writes keep them (`src/accreditation.rs`), not
-- triggers: inside the writer's savepoints, a trigger made each insert cost more as the file
-- grew (measured: 500,000 rows in 115 s instead of 10 s).
CREATE TABLE accreditation_places (
    org      TEXT    NOT NULL,
    category TEXT    NOT NULL,
    held     INTEGER NOT NULL CHECK (held >= 0),
    PRIMARY KEY (org, category)
);

-- One card (person, serial) is handed over once: a desk's sync sent twice keeps the first.
CREATE TABLE accreditation_hand_overs (
    person  INTEGER NOT NULL,
    serial  INTEGER NOT NULL,
    desk    TEXT    NOT NULL,
    at      INTEGER NOT NULL,
    by_whom TEXT    NOT NULL,
    flagged INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (person, serial)
);
