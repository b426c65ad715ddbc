package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/inbound-gateway/inbound/gateway/cardnet"
	"github.com/inbound-gateway/inbound/internal/app"
	"github.com/inbound-gateway/inbound/internal/auth"
	"github.com/inbound-gateway/inbound/internal/config"
	"github.com/inbound-gateway/inbound/internal/db"
	"github.com/inbound-gateway/inbound/internal/httpapi"
	"github.com/inbound-gateway/inbound/internal/idempotency"
	"github.com/inbound-gateway/inbound/internal/ids"
	"github.com/inbound-gateway/inbound/internal/jobs"
	"github.com/inbound-gateway/inbound/internal/kv"
	"github.com/inbound-gateway/inbound/internal/ledger"
	"github.com/inbound-gateway/inbound/internal/recon"
	"github.com/inbound-gateway/inbound/internal/vault"
)

const usage = `usage: inbound [command]

commands:
  serve                                 run the partner and admin APIs (default)
  migrate                               apply database migrations and exit
  partners create -name NAME            create a partner and print its secret key
  staff create -name NAME -role ROLE    create a staff member (viewer, agent, supervisor) and print the token
  ledger verify                         check every ledger invariant; exit 1 listing each break
  config                                print the configuration with secrets masked
`

// run is the whole program; main only calls it, and tests call it too.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := newLogger(cfg.LogLevel, stderr)
	switch cmd {
	case "serve":
		return serve(ctx, cfg, log, stdout)
	case "migrate":
		return migrate(ctx, cfg, stdout)
	case "partners":
		return partnersCmd(ctx, cfg, args, stdout)
	case "staff":
		return staffCmd(ctx, cfg, args, stdout)
	case "ledger":
		return ledgerCmd(ctx, cfg, args, stdout)
	case "config":
		fmt.Fprint(stdout, cfg.String())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

func newLogger(level string, w io.Writer) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// openDB opens and migrates the configured database.
func openDB(ctx context.Context, cfg config.Config) (*db.DB, error) {
	d, err := db.Open(ctx, db.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir})
	if err != nil {
		return nil, err
	}
	if _, err := d.Migrate(ctx); err != nil {
		_ = d.Close()
		return nil, err
	}
	return d, nil
}

func migrate(ctx context.Context, cfg config.Config, stdout io.Writer) error {
	d, err := db.Open(ctx, db.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir})
	if err != nil {
		return err
	}
	defer d.Close()
	applied, err := d.Migrate(ctx)
	if err != nil {
		return err
	}
	all, _ := d.Applied(ctx)
	fmt.Fprintf(stdout, "applied %d migration(s) now, %d in total (%s)\n", len(applied), len(all), d.Dialect)
	return nil
}

func partnersCmd(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: inbound partners create -name NAME")
	}
	fs := flag.NewFlagSet("partners create", flag.ContinueOnError)
	name := fs.String("name", "", "partner name")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	d, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	p, key, err := auth.NewService(auth.NewStore(d)).CreatePartner(ctx, ids.New(ids.Partner), *name, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "partner %s (%s)\nsecret key (shown once): %s\n", p.ID, p.Name, key)
	return nil
}

func staffCmd(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: inbound staff create -name NAME -role viewer|agent|supervisor")
	}
	fs := flag.NewFlagSet("staff create", flag.ContinueOnError)
	name := fs.String("name", "", "staff member name")
	roleName := fs.String("role", "viewer", "viewer, agent or supervisor")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	role, err := auth.ParseRole(*roleName)
	if err != nil {
		return err
	}
	d, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	st, token, err := auth.NewService(auth.NewStore(d)).CreateStaff(ctx, ids.New(ids.Staff), *name, role, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "staff %s (%s, %s)\ntoken (shown once): %s\n", st.ID, st.Name, st.Role, token)
	return nil
}

// ledgerCmd runs `inbound ledger verify`: every ledger invariant over one
// snapshot; a break is an error (exit status 1) listing each one.
func ledgerCmd(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		return errors.New("usage: inbound ledger verify")
	}
	d, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	breaks, err := ledger.New(d).Verify(ctx)
	if err != nil {
		return err
	}
	for _, b := range breaks {
		fmt.Fprintln(stdout, b.String())
	}
	if len(breaks) > 0 {
		return fmt.Errorf("ledger verify: %d break(s)", len(breaks))
	}
	fmt.Fprintln(stdout, "ledger verify: balanced, no negative constrained balance, stored balances equal their entries")
	return nil
}

