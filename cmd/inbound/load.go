package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/inbound-gateway/inbound/gateway/cardnet"
	"github.com/inbound-gateway/inbound/internal/loadgen"
)

const loadUsage = `usage: inbound load [flags]

Runs a mixed workload (visitors, cards, loads, merchants, payments, confirms,
refunds, disputes, unloads) through the public APIs, with optional faults,
then checks that every acknowledged effect is on the server exactly once and
that the money adds up. Prints one JSON verdict line; exits 1 on a violation.

  inbound load -scenario short -report ./load-report
  inbound load -clients 16 -duration 60s -replicas 2 -faults kill:10s,redis:30s,cardnet:45s
  inbound load -target http://127.0.0.1:8080 -admin-target http://127.0.0.1:8081 -key sk_... -staff-token st_... -rate 50

Scenarios: short (no faults, embedded), kill, redis, postgres, cardnet,
timeouts, chaos (kills, a Redis restart and a card-network kill; 60 s).
`

// loadCmd is `inbound load`. `inbound load cardnet -addr A` is how the tool
// runs its own card network in a child process of the same binary.
func loadCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "cardnet" {
		return loadCardnet(ctx, args[1:], stderr)
	}
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, loadUsage); fs.PrintDefaults() }
	scenario := fs.String("scenario", "", "preset: short, kill, redis, postgres, cardnet, timeouts, chaos")
	clients := fs.Int("clients", 0, "concurrent clients (default 8, or the scenario's)")
	rate := fs.Int("rate", 0, "requests per second over all clients (0: as fast as the clients go)")
	duration := fs.Duration("duration", 0, "how long to send load (default 30s, or the scenario's)")
	deadline := fs.Duration("deadline", 30*time.Second, "per request, retries included; past it a request is unresolved")
	settle := fs.Duration("settle", 3*time.Second, "wait after the load before reading the server")
	faults := fs.String("faults", "", "kill:10s,redis:30s,postgres:20s,cardnet:45s,timeouts:30%[@10s+20s],errors:10%")
	down := fs.Duration("down", 2*time.Second, "how long a killed component stays down")
	replicas := fs.Int("replicas", 0, "replicas to start (default 1, or the scenario's)")
	dbURL := fs.String("database-url", "", `PostgreSQL for the replicas; "own" starts one in a temp dir (default: own when needed, else embedded SQLite); with -target, the targets' database for ledger verify`)
	redisURL := fs.String("redis-url", "", `Redis for the replicas; "own" starts redis-server (default: own when needed, else in-process)`)
	target := fs.String("target", "", "partner API URL(s), comma-separated: load these instead of starting replicas")
	adminTarget := fs.String("admin-target", "", "admin API URL(s) of the targets, comma-separated")
	key := fs.String("key", "", "partner secret key (with -target)")
	staff := fs.String("staff-token", "", "staff token, viewer or above (with -target)")
	cardnetURL := fs.String("cardnet-url", "", "card network of the targets, for timeouts/errors faults")
	reportDir := fs.String("report", "", "write report.html, throughput.png and verdict.json into this directory")
	seed := fs.Uint64("seed", uint64(time.Now().UnixNano()), "seed of the workload's choices")
	inboundBin := fs.String("inbound-bin", "", "inbound binary for the replicas (default: this one)")
	cardnetBin := fs.String("cardnet-bin", "", "cardnet binary (default: this one, as `inbound load cardnet`)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	sc := loadgen.Scenario{Duration: 30 * time.Second, Clients: 8, Replicas: 1}
	if *scenario != "" {
		s, ok := loadgen.Scenarios[*scenario]
		if !ok {
			return fmt.Errorf("load: unknown scenario %q", *scenario)
		}
		sc = s
	}
	if *clients > 0 {
		sc.Clients = *clients
	} else if *rate > 0 && *scenario == "" {
		sc.Clients = min(64, *rate/4+1)
	}
	if *duration > 0 {
		sc.Duration = *duration
	}
	if *replicas > 0 {
		sc.Replicas = *replicas
	}
	if *faults != "" {
		sc.Faults = *faults
	}
	fl, err := loadgen.ParseFaults(sc.Faults, sc.Duration)
	if err != nil {
		return err
	}
	cfg := loadgen.Config{Clients: sc.Clients, Rate: *rate, Duration: sc.Duration, Deadline: *deadline, Settle: *settle,
		Faults: fl, Down: *down, ReportDir: *reportDir, Progress: stderr, TTY: isTTY(stderr), Seed: *seed, Scenario: *scenario}
	keep := false
	if *target != "" {
		cfg.Partner, cfg.Admin = splitURLs(*target), splitURLs(*adminTarget)
		if len(cfg.Admin) == 0 || *key == "" || *staff == "" {
			return errors.New("load: -target needs -admin-target, -key and -staff-token")
		}
		cfg.Key, cfg.Staff, cfg.CardnetURL = *key, *staff, *cardnetURL
		if *dbURL != "" && *dbURL != "own" {
			// `inbound ledger verify` on the targets' database, after the run.
			cfg.VerifyDatabaseURL = *dbURL
			if cfg.InboundBin = *inboundBin; cfg.InboundBin == "" {
				if cfg.InboundBin, err = os.Executable(); err != nil {
					return err
				}
			}
		}
	} else {
		o, cleanup, err := clusterOptions(sc, fl, *dbURL, *redisURL, *inboundBin, *cardnetBin)
		if err != nil {
			return err
		}
		cfg.Cluster = &o
		// The logs and data stay for a look when the run failed.
		defer func() {
			if keep {
				fmt.Fprintf(stderr, "logs and data of the run kept in %s\n", o.Dir)
				return
			}
			cleanup()
		}()
	}
	v, err := loadgen.Run(ctx, cfg)
	keep = err != nil || v.Verdict != "pass"
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, v.JSON())
	if v.Verdict != "pass" {
		return fmt.Errorf("load: %d violation(s)", v.ViolationCount)
	}
	return nil
}

