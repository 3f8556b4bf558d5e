-- depends: 0019.audit
-- Listeners' sign-in names and password hashes (the player's sign-up and sign-in in token
-- mode, docs/security.md). A schema of its own that the analyst role has no grant on: the
-- hashes are never readable by analysts. A listener may have no login (the demo world's,
-- an identity provider's listeners).
create schema if not exists identity;

create table identity.listener_logins (
    user_id        text primary key references catalog.users (id) on delete cascade,
    username       text not null,
    password_hash  text not null check (password_hash like '$argon2id$%'),
    created_at     timestamptz not null default now(),
    signed_in_at   timestamptz
);

-- sign-in names are unique whatever their case: "Ana" and "ana" are one name
create unique index listener_logins_username on identity.listener_logins (lower(username));

comment on table identity.listener_logins is
    'Sign-in name and Argon2id password hash of each listener who signed up with a password.';
comment on column identity.listener_logins.password_hash is
    'Argon2id hash in PHC format (argon2-cffi); rehashed at sign-in when the parameters grow.';
