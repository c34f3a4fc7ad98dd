-- A third role, the security analyst: the SOC console and nothing else.
ALTER TABLE accounts DROP CONSTRAINT accounts_role_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_role_check CHECK (role IN ('fan', 'operator', 'analyst'));