// clusterOptions decides what the tool starts: its own PostgreSQL when
// there is more than one replica or a postgres fault, its own Redis when
// replicas must share one or a redis fault asks.
func clusterOptions(sc loadgen.Scenario, fl []loadgen.Fault, dbURL, redisURL, inboundBin, cardnetBin string) (loadgen.ClusterOptions, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return loadgen.ClusterOptions{}, nil, err
	}
	if inboundBin == "" {
		inboundBin = self
	}
	argv := []string{self, "load", "cardnet"}
	if cardnetBin != "" {
		argv = []string{cardnetBin}
	}
	has := func(k loadgen.FaultKind) bool {
		for _, f := range fl {
			if f.Kind == k {
				return true
			}
		}
		return false
	}
	o := loadgen.ClusterOptions{InboundBin: inboundBin, CardnetArgv: argv, Replicas: sc.Replicas}
	switch {
	case dbURL == "own" || (dbURL == "" && (sc.Postgres || sc.Replicas > 1 || has(loadgen.FaultPostgres))):
		o.OwnPostgres = true
	case dbURL != "":
		o.DatabaseURL = dbURL
	}
	if has(loadgen.FaultPostgres) && !o.OwnPostgres {
		return o, nil, errors.New("load: a postgres fault restarts only a PostgreSQL the tool started itself (drop -database-url)")
	}
	switch {
	case redisURL == "own" || (redisURL == "" && (sc.Replicas > 1 || has(loadgen.FaultRedis))):
		o.OwnRedis = true
	case redisURL != "":
		o.RedisURL = redisURL
	}
	if has(loadgen.FaultRedis) && !o.OwnRedis {
		return o, nil, errors.New("load: a redis fault kills only a redis-server the tool started itself (drop -redis-url)")
	}
	if !o.OwnPostgres && o.DatabaseURL == "" && sc.Replicas > 1 {
		return o, nil, errors.New("load: several replicas need a shared PostgreSQL")
	}
	dir, err := os.MkdirTemp("", "inbound-load-")
	if err != nil {
		return o, nil, err
	}
	o.Dir = dir
	return o, func() { _ = os.RemoveAll(dir) }, nil
}

func splitURLs(s string) []string {
	var out []string
	for u := range strings.SplitSeq(s, ",") {
		if u = strings.TrimRight(strings.TrimSpace(u), "/"); u != "" {
			out = append(out, u)
		}
	}
	return out
}

func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// loadCardnet runs the card-network simulator in this process, for the
// load tool's own cluster (so no second binary is needed).
func loadCardnet(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("load cardnet", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	maxHang := fs.Duration("max-hang", cardnet.DefaultMaxHang, "longest a no-answer holds a request")
	dataDir := fs.String("data", "", "directory that keeps messages and settlement across restarts (empty: memory only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// With a data dir a killed and restarted simulator keeps its settlement
	// records, as a real network does, so reconciliation after a cardnet
	// fault checks the gateway rather than the simulator's memory.
	engine, err := cardnet.Open(cardnet.Config{MaxHang: *maxHang, Logger: log, DataDir: *dataDir})
	if err != nil {
		return err
	}
	defer func() { _ = engine.Close() }()
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", *addr)
	if err != nil {
		return err
	}
	return cardnet.Serve(ctx, ln, cardnet.NewHandler(engine), 5*time.Second)
}
