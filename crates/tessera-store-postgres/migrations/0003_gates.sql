-- Phone tickets and gates, PostgreSQL flavour: the tables and meanings of the SQLite store's
-- 0003. Gate times (`*_ms`) are Unix milliseconds as the gates' clocks gave them; everything
-- else is Unix seconds, as in 0001. Text that is sorted on uses the "C" collation, as in 0001.

-- Every credential ever issued; revoked ones stay, because gates must keep refusing them.
CREATE TABLE ticket_credentials (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id     BIGINT  NOT NULL REFERENCES tickets (id),
    -- The holder it was issued to: `max_issues` counts per ticket and holder.
    account_id    BIGINT  NOT NULL REFERENCES accounts (id),
    serial        BIGINT  NOT NULL,
    device_key    BYTEA   NOT NULL,
    key_id        BIGINT  NOT NULL,
    pass          BYTEA   NOT NULL,
    issued_at     BIGINT  NOT NULL,
    revoked_at    BIGINT,
    revoke_reason TEXT CHECK (revoke_reason IN ('reissued', 'transferred', 'resold', 'operator')),
    UNIQUE (ticket_id, serial)
);
-- One credential in force per ticket.
CREATE UNIQUE INDEX ticket_credentials_active ON ticket_credentials (ticket_id) WHERE revoked_at IS NULL;
CREATE INDEX ticket_credentials_holder ON ticket_credentials (ticket_id, account_id);

CREATE TABLE transfers (
    id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id    BIGINT  NOT NULL REFERENCES tickets (id),
    from_account BIGINT  NOT NULL REFERENCES accounts (id),
    to_account   BIGINT  NOT NULL REFERENCES accounts (id),
    status       TEXT    NOT NULL CHECK (status IN ('pending', 'accepted', 'cancelled')),
    created_at   BIGINT  NOT NULL,
    closed_at    BIGINT
);
CREATE UNIQUE INDEX transfers_pending ON transfers (ticket_id) WHERE status = 'pending';
CREATE INDEX transfers_from ON transfers (from_account) WHERE status = 'pending';
CREATE INDEX transfers_to ON transfers (to_account) WHERE status = 'pending';

CREATE TABLE resale_listings (
    id               BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id        BIGINT  NOT NULL REFERENCES tickets (id),
    seller           BIGINT  NOT NULL REFERENCES accounts (id),
    price_cents      BIGINT  NOT NULL CHECK (price_cents >= 0),
    buyer_fee_cents  BIGINT  NOT NULL CHECK (buyer_fee_cents >= 0),
    seller_fee_cents BIGINT  NOT NULL CHECK (seller_fee_cents >= 0),
    status           TEXT    NOT NULL CHECK (status IN ('open', 'sold', 'cancelled')),
    buyer            BIGINT  REFERENCES accounts (id),
    payment_ref      TEXT,
    created_at       BIGINT  NOT NULL,
    closed_at        BIGINT
);
CREATE UNIQUE INDEX resale_listings_open ON resale_listings (ticket_id) WHERE status = 'open';
CREATE INDEX resale_listings_by_age ON resale_listings (created_at, id) WHERE status = 'open';

-- What the gates report. No foreign key to tickets: a refused scan may name no ticket (0)
-- or one that does not exist, and a gate's report is recorded whatever it says.
CREATE TABLE gate_scans (
    id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    gate_id      TEXT    COLLATE "C" NOT NULL,
    device_seq   BIGINT  NOT NULL,
    ticket_id    BIGINT  NOT NULL,
    serial       BIGINT  NOT NULL,
    session_code TEXT    NOT NULL,
    entrance     TEXT    NOT NULL,
    admitted     BOOLEAN NOT NULL,
    reason       TEXT    COLLATE "C" NOT NULL,
    at_ms        BIGINT  NOT NULL,
    UNIQUE (gate_id, device_seq)
);
CREATE INDEX gate_scans_time ON gate_scans (at_ms);

-- The admission that stands, one per ticket: the earliest admitted scan since the last annulment.
CREATE TABLE ticket_entries (
    ticket_id BIGINT  PRIMARY KEY,
    scan_id   BIGINT  NOT NULL REFERENCES gate_scans (id)
);

CREATE TABLE security_events (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        TEXT    NOT NULL,
    ticket_id   BIGINT  NOT NULL,
    first_scan  BIGINT  NOT NULL REFERENCES gate_scans (id),
    second_scan BIGINT  NOT NULL REFERENCES gate_scans (id),
    created_at  BIGINT  NOT NULL
);

-- What the gates of a venue follow. Identities are handed out before commit, so writers of
-- one venue's feed take an advisory lock first (see `lock_feed`): a gate reading after a
-- sequence number must never see a smaller one appear later.
CREATE TABLE gate_feed (
    seq        BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    venue_code TEXT    COLLATE "C" NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('entered', 'annulled', 'revoked')),
    ticket_id  BIGINT  NOT NULL,
    serial     BIGINT  NOT NULL,
    gate_id    TEXT    NOT NULL,
    at_ms      BIGINT  NOT NULL,
    -- Why an operator annulled an entry; for the record, the gates do not need it.
    reason     TEXT
);
CREATE INDEX gate_feed_venue ON gate_feed (venue_code, seq);

CREATE TABLE gates (
    gate_id         TEXT    COLLATE "C" PRIMARY KEY,
    venue_code      TEXT    NOT NULL,
    entrance        TEXT    NOT NULL,
    last_sync_at_ms BIGINT  NOT NULL,
    admitted        BIGINT  NOT NULL DEFAULT 0,
    refused         BIGINT  NOT NULL DEFAULT 0
);

-- A holding's seat is its rank among its category's tickets.
CREATE INDEX tickets_category ON tickets (category_id, id);
