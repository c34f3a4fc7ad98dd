-- The airlock: the operator's waiting-room settings and the edge block list. Counters of a
-- running queue live in memory; nothing here grows with the number of waiting fans.
CREATE TABLE waiting_rooms (
    phase_id   BIGINT PRIMARY KEY REFERENCES phases (id),
    settings   TEXT    NOT NULL,
    seed_hex   TEXT    NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE edge_decisions (
    scope      TEXT    PRIMARY KEY,
    decision   TEXT    NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX edge_decisions_expiry ON edge_decisions (expires_at);
