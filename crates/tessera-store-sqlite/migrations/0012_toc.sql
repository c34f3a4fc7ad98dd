-- The operations centre (tessera-ops): the contingency switches' audit log, appended to and
-- never edited, and the incidents and rehearsal runs as the domain writes them.
CREATE TABLE toc_switches (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    mode     TEXT    NOT NULL,
    is_on    BOOLEAN NOT NULL,
    by_whom  TEXT    NOT NULL,
    why      TEXT    NOT NULL,
    incident BIGINT,
    at       BIGINT  NOT NULL
);
CREATE TABLE toc_documents (
    kind       TEXT    NOT NULL,
    doc_key    TEXT    NOT NULL,
    is_open    BOOLEAN NOT NULL,
    body       TEXT    NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (kind, doc_key)
);
CREATE INDEX toc_documents_by_update ON toc_documents (kind, is_open, updated_at);