// masterKey returns the configured master key or, in development, one
// generated into the data dir (with a warning: such a key is as safe as the
// disk it sits on).
func masterKey(cfg config.Config, log *slog.Logger) ([]byte, error) {
	if cfg.MasterKey != "" {
		k, err := vault.ParseKey(cfg.MasterKey)
		if err != nil {
			return nil, fmt.Errorf("INBOUND_MASTER_KEY: %w", err)
		}
		return k, nil
	}
	path := filepath.Join(cfg.DataDir, "master.key")
	if b, err := os.ReadFile(path); err == nil {
		log.Warn("INBOUND_MASTER_KEY not set: using the development key from the data dir", "path", path)
		return vault.ParseKey(string(b))
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	k := vault.GenerateKey()
	if err := os.WriteFile(path, []byte(k+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write dev master key: %w", err)
	}
	log.Warn("INBOUND_MASTER_KEY not set: generated a development key into the data dir; set INBOUND_MASTER_KEY in production", "path", path)
	return vault.ParseKey(k)
}

// devCredentials are generated in embedded mode when no bootstrap secrets
// are configured, kept in the data dir so they survive restarts.
type devCredentials struct {
	PartnerKey string `json:"partner_key"`
	StaffToken string `json:"staff_token"`
}

func bootstrap(ctx context.Context, cfg config.Config, svc *auth.Service, stdout io.Writer) error {
	partnerKey, staffToken := cfg.BootstrapKey, cfg.BootstrapStaff
	if cfg.Embedded() && partnerKey == "" && staffToken == "" {
		path := filepath.Join(cfg.DataDir, "credentials.json")
		var dc devCredentials
		if b, err := os.ReadFile(path); err == nil {
			if err := json.Unmarshal(b, &dc); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		} else {
			dc = devCredentials{PartnerKey: auth.NewSecret("sk_"), StaffToken: auth.NewSecret("st_")}
			b, _ := json.MarshalIndent(dc, "", "  ")
			if err := os.WriteFile(path, b, 0o600); err != nil {
				return fmt.Errorf("write dev credentials: %w", err)
			}
		}
		partnerKey, staffToken = dc.PartnerKey, dc.StaffToken
		fmt.Fprintf(stdout, "development credentials (embedded mode; kept in %s):\n  partner secret key: %s\n  staff token (supervisor): %s\n", path, partnerKey, staffToken)
	}
	if partnerKey != "" {
		if _, err := svc.EnsurePartnerKey(ctx, ids.New(ids.Partner), "Bootstrap partner", partnerKey); err != nil {
			return fmt.Errorf("bootstrap partner: %w", err)
		}
	}
	if staffToken != "" {
		if _, err := svc.EnsureStaffToken(ctx, ids.New(ids.Staff), "Bootstrap supervisor", staffToken); err != nil {
			return fmt.Errorf("bootstrap staff: %w", err)
		}
	}
	return nil
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	mk, err := masterKey(cfg, log)
	if err != nil {
		return err
	}
	vlt, err := vault.New(mk)
	if err != nil {
		return err
	}
	d, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	store, err := kv.Open(ctx, kv.Options{URL: cfg.RedisURL, Cluster: cfg.RedisCluster})
	if err != nil {
		return err
	}
	defer store.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(d.SQL(), string(d.Dialect)))

	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	cardnetURL := cfg.CardnetURL
	if cardnetURL == "" {
		// The in-process simulator, on loopback only.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("in-process card network: %w", err)
		}
		engine := cardnet.New(cardnet.Config{Logger: log.With("component", "cardnet")})
		wg.Go(func() { _ = cardnet.Serve(ctx, ln, cardnet.NewHandler(engine), 5*time.Second) })
		cardnetURL = "http://" + ln.Addr().String()
		fmt.Fprintf(stdout, "card-network simulator (in-process) on %s\n", cardnetURL)
	}

	svc, err := app.New(ctx, d, vlt, log, app.Options{
		SanctionsDir: cfg.SanctionsDir, FXRates: cfg.FXRates, QuoteTTL: cfg.QuoteTTL,
		AccountValidity: cfg.AccountValid, AllowPrivateWebhooks: cfg.AllowPrivateWebhooks,
		CardnetURL: cardnetURL, Registerer: reg, AutoRelease: cfg.AutoRelease,
		// Development on the embedded default gets market moves in the
		// built-in rates, as DESIGN.md asks; production reads a rates feed.
		SimulateFX: cfg.Embedded(),
	})
	if err != nil {
		return err
	}
	if err := bootstrap(ctx, cfg, svc.Auth, stdout); err != nil {
		return err
	}

	srv, err := httpapi.NewServer(httpapi.Deps{
		DB: d, KV: store, Auth: svc.Auth, Vault: vlt, Webhooks: svc.Webhooks, KYC: svc.KYC, Accounts: svc.Accounts, FX: svc.FX, Cards: svc.Cards, Ledger: svc.Ledger, Adjustments: svc.Adjustments, Prepaid: svc.Prepaid, Escrow: svc.Escrow, Settlement: recon.HTTPReports{BaseURL: cardnetURL}, Log: log, Registry: reg,
		RateLimit: cfg.RateLimit, MaxBodyBytes: cfg.MaxBodyBytes,
	})
	if err != nil {
		return err
	}

	runner := jobs.NewRunner(jobs.NewStore(d), cfg.JobInterval, 5*time.Minute, log)
	idem := idempotency.NewStore(d, vlt)
	runner.Register(jobs.Job{Name: "idempotency.expire", Every: time.Hour, Run: func(ctx context.Context, now time.Time) error {
		n, err := idem.DeleteExpired(ctx, now)
		if n > 0 {
			log.InfoContext(ctx, "expired idempotency keys", "count", n)
		}
		return err
	}})

	runner.Register(jobs.Job{Name: "network.repair", Every: time.Minute, Run: func(ctx context.Context, now time.Time) error {
		n, err := svc.Cards.Repair(ctx, now)
		if n > 0 {
			log.InfoContext(ctx, "repaired network calls", "count", n)
		}
		return err
	}})

	runner.Register(jobs.Job{Name: "ledger.expire_holds", Every: time.Minute, Run: func(ctx context.Context, now time.Time) error {
		_, err := svc.Ledger.ExpireHolds(ctx, now)
		return err
	}})

	runner.Register(jobs.Job{Name: "prepaid.recover", Every: time.Minute, Run: func(ctx context.Context, now time.Time) error {
		n, err := svc.Prepaid.Recover(ctx, now)
		if n > 0 {
			log.InfoContext(ctx, "recovered loads and unloads", "count", n)
		}
		return err
	}})
	// A newly loaded sanctions list is applied to every active visitor: the
	// job screens again those last screened against another list version.
	runner.Register(jobs.Job{Name: "sanctions.rescreen", Every: time.Hour, Run: func(ctx context.Context, now time.Time) error {
		res, err := svc.KYC.Rescreen(ctx)
		if res.Screened > 0 {
			log.Info("sanctions re-screening", "list_version", res.ListVersion, "screened", res.Screened, "flagged", res.Flagged)
		}
		return err
	}})
	// AML record keeping: personal data is erased once the retention after
	// the account closed has passed (README, INBOUND_RETENTION).
	runner.Register(jobs.Job{Name: "retention.erase", Every: 24 * time.Hour, Run: func(ctx context.Context, now time.Time) error {
		n, err := svc.EraseExpired(ctx, now, cfg.Retention)
		if n > 0 {
			log.Info("retention: personal data erased", "visitors", n)
		}
		return err
	}})
	runner.Register(jobs.Job{Name: "prepaid.expire", Every: time.Hour, Run: func(ctx context.Context, now time.Time) error {
		_, err := svc.Prepaid.ExpireAccounts(ctx, now)
		return err
	}})
	runner.Register(svc.Escrow.Job(cfg.JobInterval))

	servers := []*namedServer{
		{name: "partner", addr: cfg.PartnerAddr, handler: srv.Partner()},
		{name: "admin", addr: cfg.AdminAddr, handler: srv.Admin()},
	}
	for _, s := range servers {
		ln, err := net.Listen("tcp", s.addr)
		if err != nil {
			return fmt.Errorf("%s API: %w", s.name, err)
		}
		s.ln = ln
		s.http = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
		fmt.Fprintf(stdout, "%s API listening on http://%s\n", s.name, ln.Addr())
	}
	log.Info("inbound started", "database", string(d.Dialect), "redis_embedded", store.Embedded())

	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() {
			if err := s.http.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s API: %w", s.name, err)
			}
		}()
	}
	wg.Go(func() { runner.Start(ctx) })
	wg.Go(func() { svc.Webhooks.Run(ctx, time.Second) })

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	log.Info("shutting down: finishing in-flight requests", "grace", cfg.ShutdownGrace.String())
	sctx, scancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer scancel()
	for _, s := range servers {
		if err := s.http.Shutdown(sctx); err != nil {
			runErr = errors.Join(runErr, fmt.Errorf("%s API shutdown: %w", s.name, err))
		}
	}
	cancel()
	wg.Wait()
	fmt.Fprintln(stdout, "stopped")
	return runErr
}

type namedServer struct {
	name    string
	addr    string
	handler http.Handler
	ln      net.Listener
	http    *http.Server
}
