#!/usr/bin/env bash
# EXPLAIN (ANALYZE, BUFFERS) of Inbound's hot queries on a database filled
# by `inbound seed`, as Markdown (docs/BENCHMARKS.md, "At 10 M ledger
# entries"). The statements are the ones the code sends (kyc, prepaid,
# ledger, escrow, audit, recon), with parameters picked from the seeded
# rows: a visitor in the middle of the history, the hottest accounts, a
# cursor deep in their statements. Exits 1 if a plan has a sequential scan
# on a hot path (reconciliation's whole-ledger checks are listed apart:
# they read everything by design).
#
#   scripts/seed-explain.sh 'postgres://postgres@127.0.0.1:5432/inbound_seed_1m?sslmode=disable'
set -euo pipefail
url=${1:?usage: scripts/seed-explain.sh POSTGRES_URL}
q() { psql "$url" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }

n=$(q "SELECT COUNT(*) FROM escrow_payments")
mid=$((n / 2))
ptn=$(q "SELECT partner_id FROM escrow_payments WHERE out_trade_no = 'seed-$mid' LIMIT 1")
vis=$(q "SELECT visitor_id FROM escrow_payments WHERE partner_id = '$ptn' AND out_trade_no = 'seed-$mid'")
pay=$(q "SELECT id FROM escrow_payments WHERE partner_id = '$ptn' AND out_trade_no = 'seed-$mid'")
idx=$(q "SELECT number_index FROM visitors WHERE id = '$vis'")
pa=$(q "SELECT id FROM prepaid_accounts WHERE visitor_id = '$vis'")
code="visitor:$vis:prepaid"
acct=$(q "SELECT id FROM ledger_accounts WHERE code = '$code'")
fxcny=$(q "SELECT id FROM ledger_accounts WHERE code = 'fx:CNY'")
fees=$(q "SELECT id FROM ledger_accounts WHERE code = 'revenue:fees'")
maxseq=$(q "SELECT MAX(seq) FROM ledger_transfers")
deep=$((maxseq / 10)) # 90 % of the history lies after this cursor
day=$(q "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM prepaid_loads WHERE id = (SELECT reference FROM network_calls WHERE card_id = (SELECT id FROM cards WHERE visitor_id = '$vis') LIMIT 1)")
aud=$(q "SELECT id FROM audit_log WHERE target = '$vis' LIMIT 1")
cols="seq, id, reference, kind, debit_account_id, credit_account_id, amount, currency, hold_id, expires_at, on_expiry, debit_balance_after, credit_balance_after, created_at"
statement() { # account, after, limit
  echo "SELECT * FROM (SELECT $cols FROM ledger_transfers WHERE debit_account_id = '$1' AND seq > $2 ORDER BY seq LIMIT $3) AS d UNION ALL SELECT * FROM (SELECT $cols FROM ledger_transfers WHERE credit_account_id = '$1' AND seq > $2 ORDER BY seq LIMIT $3) AS c ORDER BY seq LIMIT $3"
}

