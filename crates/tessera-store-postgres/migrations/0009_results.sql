-- The results feed (tessera-results): each document's latest change, and the feed's epoch and
-- position, so that a node restarts with what it had published and numbers on from there.
CREATE TABLE result_feed (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    epoch BIGINT  NOT NULL,
    seq   BIGINT  NOT NULL
);
CREATE TABLE result_documents (
    doc_key TEXT   PRIMARY KEY,
    seq     BIGINT NOT NULL,
    change  TEXT   NOT NULL
);
CREATE INDEX result_documents_by_seq ON result_documents (seq);
