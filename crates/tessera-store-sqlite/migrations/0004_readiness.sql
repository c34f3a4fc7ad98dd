-- One row that the readiness check rewrites: proof that the store takes writes right now (a
-- full disk or a read-only database still answers reads). It writes `pad` too, as large as a big
-- purchase, so that a disk with room for a page but not for a sale reads as unready.
CREATE TABLE readiness (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at INTEGER NOT NULL,
    pad BLOB NOT NULL
);
