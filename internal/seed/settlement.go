package seed

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/inbound-gateway/inbound/gateway/cardnet"
)

// writeSettlement writes, for every day with seeded captures, the card
// network simulator's archived settlement file (the format of
// `cardnet -data DIR`): the captures of the succeeded loads, which is what
// the network would report for them. Days the simulator itself
// (or an earlier seed) recorded keep their lines; the seeded ones are added.
func writeSettlement(ctx context.Context, pool *pgxpool.Pool, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("seed: cardnet dir: %w", err)
	}
	rows, err := pool.Query(ctx, `SELECT l.network, l.stan, l.rrn, l.charged_minor, l.charged_currency, l.auth_code, l.created_at,
		c.bin, c.last4
		FROM prepaid_loads l JOIN cards c ON c.id = l.card_id
		WHERE l.status = 'succeeded' AND l.stan <> '' ORDER BY l.created_at`)
	if err != nil {
		return fmt.Errorf("seed: settlement: %w", err)
	}
	defer rows.Close()
	var (
		day   string
		lines []cardnet.Line
	)
	flush := func() error {
		if day == "" || len(lines) == 0 {
			return nil
		}
		path := filepath.Join(dir, "settlement-"+day+".json")
		all := lines
		if old, err := os.ReadFile(path); err == nil { //nolint:gosec // a settlement file in the operator-chosen directory
			var prev []cardnet.Line
			if err := json.Unmarshal(old, &prev); err != nil {
				return fmt.Errorf("seed: settlement %s: %w", path, err)
			}
			all = append(prev, lines...)
		}
		b, err := json.Marshal(all)
		if err != nil {
			return err
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return fmt.Errorf("seed: settlement %s: %w", day, err)
		}
		return nil
	}
	for rows.Next() {
		var (
			l            cardnet.Line
			minor        int64
			at           time.Time
			bin, last4   string
			authCode     string
			network, cur string
		)
		if err := rows.Scan(&network, &l.STAN, &l.RRN, &minor, &cur, &authCode, &at, &bin, &last4); err != nil {
			return fmt.Errorf("seed: settlement: %w", err)
		}
		l.Type, l.Network, l.MTI, l.Currency, l.AuthCode = cardnet.LineCapture, network, "0200", cur, authCode
		l.Amount, l.Time = strconv.FormatInt(minor, 10), at.UTC()
		l.PAN = bin + strings.Repeat("*", 6) + last4
		d := at.UTC().Format(time.DateOnly)
		if d != day {
			if err := flush(); err != nil {
				return err
			}
			day, lines = d, lines[:0]
		}
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("seed: settlement: %w", err)
	}
	return flush()
}
