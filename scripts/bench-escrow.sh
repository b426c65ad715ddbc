#!/usr/bin/env bash
# bench-escrow.sh: escrow movements per second (a hold, a confirm or a
# refund is one) against pgbench's TPC-B on the same PostgreSQL, in one run,
# with the same client count; then the latency at 80 % of each mode's peak.
#
# For each client count, each for DURATION seconds:
#   pgbench -b tpcb-like                 the baseline
#   inbound-bench escrow -modes uniform,hot,hot,uniform
#   pgbench -b tpcb-like                 again (mirrored order, as in bench-ledger.sh)
#   inbound-bench escrow -rate 0.8*peak           uniform, then hot
# Scratch databases are created and dropped; only 127.0.0.1 is accepted.
#
# Settings (environment):
#   BENCH_PG_HOST=127.0.0.1 BENCH_PG_PORT=5432 BENCH_PG_USER=postgres
#   BENCH_CLIENTS="32"  BENCH_DURATION=15  BENCH_SCALE=64
#   BENCH_VISITORS=2000 BENCH_MERCHANTS=1000 BENCH_SHARDS=16
set -euo pipefail

host=${BENCH_PG_HOST:-127.0.0.1}
port=${BENCH_PG_PORT:-5432}
user=${BENCH_PG_USER:-postgres}
clients=${BENCH_CLIENTS:-"32"}
duration=${BENCH_DURATION:-15}
scale=${BENCH_SCALE:-64}
visitors=${BENCH_VISITORS:-2000}
merchants=${BENCH_MERCHANTS:-1000}
shards=${BENCH_SHARDS:-16}

if [[ "$host" != "127.0.0.1" && "$host" != "localhost" ]]; then
	echo "bench-escrow: refusing to load $host; this benchmark targets a local server only" >&2
	exit 2
fi

cd "$(dirname "$0")/.."
export PGHOST=$host PGPORT=$port PGUSER=$user
pgdb=bench_pgbench_$$
escrowdb=bench_escrow_$$
work=$(mktemp -d)

cleanup() {
	psql -q -d postgres -c "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" >/dev/null 2>&1 || true
	psql -q -d postgres -c "DROP DATABASE IF EXISTS $escrowdb WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

echo "# $(date -u +%FT%TZ) $(psql -Atq -d postgres -c 'SHOW server_version') on $(nproc) cores;" \
	"clients: $clients; ${duration}s each; pgbench scale $scale; visitors $visitors, merchants $merchants, payable shards $shards"

go build -o "$work/inbound-bench" ./cmd/inbound-bench

psql -q -d postgres -c "CREATE DATABASE $pgdb"
timeout 600 pgbench -i -q -s "$scale" -I dtGvp "$pgdb" >"$work/pgbench-init.log" 2>&1

pgbench_tps() {
	psql -q -d "$pgdb" -c CHECKPOINT
	timeout $((duration + 120)) pgbench -c "$1" -j 2 -T "$duration" -b tpcb-like "$pgdb" 2>&1 |
		awk '/^tps = / { print $3 }'
}
mean_tps() { # mode file
	awk -v m="mode=$1" '$2 == m { for (i = 1; i <= NF; i++) if ($i ~ /^tps=/) { sub("tps=", "", $i); s += $i; n++ } }
		END { printf "%.1f", s / n }' "$2"
}
bench() { # clients out args...
	local c=$1 out=$2
	shift 2
	timeout $((6 * duration + 300)) "$work/inbound-bench" escrow \
		-db "postgres://$user@$host:$port/$escrowdb?sslmode=disable" \
		-clients "$c" -duration "${duration}s" -visitors "$visitors" -merchants "$merchants" -shards "$shards" \
		"$@" >>"$out" 2>>"$out.err" || { cat "$out.err" >&2; exit 1; }
}

printf '%-8s %12s %12s %12s %14s %12s\n' clients pgbench uniform hot uniform/pgb hot/uniform
for c in $clients; do
	psql -q -d postgres -c "DROP DATABASE IF EXISTS $escrowdb WITH (FORCE)" 2>/dev/null
	psql -q -d postgres -c "CREATE DATABASE $escrowdb"
	out="$work/escrow-$c.out"

	p1=$(pgbench_tps "$c")
	bench "$c" "$out" -modes uniform,hot,hot,uniform
	p2=$(pgbench_tps "$c")

	pgb=$(awk -v a="$p1" -v b="$p2" 'BEGIN { printf "%.1f", (a + b) / 2 }')
	uni=$(mean_tps uniform "$out")
	hot=$(mean_tps hot "$out")
	awk -v c="$c" -v p="$pgb" -v u="$uni" -v h="$hot" \
		'BEGIN { printf "%-8s %12.1f %12.1f %12.1f %14.2f %12.2f\n", c, p, u, h, u / p, h / u }'
	echo "    pgbench clients=$c tps=$p1 then tps=$p2"
	# Latency at 80 % of each mode's peak.
	bench "$c" "$out" -modes uniform -rate "$(awk -v u="$uni" 'BEGIN { printf "%.0f", 0.8 * u }')"
	bench "$c" "$out" -modes hot -rate "$(awk -v h="$hot" 'BEGIN { printf "%.0f", 0.8 * h }')"
	sed 's/^/    /' "$out"
	grep -h '^verify' "$out.err" | sed 's/^/    /'
done
