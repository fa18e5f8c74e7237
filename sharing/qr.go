package sharing

import (
	"container/list"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/json"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/qujat/qujat/wallet"
)

// QR image sizes, in pixels.
const (
	DefaultQRSize = 256
	MinQRSize     = 64
	MaxQRSize     = 1024
)

// sealedRecord is what "shareqr:"+id holds, sealed: the token, so that the
// QR image can be drawn later without the token lying in the store in
// clear, and the key of the share's short code, so that Revoke can delete it.
type sealedRecord struct {
	Token   string `json:"token"`
	CodeKey string `json:"code_key"`
}

// sealContext binds a sealed record to its share: a record copied to another
// share's key does not open.
const sealContext = "qujat share qr\x00"

func (s *Service) aead() (cipher.AEAD, error) {
	if len(s.SealKey) != 32 {
		return nil, wallet.Errorf(wallet.EINTERNAL, "sharing: SealKey must be 32 bytes")
	}
	block, err := aes.NewCipher(s.SealKey)
	if err != nil {
		return nil, wallet.Wrap(wallet.EINTERNAL, err, "sharing: bad SealKey")
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, wallet.Wrap(wallet.EINTERNAL, err, "sharing: bad SealKey")
	}
	return aead, nil
}

// seal returns nonce ‖ AES-256-GCM(rec) with the share id as additional data.
func seal(aead cipher.AEAD, r io.Reader, shareID string, rec sealedRecord) ([]byte, error) {
	plain, err := json.Marshal(rec)
	if err != nil {
		return nil, wallet.Wrap(wallet.EINTERNAL, err, "cannot encode sealed share record")
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := io.ReadFull(r, nonce); err != nil {
		return nil, wallet.Wrap(wallet.EINTERNAL, err, "random source failed")
	}
	return aead.Seal(nonce, nonce, plain, []byte(sealContext+shareID)), nil
}

// unsealed reads and opens the sealed record of a share. ENOTFOUND if it is
// gone (expired, deleted, or lost with the short-lived store); EINTERNAL if
// it does not open.
func (s *Service) unsealed(ctx context.Context, shareID string) (sealedRecord, error) {
	aead, err := s.aead()
	if err != nil {
		return sealedRecord{}, err
	}
	b, err := s.Codes.Get(ctx, sealedKey(shareID))
	if err != nil {
		return sealedRecord{}, err
	}
	n := aead.NonceSize()
	if len(b) < n {
		return sealedRecord{}, wallet.Errorf(wallet.EINTERNAL, "sealed share record is too short")
	}
	plain, err := aead.Open(nil, b[:n], b[n:], []byte(sealContext+shareID))
	if err != nil {
		return sealedRecord{}, wallet.Wrap(wallet.EINTERNAL, err, "sealed share record does not open")
	}
	var rec sealedRecord
	if err := json.Unmarshal(plain, &rec); err != nil {
		return sealedRecord{}, wallet.Wrap(wallet.EINTERNAL, err, "sealed share record does not decode")
	}
	return rec, nil
}

// QR returns a PNG of size×size pixels (0: DefaultQRSize) of the QR code
// that encodes the share's URL (PublicURL + "/s/" + token), with medium
// error recovery. Only the share's owner or creator may have it. Images are
// drawn once per share and size and kept in a small in-memory cache.
//
// ENOTFOUND if there is no such share or the caller may not see it;
// EEXPIRED if the share is not active, or its token is gone from the
// short-lived store (which also means it can no longer be redeemed);
// EINVALID for a size out of MinQRSize..MaxQRSize; EUNAVAILABLE if a store
// cannot be reached.
func (s *Service) QR(ctx context.Context, caller wallet.IIN, shareID string, size int) ([]byte, error) {
	if size == 0 {
		size = DefaultQRSize
	}
	if size < MinQRSize || size > MaxQRSize {
		return nil, wallet.Errorf(wallet.EINVALID, "qr size must be between %d and %d", MinQRSize, MaxQRSize)
	}
	sh, err := s.visibleShare(ctx, caller, shareID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if st := sh.State(now); st != wallet.ShareActive {
		return nil, wallet.Errorf(wallet.EEXPIRED, "the share is %s", st)
	}
	png, err := s.qrCache().get(shareID+"/"+strconv.Itoa(size), sh.ExpiresAt, now, func() ([]byte, error) {
		rec, err := s.unsealed(ctx, shareID)
		if wallet.IsCode(err, wallet.ENOTFOUND) {
			return nil, wallet.Errorf(wallet.EEXPIRED, "the share has expired")
		}
		if err != nil {
			return nil, err
		}
		return drawQR(s.shareURL(rec.Token), size)
	})
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), png...), nil
}

func (s *Service) qrCache() *qrCache {
	s.qrOnce.Do(func() { s.qr = newQRCache(s.limits().QRCacheEntries) })
	return s.qr
}

// qrCache keeps the most recently used QR images, each until its share
// expires. Concurrent requests for an image not yet drawn wait for the one
// drawing it, so each is drawn once.
type qrCache struct {
	max int

	mu      sync.Mutex
	order   *list.List // of *qrEntry, most recently used first
	entries map[string]*list.Element
}

type qrEntry struct {
	key     string
	expires time.Time
	ready   chan struct{} // closed when png or err is set
	png     []byte
	err     error
}

func newQRCache(max int) *qrCache {
	return &qrCache{max: max, order: list.New(), entries: make(map[string]*list.Element)}
}

// get returns the image at key, drawing it with draw if it is not cached.
// A failed drawing is not cached: those who waited for it try again.
func (c *qrCache) get(key string, expires, now time.Time, draw func() ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	for {
		el, ok := c.entries[key]
		if !ok {
			break
		}
		e := el.Value.(*qrEntry)
		if !now.Before(e.expires) {
			c.order.Remove(el)
			delete(c.entries, key)
			break
		}
		c.order.MoveToFront(el)
		c.mu.Unlock()
		<-e.ready
		if e.err == nil {
			return e.png, nil
		}
		c.mu.Lock()
	}
	e := &qrEntry{key: key, expires: expires, ready: make(chan struct{})}
	c.entries[key] = c.order.PushFront(e)
	for c.order.Len() > c.max {
		old := c.order.Remove(c.order.Back()).(*qrEntry)
		delete(c.entries, old.key)
	}
	c.mu.Unlock()

	png, err := draw()
	if err != nil {
		// Out of the map before anyone sees the error, so that a waiter
		// looping back does not find it again.
		c.mu.Lock()
		c.removeIfCurrent(key, e)
		c.mu.Unlock()
	}
	e.png, e.err = png, err
	close(e.ready)
	return png, err
}

// removeIfCurrent removes e if it is still the entry at key. The caller
// holds c.mu.
func (c *qrCache) removeIfCurrent(key string, e *qrEntry) {
	if el, ok := c.entries[key]; ok && el.Value.(*qrEntry) == e {
		c.order.Remove(el)
		delete(c.entries, key)
	}
}

// forget drops every image of a share.
func (c *qrCache) forget(shareID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	prefix := shareID + "/"
	for key, el := range c.entries {
		if len(key) > len(prefix) && key[:len(prefix)] == prefix {
			c.order.Remove(el)
			delete(c.entries, key)
		}
	}
}
