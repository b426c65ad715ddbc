// Package datadir keeps the data directory private. It holds the embedded
// database (PANs and passport numbers sealed, but everything else in
// clear), a generated development master key and development credentials:
// the directory is 0700 and every file Inbound writes there is 0600,
// whatever the umask, and whatever mode a directory or file that already
// existed had.
package datadir

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// Files Inbound writes in the data directory; Prepare narrows their modes.
// Other files are left alone: the directory may have been chosen to hold
// other things, and its 0700 already keeps them from other users.
var Files = []string{
	"inbound.db", "inbound.db-wal", "inbound.db-shm", "inbound.db-journal",
	"master.key", "credentials.json",
}

const (
	dirMode  fs.FileMode = 0o700
	fileMode fs.FileMode = 0o600
)

// Prepare creates dir with mode 0700, or narrows an existing one to 0700,
// and removes group and other bits from Inbound's files in it. Every change
// of an existing mode is logged as a warning: someone could have read them.
func Prepare(dir string, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	if dir == "" {
		return errors.New("datadir: empty path")
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("datadir: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("datadir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("datadir: %s is not a directory", dir)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		if err := os.Chmod(dir, perm&^0o077); err != nil {
			return fmt.Errorf("datadir: narrow %s: %w", dir, err)
		}
		log.Warn("data directory was accessible to other users: narrowed", "path", dir,
			"was", fmt.Sprintf("%#o", perm), "now", fmt.Sprintf("%#o", perm&^0o077))
	}
	for _, name := range Files {
		path := filepath.Join(dir, name)
		fi, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("datadir: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("datadir: %s is not a regular file", path)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			if err := os.Chmod(path, perm&^0o077); err != nil {
				return fmt.Errorf("datadir: narrow %s: %w", path, err)
			}
			log.Warn("data file was readable by other users: narrowed", "path", path,
				"was", fmt.Sprintf("%#o", perm), "now", fmt.Sprintf("%#o", perm&^0o077))
		}
	}
	return nil
}

// Touch creates path with mode 0600 if it does not exist. SQLite keeps the
// mode of an existing database file and gives its -wal and -shm files the
// same, so creating it first is what keeps them all private.
func Touch(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode) //nolint:gosec // the operator chooses the data dir; this is its own file in it
	if err != nil {
		return fmt.Errorf("datadir: %w", err)
	}
	return f.Close()
}

// WriteFile writes data to path with mode 0600: created so, and narrowed
// if it already existed with a wider mode (os.WriteFile keeps an existing
// file's mode).
func WriteFile(path string, data []byte) error {
	if err := os.WriteFile(path, data, fileMode); err != nil {
		return fmt.Errorf("datadir: %w", err)
	}
	if err := os.Chmod(path, fileMode); err != nil {
		return fmt.Errorf("datadir: %w", err)
	}
	return nil
}