hot=(
  "visitor look-up by passport (staff, kyc FindByDocumentIndex)|SELECT * FROM visitors WHERE number_index = '$idx' ORDER BY id"
  "account view: the prepaid account|SELECT * FROM prepaid_accounts WHERE visitor_id = '$vis' AND partner_id = '$ptn' LIMIT 1"
  "account view: its ledger account|SELECT * FROM ledger_accounts WHERE code = '$code' LIMIT 1"
  "account view: the balance|SELECT COALESCE(SUM(debits_posted), 0), COALESCE(SUM(credits_posted), 0), COALESCE(SUM(debits_pending), 0), COALESCE(SUM(credits_pending), 0) FROM ledger_balances WHERE account_id = '$acct'"
  "account view: loads in flight|SELECT COALESCE(SUM(credited_minor), 0) FROM prepaid_loads WHERE account_id = '$pa' AND status IN ('pending', 'requires_action')"
  "account view: loaded this year|SELECT COALESCE(SUM(usd_minor), 0) FROM prepaid_loads WHERE account_id = '$pa' AND status IN ('succeeded', 'pending', 'requires_action') AND created_at >= date_trunc('year', now())"
  "account view: held in escrow|SELECT COALESCE(SUM(held), 0) FROM escrow_payments WHERE visitor_id = '$vis' AND held > 0"
  "visitor transactions, first page (keyset on seq)|$(statement "$acct" 0 21)"
  "admin ledger browsing: fx:CNY, a page 90 % deep in its history|$(statement "$fxcny" "$deep" 51)"
  "admin ledger browsing: revenue:fees, a page 90 % deep|$(statement "$fees" "$deep" 51)"
  "admin ledger account: balance of a 16-slot account|SELECT COALESCE(SUM(debits_posted), 0), COALESCE(SUM(credits_posted), 0) FROM ledger_balances WHERE account_id = '$fxcny'"
  "payments list, a page in the middle (keyset on id)|SELECT * FROM escrow_payments WHERE partner_id = '$ptn' AND id < '$pay' ORDER BY id DESC LIMIT 21"
  "admin audit list, a page in the middle (keyset on id)|SELECT * FROM audit_log WHERE id < '$aud' ORDER BY id DESC LIMIT 51"
  "reconciliation of one day: succeeded loads|SELECT id, network, stan, rrn, charged_currency, charged_minor FROM prepaid_loads WHERE status = 'succeeded' AND created_at >= '$day' AND created_at < '$day'::date + 1 ORDER BY id"
  "reconciliation of one day: succeeded unloads|SELECT id, network, stan, rrn, refund_currency, refund_minor FROM prepaid_unloads WHERE status = 'succeeded' AND refund_minor > 0 AND created_at >= '$day' AND created_at < '$day'::date + 1 ORDER BY id"
  "reconciliation: refunds to each card against its captures|SELECT card_id, currency, refunded, captured FROM (SELECT u.card_id, u.currency, u.refunded, COALESCE((SELECT SUM(l.charged_minor) FROM prepaid_loads l WHERE l.card_id = u.card_id AND l.status = 'succeeded' AND l.charged_currency = u.currency), 0) AS captured FROM (SELECT card_id, refund_currency AS currency, SUM(refund_minor) AS refunded FROM prepaid_unloads WHERE status = 'succeeded' AND refund_minor > 0 GROUP BY card_id, refund_currency) u) r WHERE refunded > captured ORDER BY card_id, currency"
)
whole=(
  "ledger verify: posted debits per account (one of four aggregations)|SELECT debit_account_id, SUM(amount) FROM ledger_transfers t WHERE kind IN ('posted', 'post_pending') GROUP BY debit_account_id"
  "escrow held against open payments: per-payment mismatches|SELECT p.id, COALESCE(SUM(b.credits_posted - b.debits_posted), 0) AS ledger, p.held FROM escrow_payments p LEFT JOIN ledger_balances b ON b.account_id = p.escrow_account_id GROUP BY p.id, p.held HAVING COALESCE(SUM(b.credits_posted - b.debits_posted), 0) <> p.held ORDER BY p.id"
)

echo "Database: $(q "SELECT pg_size_pretty(pg_database_size(current_database()))"), $(q "SELECT COUNT(*) FROM visitors") visitors, $(q "SELECT COUNT(*) FROM ledger_transfers") transfers ($((2 * $(q "SELECT COUNT(*) FROM ledger_transfers"))) entries); PostgreSQL $(q "SHOW server_version")."
echo
bad=0
run() { # title|sql, hot(1)/whole(0)
  local title=${1%%|*} sql=${1#*|}
  local plan
  plan=$(q "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) $sql")
  local ms
  ms=$(grep -o 'Execution Time: [0-9.]* ms' <<<"$plan" | grep -o '[0-9.]*' | head -1)
  echo "#### $title: $ms ms"
  echo
  echo '```'
  echo "$plan"
  echo '```'
  echo
  if [[ $2 == 1 ]]; then
    # A sequential scan of a (nearly) empty table is the planner's right
    # choice; one of a table that grows is a finding.
    for t in $(grep -o 'Seq Scan on [a-z_]*' <<<"$plan" | awk '{print $4}' | sort -u); do
      rows=$(q "SELECT reltuples::bigint FROM pg_class WHERE relname = '$t'")
      if ((rows > 10000)); then
        echo "**sequential scan of $t ($rows rows) on a hot path**"
        echo
        bad=1
      fi
    done
  fi
}
for h in "${hot[@]}"; do run "$h" 1; done
echo "Whole-table reads (reconciliation and verify read everything by design):"
echo
for h in "${whole[@]}"; do run "$h" 0; done
exit $bad
