#!/usr/bin/env bash
# bench-ledger.sh: the ledger's transfers per second against pgbench's
# TPC-B on the same PostgreSQL, in one run, with the same client counts.
#
# For each client count it runs, each for DURATION seconds and twice (see
# the run order below):
#   pgbench -b tpcb-like          the baseline (a bank transfer in SQL)
#   inbound-bench ledger -modes uniform    one-transfer batches between random
#                                 no-negative accounts
#   inbound-bench ledger -modes hot        the same, every transfer into one hot
#                                 (slotted) account
# and prints the figures and the ratios. Scratch databases are created and
# dropped on the server; only 127.0.0.1 is accepted.
#
# Settings (environment):
#   BENCH_PG_HOST=127.0.0.1 BENCH_PG_PORT=5432 BENCH_PG_USER=postgres
#   BENCH_CLIENTS="32 64"  BENCH_DURATION=20  BENCH_SCALE=64
#   BENCH_ACCOUNTS=10000   BENCH_SLOTS=64
set -euo pipefail

host=${BENCH_PG_HOST:-127.0.0.1}
port=${BENCH_PG_PORT:-5432}
user=${BENCH_PG_USER:-postgres}
clients=${BENCH_CLIENTS:-"32 64"}
duration=${BENCH_DURATION:-20}
scale=${BENCH_SCALE:-64} # pgbench advises scale >= clients: one branch row per client
accounts=${BENCH_ACCOUNTS:-10000}
slots=${BENCH_SLOTS:-64}

if [[ "$host" != "127.0.0.1" && "$host" != "localhost" ]]; then
	echo "bench-ledger: refusing to load $host; this benchmark targets a local server only" >&2
	exit 2
fi

cd "$(dirname "$0")/.."
export PGHOST=$host PGPORT=$port PGUSER=$user
pgdb=bench_pgbench_$$
ledgerdb=bench_ledger_$$
work=$(mktemp -d)

cleanup() {
	psql -q -d postgres -c "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" >/dev/null 2>&1 || true
	psql -q -d postgres -c "DROP DATABASE IF EXISTS $ledgerdb WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

echo "# $(date -u +%FT%TZ) $(psql -Atq -d postgres -c 'SHOW server_version') on $(nproc) cores;" \
	"clients: $clients; ${duration}s each; pgbench scale $scale; ledger accounts $accounts, hot slots $slots"

go build -o "$work/inbound-bench" ./cmd/inbound-bench

psql -q -d postgres -c "CREATE DATABASE $pgdb"
timeout 600 pgbench -i -q -s "$scale" -I dtGvp "$pgdb" >"$work/pgbench-init.log" 2>&1

# Run order per client count: pgbench, uniform, hot, hot, uniform, pgbench.
# Each figure is the mean of its two runs; the mirrored order cancels a
# steady drift in the machine's other load (it is shared).
pgbench_tps() {
	psql -q -d "$pgdb" -c CHECKPOINT
	timeout $((duration + 120)) pgbench -c "$1" -j 2 -T "$duration" -b tpcb-like "$pgdb" 2>&1 |
		awk '/^tps = / { print $3 }'
}
mean_tps() { # mode file
	awk -v m="mode=$1" '$2 == m { for (i = 1; i <= NF; i++) if ($i ~ /^tps=/) { sub("tps=", "", $i); s += $i; n++ } }
		END { printf "%.1f", s / n }' "$2"
}

printf '%-8s %12s %12s %12s %14s %12s\n' clients pgbench uniform hot uniform/pgb hot/uniform
for c in $clients; do
	# A fresh ledger database per client count, so each starts alike.
	psql -q -d postgres -c "DROP DATABASE IF EXISTS $ledgerdb WITH (FORCE)" 2>/dev/null
	psql -q -d postgres -c "CREATE DATABASE $ledgerdb"

	p1=$(pgbench_tps "$c")
	timeout $((4 * duration + 300)) "$work/inbound-bench" ledger \
		-db "postgres://$user@$host:$port/$ledgerdb?sslmode=disable" \
		-clients "$c" -duration "${duration}s" -accounts "$accounts" -slots "$slots" \
		-modes uniform,hot,hot,uniform >"$work/ledger-$c.out" 2>"$work/ledger-$c.err" ||
		{ cat "$work/ledger-$c.err" >&2; exit 1; }
	p2=$(pgbench_tps "$c")

	pgb=$(awk -v a="$p1" -v b="$p2" 'BEGIN { printf "%.1f", (a + b) / 2 }')
	uni=$(mean_tps uniform "$work/ledger-$c.out")
	hot=$(mean_tps hot "$work/ledger-$c.out")
	awk -v c="$c" -v p="$pgb" -v u="$uni" -v h="$hot" \
		'BEGIN { printf "%-8s %12.1f %12.1f %12.1f %14.2f %12.2f\n", c, p, u, h, u / p, h / u }'
	echo "    pgbench clients=$c tps=$p1 then tps=$p2"
	sed 's/^/    /' "$work/ledger-$c.out"
	grep -h '^verify' "$work/ledger-$c.err" | sed 's/^/    /'
done
