#!/bin/sh
# The official postgres image's start-up contract, for the variables the dev StatefulSet sets:
# an empty PGDATA is initialised (POSTGRES_USER owns it, POSTGRES_DB is created), then postgres runs in
# the foreground listening on every address. SIGINT (the image's STOPSIGNAL) is a fast shutdown.
set -eu
: "${PGDATA:?PGDATA must name the data directory}"
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
if [ -n "${POSTGRES_PASSWORD:-}" ]; then
    auth=scram-sha-256
elif [ -n "${POSTGRES_HOST_AUTH_METHOD:-}" ]; then
    auth=$POSTGRES_HOST_AUTH_METHOD
else
    echo "postgres-entrypoint: set POSTGRES_PASSWORD, or POSTGRES_HOST_AUTH_METHOD (e.g. trust, dev only)" >&2
    exit 2
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    mkdir -p "$PGDATA"
    chmod 0700 "$PGDATA"
    pwfile=""
    if [ -n "${POSTGRES_PASSWORD:-}" ]; then
        pwfile=$(mktemp)
        printf '%s' "$POSTGRES_PASSWORD" > "$pwfile"
    fi
    initdb --pgdata="$PGDATA" --username="$POSTGRES_USER" --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host="$auth" ${pwfile:+--pwfile="$pwfile"}
    [ -n "$pwfile" ] && rm -f "$pwfile"
    echo "host all all all $auth" >> "$PGDATA/pg_hba.conf"
    if [ "$POSTGRES_DB" != postgres ]; then
        # Locally only (no TCP) while the database is created.
        pg_ctl --pgdata="$PGDATA" --options="-c listen_addresses=''" --wait start
        createdb --username="$POSTGRES_USER" "$POSTGRES_DB"
        pg_ctl --pgdata="$PGDATA" --mode=fast --wait stop
    fi
fi
exec postgres -D "$PGDATA" -c listen_addresses='*'
