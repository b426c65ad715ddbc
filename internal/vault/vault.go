// Package vault encrypts sensitive values (PANs, passport numbers) with
// AES-256-GCM under a master key, and derives keyed HMAC-SHA256 indexes so
// equal values can be found without decrypting anything. Ciphertexts carry
// the key id so the master key can be rotated: old ciphertexts stay readable
// while the old key is kept in the keyring.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Errors of the vault.
var (
	ErrBadKey        = errors.New("vault: master key must be 32 bytes, base64 encoded")
	ErrUnknownKey    = errors.New("vault: ciphertext key id not in keyring")
	ErrBadCiphertext = errors.New("vault: ciphertext cannot be opened")
)

// Vault seals and opens values and computes lookup indexes.
type Vault struct {
	current string
	aeads   map[string]cipher.AEAD
	macKey  []byte
}

// KeyID is a short public identifier of a master key: the first 8 hex digits
// of SHA-256 over it, so a log or a row can say which key sealed it.
func KeyID(master []byte) string {
	sum := sha256.Sum256(master)
	return hex.EncodeToString(sum[:4])
}

// ParseKey decodes a base64 32-byte master key.
func ParseKey(b64 string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil || len(k) != 32 {
		return nil, ErrBadKey
	}
	return k, nil
}

// GenerateKey returns a new random base64 master key.
func GenerateKey() string {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

// New builds a vault whose current key is master; older keys (oldest last)
// can still open what they sealed. The HMAC index key is derived with HKDF
// from the oldest key in the ring, so indexes stay stable across a rotation
// (and never reuse an encryption key directly); retiring that key needs a
// re-index.
func New(master []byte, older ...[]byte) (*Vault, error) {
	if len(master) != 32 {
		return nil, ErrBadKey
	}
	v := &Vault{current: KeyID(master), aeads: map[string]cipher.AEAD{}}
	for _, k := range append([][]byte{master}, older...) {
		if len(k) != 32 {
			return nil, ErrBadKey
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("vault: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("vault: %w", err)
		}
		v.aeads[KeyID(k)] = aead
	}
	indexRoot := master
	if len(older) > 0 {
		indexRoot = older[len(older)-1]
	}
	mk, err := hkdf.Key(sha256.New, indexRoot, nil, "inbound index v1", 32)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	v.macKey = mk
	return v, nil
}

// Seal encrypts plaintext bound to a context label (for example "pan" or
// "passport"), so a ciphertext moved to another column does not open.
// The result is "keyid:base64(nonce|ciphertext)".
func (v *Vault) Seal(label string, plaintext []byte) string {
	aead := v.aeads[v.current]
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	ct := aead.Seal(nonce, nonce, plaintext, []byte(label))
	return v.current + ":" + base64.RawStdEncoding.EncodeToString(ct)
}

// Open decrypts what Seal produced under the same label.
func (v *Vault) Open(label, sealed string) ([]byte, error) {
	kid, b64, ok := strings.Cut(sealed, ":")
	if !ok {
		return nil, ErrBadCiphertext
	}
	aead, ok := v.aeads[kid]
	if !ok {
		return nil, ErrUnknownKey
	}
	raw, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil || len(raw) < aead.NonceSize() {
		return nil, ErrBadCiphertext
	}
	pt, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(label))
	if err != nil {
		return nil, ErrBadCiphertext
	}
	return pt, nil
}

// Index is a keyed hash of the value under a label, hex encoded: equal
// inputs give equal indexes; without the master key it reveals nothing.
func (v *Vault) Index(label string, parts ...string) string {
	m := hmac.New(sha256.New, v.macKey)
	m.Write([]byte(label))
	for _, p := range parts {
		m.Write([]byte{0})
		m.Write([]byte(p))
	}
	return hex.EncodeToString(m.Sum(nil))
}
