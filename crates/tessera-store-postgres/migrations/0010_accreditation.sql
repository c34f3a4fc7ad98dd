-- Accreditation (tessera-accreditation): its staff's three roles, the responsible
-- organisations, one row per accredited person, and the collection desks' hand-overs.
ALTER TABLE accounts DROP CONSTRAINT accounts_role_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_role_check
    CHECK (role IN ('fan', 'operator', 'analyst', 'accreditation', 'vetting', 'desk'));

-- An organisation's officers and quotas as the domain writes them: kept as text, not JSONB,
-- so that it reads back byte for byte as on SQLite.
CREATE TABLE accreditation_orgs (
    code TEXT COLLATE "C" PRIMARY KEY,
    json TEXT NOT NULL
);

-- Personal data only sealed (`sealed`, `photo`); in clear only what is counted and searched.
CREATE TABLE accreditations (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org           TEXT   COLLATE "C" NOT NULL,
    category      TEXT   COLLATE "C" NOT NULL,
    state         TEXT   COLLATE "C" NOT NULL,
    duplicate_key TEXT   COLLATE "C" NOT NULL,
    vetting       TEXT   NOT NULL,
    sealed        BYTEA  NOT NULL,
    photo         BYTEA,
    serial        BIGINT NOT NULL DEFAULT 0,
    version       BIGINT NOT NULL,
    submitted_at  BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
-- Listing an organisation's rows (by state or not) and a state's rows, in id order.
CREATE INDEX accreditations_by_org ON accreditations (org, state, id);
CREATE INDEX accreditations_by_state ON accreditations (state, id);
-- Reprinted cards, for the gates' revocation list (read once a second): few rows.
CREATE INDEX accreditations_reprinted ON accreditations (id) WHERE serial > 1;
-- The counts per organisation, category and state.
CREATE INDEX accreditations_by_category ON accreditations (org, category, state);
-- One live application per person: the states listed are `QUOTA_RELEASED_STATES`.
CREATE UNIQUE INDEX accreditations_live_duplicate ON accreditations (duplicate_key)
    WHERE state NOT IN ('refused', 'withdrawn', 'revoked');

-- The places each organisation holds per category (rows in a state not in
-- `QUOTA_RELEASED_STATES`), kept by the triggers below whatever writes the rows. The quota
-- check reads these instead of counting: an import's chunks each hold every organisation's
-- people, so counting them at each chunk would visit the whole table every time (measured:
-- 500,000 rows took over a minute, most of it counting).
CREATE TABLE accreditation_places (
    org      TEXT   COLLATE "C" NOT NULL,
    category TEXT   COLLATE "C" NOT NULL,
    held     BIGINT NOT NULL CHECK (held >= 0),
    PRIMARY KEY (org, category)
);
-- Once per statement, from its transition tables: a chunk of thousands of rows updates each
-- of its categories once. Every category a row is written in gets its counter row (at 0 if
-- need be), so that a change is an UPDATE: an INSERT of a negative change would break the
-- CHECK before ON CONFLICT could turn it into an update. An update that does not cross
-- between holding and released changes no counter (`HAVING`), so it locks none.
CREATE FUNCTION accreditation_places_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO accreditation_places AS p (org, category, held)
        SELECT org, category, COUNT(*) FILTER (WHERE state NOT IN ('refused', 'withdrawn', 'revoked'))
          FROM new_rows GROUP BY org, category
        ON CONFLICT (org, category) DO UPDATE SET held = p.held + excluded.held;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO accreditation_places (org, category, held)
        SELECT DISTINCT org, category, 0 FROM new_rows
        ON CONFLICT (org, category) DO NOTHING;
        UPDATE accreditation_places AS p SET held = p.held + d.n
          FROM (SELECT org, category, SUM(d) AS n FROM (
                    SELECT org, category, 1 AS d FROM new_rows
                     WHERE state NOT IN ('refused', 'withdrawn', 'revoked')
                    UNION ALL
                    SELECT org, category, -1 FROM old_rows
                     WHERE state NOT IN ('refused', 'withdrawn', 'revoked')
                ) AS c GROUP BY org, category HAVING SUM(d) <> 0) AS d
         WHERE p.org = d.org AND p.category = d.category;
    ELSE
        UPDATE accreditation_places AS p SET held = p.held - d.n
          FROM (SELECT org, category, COUNT(*) AS n FROM old_rows
                 WHERE state NOT IN ('refused', 'withdrawn', 'revoked') GROUP BY org, category) AS d
         WHERE p.org = d.org AND p.category = d.category;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER accreditation_places_insert AFTER INSERT ON accreditations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION accreditation_places_follow();
CREATE TRIGGER accreditation_places_update AFTER UPDATE ON accreditations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION accreditation_places_follow();
CREATE TRIGGER accreditation_places_delete AFTER DELETE ON accreditations
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION accreditation_places_follow();

-- One card (person, serial) is handed over once: a desk's sync sent twice keeps the first.
CREATE TABLE accreditation_hand_overs (
    person  BIGINT  NOT NULL,
    serial  BIGINT  NOT NULL,
    desk    TEXT    NOT NULL,
    at      BIGINT  NOT NULL,
    by_whom TEXT    NOT NULL,
    flagged BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (person, serial)
);
