#!/usr/bin/env bash
# bench-seeded.sh: escrow movements/s and p50/p99 on an empty database and
# on one filled by `inbound seed`, in one run, same clients, same server
# (docs/BENCHMARKS.md, "Empty against seeded"). Order: empty, seeded,
# seeded, empty (mirrored, so drift of the shared machine cancels out), then
# the latency at 80 % of the seeded peak. The escrow benchmark adds its own visitors
# and merchants to each database; in the seeded one they sit among the
# seeded rows and share its indexes and hot accounts' tables. The seeded
# runs skip the escrow benchmark's closing verify (it reads every entry); run
# `inbound ledger verify` on the seeded database afterwards.
#
# Settings (environment):
#   BENCH_SEEDED_DB   name of the seeded database (required)
#   BENCH_PG_HOST=127.0.0.1 BENCH_PG_PORT=5432 BENCH_PG_USER=postgres
#   BENCH_CLIENTS=32 BENCH_DURATION=15 BENCH_VISITORS=2000 BENCH_MERCHANTS=1000
set -euo pipefail

seeded=${BENCH_SEEDED_DB:?set BENCH_SEEDED_DB to the seeded database}
host=${BENCH_PG_HOST:-127.0.0.1}
port=${BENCH_PG_PORT:-5432}
user=${BENCH_PG_USER:-postgres}
clients=${BENCH_CLIENTS:-32}
duration=${BENCH_DURATION:-15}
visitors=${BENCH_VISITORS:-2000}
merchants=${BENCH_MERCHANTS:-1000}

if [[ "$host" != "127.0.0.1" && "$host" != "localhost" ]]; then
	echo "bench-seeded: refusing to load $host; this benchmark targets a local server only" >&2
	exit 2
fi
cd "$(dirname "$0")/.."
export PGHOST=$host PGPORT=$port PGUSER=$user
empty=bench_empty_$$
work=$(mktemp -d)
cleanup() {
	psql -q -d postgres -c "DROP DATABASE IF EXISTS $empty WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

entries=$(psql -Atq -d "$seeded" -c "SELECT 2 * COUNT(*) FROM ledger_transfers")
echo "# $(date -u +%FT%TZ) $(psql -Atq -d postgres -c 'SHOW server_version') on $(nproc) cores (load average $(cut -d' ' -f1-3 /proc/loadavg));" \
	"clients $clients; ${duration}s per mode; escrow benchmark visitors $visitors, merchants $merchants; seeded: $seeded, $entries ledger entries"
go build -o "$work/inbound-bench" ./cmd/inbound-bench
psql -q -d postgres -c "CREATE DATABASE $empty"

bench() { # database label args...
	local dbname=$1 label=$2
	shift 2
	timeout $((4 * duration + 900)) "$work/inbound-bench" escrow -db "postgres://$user@$host:$port/$dbname?sslmode=disable" \
		-clients "$clients" -duration "${duration}s" -visitors "$visitors" -merchants "$merchants" "$@" \
		2>"$work/err" | sed "s/^/$label /" | tee -a "$work/all"
	grep -h '^verify\|^setup' "$work/err" | sed "s/^/$label     /"
}
bench "$empty" empty -modes uniform,hot
bench "$seeded" seeded -modes uniform,hot -verify=false
bench "$seeded" seeded -modes uniform,hot -verify=false
bench "$empty" empty -modes uniform,hot

mean() { # label mode
	awk -v l="$1" -v m="mode=$2" '$1 == l && $3 == m { for (i = 1; i <= NF; i++) if ($i ~ /^tps=/) { sub("tps=", "", $i); s += $i; n++ } }
		END { printf "%.1f", s / n }' "$work/all"
}
for m in uniform hot; do
	e=$(mean empty $m)
	s=$(mean seeded $m)
	awk -v m="$m" -v e="$e" -v s="$s" 'BEGIN { printf "mean %-8s empty %8.1f/s  seeded %8.1f/s  change %+.1f %%\n", m, e, s, 100 * (s - e) / e }'
done
peak=$(mean seeded uniform)
bench "$seeded" seeded-80%peak -verify=false -modes uniform -rate "$(awk -v p="$peak" 'BEGIN { printf "%.0f", 0.8 * p }')"
