-- depends: 0005.ops_alerts
-- A read-only group role for SQL analysts: catalog and analytics, nothing else, no writes.
-- Logins join it; the login name and password are settings applied by `recsys migrate`.
do $$
begin
    if not exists (select from pg_roles where rolname = 'analyst') then
        create role analyst nologin;
    end if;
end
$$;

grant usage on schema catalog, analytics to analyst;
grant select on all tables in schema catalog, analytics to analyst;
alter default privileges in schema catalog, analytics grant select on tables to analyst;
revoke all on schema model, ops from analyst;
alter role analyst set default_transaction_read_only = on;
