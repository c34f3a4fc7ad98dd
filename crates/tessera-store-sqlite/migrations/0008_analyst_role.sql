-- A third role, the security analyst: the SOC console and nothing else.
--
-- SQLite cannot alter a CHECK constraint, and rebuilding `accounts` (which thirteen tables
-- reference) would cascade. Widening an IN list changes nothing on disk, so the table's
-- definition is edited in place, the one schema change SQLite documents as safe this way
-- (https://sqlite.org/lang_altertable.html, "making other kinds of table schema changes");
-- the migration runner then bumps the schema version so that every connection re-reads it,
-- and checks that the edit took.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql, 'CHECK (role IN (''fan'', ''operator''))', 'CHECK (role IN (''fan'', ''operator'', ''analyst''))')
 WHERE type = 'table' AND name = 'accounts';
PRAGMA writable_schema = RESET;
