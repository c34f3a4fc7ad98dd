-- Tessera schema, PostgreSQL flavour. Times are Unix seconds (UTC), money is integer cents.
-- The tables, constraints and meanings are those of the SQLite store; only the types differ.
-- Code-like text columns use the "C" collation so that they sort byte-wise, as SQLite's
-- BINARY does, whatever the database's locale: both backends must list in the same order.
CREATE TABLE accounts (
    id               BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email            TEXT    COLLATE "C" NOT NULL UNIQUE,
    password_hash    TEXT    NOT NULL,
    display_name     TEXT    NOT NULL,
    role             TEXT    NOT NULL CHECK (role IN ('fan', 'operator')),
    email_verified   BOOLEAN NOT NULL DEFAULT FALSE,
    credential_epoch BIGINT  NOT NULL DEFAULT 0,
    created_at       BIGINT  NOT NULL
);

CREATE TABLE auth_sessions (
    id         TEXT   COLLATE "C" PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX auth_sessions_account ON auth_sessions (account_id);

CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    to_addr         TEXT   COLLATE "C" NOT NULL,
    subject         TEXT   NOT NULL,
    body            TEXT   NOT NULL,
    created_at      BIGINT NOT NULL,
    next_attempt_at BIGINT,
    sent_at         BIGINT,
    attempts        BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE sent_at IS NULL;
CREATE INDEX outbox_to ON outbox (to_addr);

CREATE TABLE venues (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code     TEXT   COLLATE "C" NOT NULL UNIQUE,
    name     TEXT   NOT NULL,
    city     TEXT   NOT NULL,
    capacity BIGINT NOT NULL CHECK (capacity > 0),
    -- One zone per line, as in SQLite, so that a venue reads back identically from both.
    zones    TEXT   NOT NULL
);

CREATE TABLE sessions (
    id        BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code      TEXT    COLLATE "C" NOT NULL UNIQUE,
    sport     TEXT    NOT NULL,
    title     TEXT    NOT NULL,
    venue_id  BIGINT  NOT NULL REFERENCES venues (id),
    starts_at BIGINT  NOT NULL,
    ends_at   BIGINT  NOT NULL,
    ceremony  BOOLEAN NOT NULL
);
CREATE INDEX sessions_start ON sessions (starts_at, code);
CREATE INDEX sessions_venue ON sessions (venue_id);

CREATE TABLE categories (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id  BIGINT NOT NULL REFERENCES sessions (id),
    code        TEXT   COLLATE "C" NOT NULL,
    name        TEXT   NOT NULL,
    price_cents BIGINT NOT NULL CHECK (price_cents >= 0),
    quota       BIGINT NOT NULL CHECK (quota > 0),
    held        BIGINT NOT NULL DEFAULT 0,
    sold        BIGINT NOT NULL DEFAULT 0,
    UNIQUE (session_id, code),
    -- The last line of defence against overselling: no code path can commit past the quota.
    CHECK (held >= 0 AND sold >= 0 AND held + sold <= quota)
);

CREATE TABLE phases (
    id                     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code                   TEXT   COLLATE "C" NOT NULL UNIQUE,
    name                   TEXT   NOT NULL,
    status                 TEXT   NOT NULL,
    per_account            BIGINT NOT NULL,
    per_session            BIGINT NOT NULL,
    per_ceremony           BIGINT NOT NULL,
    min_sessions           BIGINT NOT NULL,
    cart_ttl_secs          BIGINT NOT NULL,
    slot_secs              BIGINT NOT NULL,
    wave_size              BIGINT NOT NULL,
    wave_interval_secs     BIGINT NOT NULL,
    announce_ahead_secs    BIGINT NOT NULL,
    winners                BIGINT,
    seed_hex               TEXT,
    seed_sha256            TEXT,
    entries_sha256         TEXT,
    registration_opened_at BIGINT,
    registration_closed_at BIGINT,
    drawn_at               BIGINT,
    -- Kept by enter_lottery, so that reading a phase never counts its (millions of) entries.
    entry_count            BIGINT  NOT NULL DEFAULT 0
);

CREATE TABLE entries (
    phase_id   BIGINT NOT NULL REFERENCES phases (id),
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    entry_code TEXT   COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (phase_id, account_id),
    UNIQUE (phase_id, entry_code)
);

CREATE TABLE slots (
    phase_id   BIGINT NOT NULL REFERENCES phases (id),
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    rank       BIGINT NOT NULL,
    wave       BIGINT NOT NULL,
    starts_at  BIGINT NOT NULL,
    ends_at    BIGINT NOT NULL,
    PRIMARY KEY (phase_id, account_id)
);

CREATE TABLE carts (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    phase_id   BIGINT NOT NULL REFERENCES phases (id),
    status     TEXT   NOT NULL CHECK (status IN ('open', 'paying', 'paid', 'expired')),
    created_at BIGINT NOT NULL,
    -- When the hold ends; during payment it is pushed to the payment window's end.
    expires_at BIGINT NOT NULL,
    -- The hold's own end, restored when a payment attempt ends without an order.
    hold_until BIGINT NOT NULL
);
CREATE INDEX carts_live ON carts (expires_at) WHERE status IN ('open', 'paying');
CREATE INDEX carts_account ON carts (account_id, phase_id, status);

CREATE TABLE cart_items (
    cart_id     BIGINT NOT NULL REFERENCES carts (id),
    category_id BIGINT NOT NULL REFERENCES categories (id),
    session_id  BIGINT NOT NULL REFERENCES sessions (id),
    qty         BIGINT NOT NULL CHECK (qty > 0),
    PRIMARY KEY (cart_id, category_id)
);
-- A sold-out reservation looks for the expired carts holding its category.
CREATE INDEX cart_items_category ON cart_items (category_id);

CREATE TABLE orders (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        TEXT   COLLATE "C" NOT NULL UNIQUE,
    account_id  BIGINT NOT NULL REFERENCES accounts (id),
    phase_id    BIGINT NOT NULL REFERENCES phases (id),
    -- No cart for a buy-now order.
    cart_id     BIGINT UNIQUE REFERENCES carts (id),
    total_cents BIGINT NOT NULL,
    payment_ref TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX orders_account ON orders (account_id);

CREATE TABLE tickets (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        TEXT   COLLATE "C" NOT NULL UNIQUE,
    order_id    BIGINT NOT NULL REFERENCES orders (id),
    account_id  BIGINT NOT NULL REFERENCES accounts (id),
    category_id BIGINT NOT NULL REFERENCES categories (id),
    session_id  BIGINT NOT NULL REFERENCES sessions (id),
    price_cents BIGINT NOT NULL,
    status      TEXT   NOT NULL DEFAULT 'valid'
);
CREATE INDEX tickets_account ON tickets (account_id, session_id);
CREATE INDEX tickets_order ON tickets (order_id);

CREATE TABLE idempotency (
    account_id    BIGINT  NOT NULL REFERENCES accounts (id),
    key           TEXT    COLLATE "C" NOT NULL,
    request_hash  TEXT    NOT NULL,
    -- No cart for a buy-now purchase.
    cart_id       BIGINT REFERENCES carts (id),
    state         TEXT    NOT NULL CHECK (state IN ('pending', 'paid', 'failed')),
    order_id      BIGINT  REFERENCES orders (id),
    error_status  INTEGER,
    error_code    TEXT,
    error_message TEXT,
    created_at    BIGINT  NOT NULL,
    PRIMARY KEY (account_id, key)
);
CREATE INDEX idempotency_cart ON idempotency (cart_id);
