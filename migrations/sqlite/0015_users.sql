-- Users, roles, browser sessions and API tokens (SPEC §8, issue 16 item 2). Keep in step with
-- ../postgres/0015_users.sql; docs/users.md describes both.

-- A user. password_hash: the Argon2id PHC string (`$argon2id$v=19$m=…`), never the password.
-- role and language: the names `tracemark::app::users::Role` and `Language` store. A disabled
-- user cannot log in and their sessions and tokens stop working; a user is never deleted, so
-- the audit chain's names keep meaning someone.
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('operator', 'qa', 'integrator', 'admin')),
    password_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    language TEXT NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'zh-CN')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- A browser session. secret_sha256: SHA-256 (hex) of the cookie's secret, which is stored
-- nowhere; csrf: the token writes must send back (not a credential on its own).
CREATE TABLE user_sessions (
    secret_sha256 TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users (name),
    csrf TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX user_sessions_user ON user_sessions (user_name);

-- A bearer token for machines. token_sha256: SHA-256 (hex) of the token, which is printed once
-- and stored nowhere. expires_at: NULL for a token that does not expire. revoked: 1 for good.
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    user_name TEXT NOT NULL REFERENCES users (name),
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
);
CREATE INDEX api_tokens_user ON api_tokens (user_name);
