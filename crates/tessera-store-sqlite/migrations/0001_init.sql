-- Tessera schema, SQLite flavour. Times are Unix seconds (UTC), money is integer cents.
CREATE TABLE accounts (
    id               INTEGER PRIMARY KEY,
    email            TEXT    NOT NULL UNIQUE,
    password_hash    TEXT    NOT NULL,
    display_name     TEXT    NOT NULL,
    role             TEXT    NOT NULL CHECK (role IN ('fan', 'operator')),
    email_verified   INTEGER NOT NULL DEFAULT 0,
    credential_epoch INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL
);

CREATE TABLE auth_sessions (
    id         TEXT    PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX auth_sessions_account ON auth_sessions (account_id);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    to_addr         TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER,
    sent_at         INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE sent_at IS NULL;
CREATE INDEX outbox_to ON outbox (to_addr);

CREATE TABLE venues (
    id       INTEGER PRIMARY KEY,
    code     TEXT    NOT NULL UNIQUE,
    name     TEXT    NOT NULL,
    city     TEXT    NOT NULL,
    capacity INTEGER NOT NULL CHECK (capacity > 0),
    zones    TEXT    NOT NULL
);

CREATE TABLE sessions (
    id        INTEGER PRIMARY KEY,
    code      TEXT    NOT NULL UNIQUE,
    sport     TEXT    NOT NULL,
    title     TEXT    NOT NULL,
    venue_id  INTEGER NOT NULL REFERENCES venues (id),
    starts_at INTEGER NOT NULL,
    ends_at   INTEGER NOT NULL,
    ceremony  INTEGER NOT NULL
);
CREATE INDEX sessions_start ON sessions (starts_at);

CREATE TABLE categories (
    id          INTEGER PRIMARY KEY,
    session_id  INTEGER NOT NULL REFERENCES sessions (id),
    code        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
    quota       INTEGER NOT NULL CHECK (quota > 0),
    held        INTEGER NOT NULL DEFAULT 0,
    sold        INTEGER NOT NULL DEFAULT 0,
    UNIQUE (session_id, code),
    -- The last line of defence against overselling: no code path can commit past the quota.
    CHECK (held >= 0 AND sold >= 0 AND held + sold <= quota)
);

CREATE TABLE phases (
    id                     INTEGER PRIMARY KEY,
    code                   TEXT    NOT NULL UNIQUE,
    name                   TEXT    NOT NULL,
    status                 TEXT    NOT NULL,
    per_account            INTEGER NOT NULL,
    per_session            INTEGER NOT NULL,
    per_ceremony           INTEGER NOT NULL,
    min_sessions           INTEGER NOT NULL,
    cart_ttl_secs          INTEGER NOT NULL,
    slot_secs              INTEGER NOT NULL,
    wave_size              INTEGER NOT NULL,
    wave_interval_secs     INTEGER NOT NULL,
    announce_ahead_secs    INTEGER NOT NULL,
    winners                INTEGER,
    seed_hex               TEXT,
    seed_sha256            TEXT,
    entries_sha256         TEXT,
    registration_opened_at INTEGER,
    registration_closed_at INTEGER,
    drawn_at               INTEGER,
    -- Kept by enter_lottery, so that reading a phase never counts its (millions of) entries.
    entry_count            INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE entries (
    phase_id   INTEGER NOT NULL REFERENCES phases (id),
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    entry_code TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (phase_id, account_id),
    UNIQUE (phase_id, entry_code)
);

CREATE TABLE slots (
    phase_id   INTEGER NOT NULL REFERENCES phases (id),
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    rank       INTEGER NOT NULL,
    wave       INTEGER NOT NULL,
    starts_at  INTEGER NOT NULL,
    ends_at    INTEGER NOT NULL,
    PRIMARY KEY (phase_id, account_id)
);

CREATE TABLE carts (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    phase_id   INTEGER NOT NULL REFERENCES phases (id),
    status     TEXT    NOT NULL CHECK (status IN ('open', 'paying', 'paid', 'expired')),
    created_at INTEGER NOT NULL,
    -- When the hold ends; during payment it is pushed to the payment window's end.
    expires_at INTEGER NOT NULL,
    -- The hold's own end, restored when a payment attempt ends without an order.
    hold_until INTEGER NOT NULL
);
CREATE INDEX carts_live ON carts (expires_at) WHERE status IN ('open', 'paying');
CREATE INDEX carts_account ON carts (account_id, phase_id, status);

CREATE TABLE cart_items (
    cart_id     INTEGER NOT NULL REFERENCES carts (id),
    category_id INTEGER NOT NULL REFERENCES categories (id),
    session_id  INTEGER NOT NULL REFERENCES sessions (id),
    qty         INTEGER NOT NULL CHECK (qty > 0),
    PRIMARY KEY (cart_id, category_id)
);

CREATE TABLE orders (
    id          INTEGER PRIMARY KEY,
    code        TEXT    NOT NULL UNIQUE,
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    phase_id    INTEGER NOT NULL REFERENCES phases (id),
    -- No cart for a buy-now order.
    cart_id     INTEGER UNIQUE REFERENCES carts (id),
    total_cents INTEGER NOT NULL,
    payment_ref TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX orders_account ON orders (account_id);

CREATE TABLE tickets (
    id          INTEGER PRIMARY KEY,
    code        TEXT    NOT NULL UNIQUE,
    order_id    INTEGER NOT NULL REFERENCES orders (id),
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    category_id INTEGER NOT NULL REFERENCES categories (id),
    session_id  INTEGER NOT NULL REFERENCES sessions (id),
    price_cents INTEGER NOT NULL,
    status      TEXT    NOT NULL DEFAULT 'valid'
);
CREATE INDEX tickets_account ON tickets (account_id, session_id);
CREATE INDEX tickets_order ON tickets (order_id);

CREATE TABLE idempotency (
    account_id    INTEGER NOT NULL REFERENCES accounts (id),
    key           TEXT    NOT NULL,
    request_hash  TEXT    NOT NULL,
    -- No cart for a buy-now purchase.
    cart_id       INTEGER REFERENCES carts (id),
    state         TEXT    NOT NULL CHECK (state IN ('pending', 'paid', 'failed')),
    order_id      INTEGER REFERENCES orders (id),
    error_status  INTEGER,
    error_code    TEXT,
    error_message TEXT,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (account_id, key)
);
CREATE INDEX idempotency_cart ON idempotency (cart_id);
