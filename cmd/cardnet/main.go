// Command cardnet runs the card-network simulator (package
// gateway/cardnet) as its own HTTP server, so partners and load tests can
// use it without the rest of Inbound.
//
//	go run ./cmd/cardnet [-addr 127.0.0.1:8090] [-max-hang 30s] [-seed N] [-data DIR]
//
// With -data it keeps its messages, open-to-buy and settlement in DIR
// across restarts. Flags win over the environment variables CARDNET_ADDR,
// CARDNET_MAX_HANG, CARDNET_SEED and CARDNET_DATA_DIR. It stops gracefully on SIGINT or SIGTERM.
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
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/inbound-gateway/inbound/gateway/cardnet"
)

func main() {
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "cardnet:", err)
		os.Exit(1)
	}
}

// Defaults of the settings.
const (
	defaultAddr = "127.0.0.1:8090"
	// shutdownGrace is how long requests in flight get to finish.
	shutdownGrace = 10 * time.Second
)

type config struct {
	addr    string
	maxHang time.Duration
	seed    uint64
	dataDir string
}

// parseConfig reads the environment first, then lets flags override it.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	cfg := config{addr: defaultAddr, maxHang: cardnet.DefaultMaxHang}
	if v := getenv("CARDNET_ADDR"); v != "" {
		cfg.addr = v
	}
	if v := getenv("CARDNET_MAX_HANG"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return config{}, fmt.Errorf("CARDNET_MAX_HANG: %w", err)
		}
		cfg.maxHang = d
	}
	if v := getenv("CARDNET_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return config{}, fmt.Errorf("CARDNET_SEED: %w", err)
		}
		cfg.seed = n
	}
	cfg.dataDir = getenv("CARDNET_DATA_DIR")
	name := "cardnet"
	if len(args) > 0 {
		name, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", cfg.addr, "listen address (env CARDNET_ADDR)")
	fs.DurationVar(&cfg.maxHang, "max-hang", cfg.maxHang, "longest a no-answer holds a request (env CARDNET_MAX_HANG)")
	fs.Uint64Var(&cfg.seed, "seed", cfg.seed, "seed for auth codes and fault dice, 0 = random (env CARDNET_SEED)")
	fs.StringVar(&cfg.dataDir, "data", cfg.dataDir, "directory for messages, open-to-buy and settlement across restarts; empty = memory only (env CARDNET_DATA_DIR)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.maxHang <= 0 {
		return config{}, errors.New("max-hang must be positive")
	}
	return cfg, nil
}

// run serves the simulator until ctx ends or a signal arrives. It prints
// the address it listens on, so a caller that asked for port 0 can find it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	engine, err := cardnet.Open(cardnet.Config{MaxHang: cfg.maxHang, Seed: cfg.seed, Logger: logger, DataDir: cfg.dataDir})
	if err != nil {
		return err
	}
	defer func() {
		if err := engine.Close(); err != nil {
			logger.Error("cardnet final snapshot failed", "err", err)
		}
	}()
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Fprintf(stdout, "cardnet listening on http://%s\n", ln.Addr())
	if err := cardnet.Serve(ctx, ln, cardnet.NewHandler(engine), shutdownGrace); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "cardnet stopped")
	return nil
}
