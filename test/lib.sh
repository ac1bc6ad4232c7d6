# Shared by test/run and test/demo: a private PostgreSQL tree with this
# build installed in it, and throwaway clusters owned by the postgres user.
#
# Nothing here touches the system's PostgreSQL installation: the server
# binaries are copied into $HNSW_WORK/inst (PostgreSQL finds its share and
# lib directories relative to its binaries), and "make install DESTDIR="
# puts hnsw there.  So several checkouts can test at once.

PG_BINDIR_SYS=/usr/lib/postgresql/15/bin
PG_CONFIG_SYS=$PG_BINDIR_SYS/pg_config

# Create $HNSW_WORK, the private tree, and install the build into it.
hnsw_prepare_install() {
	HNSW_WORK=$(mktemp -d /tmp/hnsw.XXXXXX)
	chmod 755 "$HNSW_WORK"
	local libdir sharedir
	libdir=$($PG_CONFIG_SYS --pkglibdir)		# /usr/lib/postgresql/15/lib
	sharedir=$($PG_CONFIG_SYS --sharedir)		# /usr/share/postgresql/15
	mkdir -p "$HNSW_WORK/inst$(dirname "$(dirname "$libdir")")" "$HNSW_WORK/inst$(dirname "$sharedir")"
	cp -a "$(dirname "$libdir")" "$HNSW_WORK/inst$(dirname "$(dirname "$libdir")")/"
	cp -a "$sharedir" "$HNSW_WORK/inst$(dirname "$sharedir")/"
	make -s install PG_CONFIG=$PG_CONFIG_SYS DESTDIR="$HNSW_WORK/inst" >/dev/null
	PG_BIN=$HNSW_WORK/inst$PG_BINDIR_SYS
	PGXS_DIR=$HNSW_WORK/inst$libdir/pgxs
	# a copy of the sources the postgres user may read and write results in
	mkdir -p "$HNSW_WORK/src"
	tar --exclude=.git -cf - . | tar -xf - -C "$HNSW_WORK/src"
	chown -R postgres:postgres "$HNSW_WORK"
	export HNSW_WORK PG_BIN PGXS_DIR
}

# Build pgvector from the source tree $1 (a copy of it, so the tree stays
# as it was) and install it into the private tree; for side-by-side runs.
hnsw_install_pgvector() {
	local src=$1
	if [ -z "$src" ] || [ ! -f "$src/vector.control" ]; then
		echo "set PGVECTOR_SRC to a pgvector source tree" >&2
		return 1
	fi
	echo "== building pgvector from $src"
	cp -a "$src" "$HNSW_WORK/pgvector"
	make -s -C "$HNSW_WORK/pgvector" clean >/dev/null 2>&1
	make -s -C "$HNSW_WORK/pgvector" PG_CONFIG="$PG_CONFIG_SYS" >/dev/null &&
		make -s -C "$HNSW_WORK/pgvector" install DESTDIR="$HNSW_WORK/inst" \
			PG_CONFIG="$PG_CONFIG_SYS" >/dev/null
}

# Run a command as the postgres OS user with the private tree first on PATH.
as_postgres() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- env PATH="$PG_BIN:$PATH" "$@"
	else
		env PATH="$PG_BIN:$PATH" "$@"
	fi
}

# Pick a TCP port nothing listens on.
hnsw_free_port() {
	local port
	while :; do
		port=$((20000 + RANDOM % 20000))
		if ! (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
			echo "$port"
			return
		fi
	done
}

# Start a throwaway cluster in $HNSW_WORK/$1 on a free port; sets PGPORT, PGHOST.
hnsw_start_cluster() {
	local name=$1
	PGPORT=$(hnsw_free_port)
	PGHOST=$HNSW_WORK/$name.sock
	mkdir -p "$PGHOST"
	chown postgres:postgres "$PGHOST"
	as_postgres initdb -D "$HNSW_WORK/$name" -U postgres -A trust --no-sync >/dev/null
	cat >> "$HNSW_WORK/$name/postgresql.conf" <<CONF
port = $PGPORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PGHOST'
fsync = off
max_connections = 50
shared_buffers = 256MB
maintenance_work_mem = 512MB
CONF
	as_postgres pg_ctl -D "$HNSW_WORK/$name" -l "$HNSW_WORK/$name.log" -w start >/dev/null
	export PGPORT PGHOST PGUSER=postgres
}

hnsw_stop_cluster() {
	as_postgres pg_ctl -D "$HNSW_WORK/$1" -m immediate -w stop >/dev/null 2>&1 || true
}
