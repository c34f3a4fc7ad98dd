-- Revoked gates: a gate token issued at or before revoked_at_ms is refused at the edge.
CREATE TABLE gate_revocations (
    gate_id       TEXT   PRIMARY KEY,
    revoked_at_ms BIGINT NOT NULL,
    reason        TEXT   NOT NULL
);
