-- 030_users_issuer: a user row is bound to the account it was made for,
-- the identity provider's (issuer, subject), and an email belongs to one
-- account. Before, sign-in found a row by the subject alone and
-- gave an address no protection: another account whose token carried the
-- same email got a row of its own with that email, and with it the email's
-- admin role.
--
-- DSQL (see 001_init.sql): ADD COLUMN without an inline constraint; the
-- UPDATE is DML on its own, in batches of 1,000 rows (sbx-migrate runs it
-- again until it changes none); plain CREATE UNIQUE INDEX (ASYNC on DSQL).
ALTER TABLE users ADD COLUMN IF NOT EXISTS oidc_iss text;

-- Rows made before this migration came from the configured issuer:
-- sbx-migrate binds $1 to OIDC_ISSUER, in the spelling users are bound to
-- (Google's legacy "accounts.google.com" as "https://accounts.google.com").
UPDATE users SET oidc_iss = $1
WHERE id IN (SELECT id FROM users WHERE oidc_iss IS NULL LIMIT 1000);

-- One row per email: a second account with an existing account's address
-- is refused (a unique violation) instead of getting a row of its own.
-- This fails when two rows already share an email (the defect above, used
-- before this migration): disable and delete the impostor's row, then run
-- sbx-migrate again.
CREATE UNIQUE INDEX IF NOT EXISTS users_email_key ON users (email);
