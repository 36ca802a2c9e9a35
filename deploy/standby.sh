#!/bin/sh
# The standby's entrypoint: on first start, clone the primary with pg_basebackup -R (which
# writes primary_conninfo and standby.signal), then hand over to the postgres image's own
# entrypoint, which finds the data there and starts a hot standby streaming from the primary.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    PGPASSWORD="$REPLICATION_PASSWORD" gosu postgres pg_basebackup \
        --host=primary --username=replicator --pgdata="$PGDATA" \
        --write-recovery-conf --wal-method=stream --checkpoint=fast
fi
exec docker-entrypoint.sh postgres -c hot_standby=on
