package console

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// CSRF issues and checks the token every state-changing form carries. The token is
// "<unix seconds>.<HMAC-SHA256(key, viewer id, issue time)>": bound to the signed-in admin, so a
// token from another session is useless, and valid for TokenLifetime. Nothing is stored.
type CSRF struct {
	Key []byte
	Now func() time.Time
}

// TokenLifetime bounds how long a rendered page's forms stay usable.
const TokenLifetime = 12 * time.Hour

// FieldName is the hidden form field holding the token.
const FieldName = "csrf"

// ErrCSRF is the answer to a state-changing request without a valid token or from another site.
var ErrCSRF = errors.New("this form has expired or did not come from the tenantsync console: reload the page and try again")

func (c CSRF) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c CSRF) mac(viewerID string, ts int64) []byte {
	m := hmac.New(sha256.New, c.Key)
	m.Write([]byte("tenantsync-console-csrf\x00" + strings.ToLower(viewerID) + "\x00" + strconv.FormatInt(ts, 10)))
	return m.Sum(nil)
}

// Token returns a fresh token for the viewer.
func (c CSRF) Token(viewerID string) string {
	ts := c.now().Unix()
	return strconv.FormatInt(ts, 10) + "." + base64.RawURLEncoding.EncodeToString(c.mac(viewerID, ts))
}

// Check verifies a POST: the browser's Sec-Fetch-Site (when sent) must say same-origin, and the
// form's token must be this viewer's and fresh. Call after r.ParseForm.
func (c CSRF) Check(r *http.Request, viewerID string) error {
	if len(c.Key) == 0 {
		return errors.New("console CSRF key is not configured")
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return ErrCSRF
	}
	tok := r.PostForm.Get(FieldName)
	tsPart, macPart, ok := strings.Cut(tok, ".")
	if !ok {
		return ErrCSRF
	}
	ts, err := strconv.ParseInt(tsPart, 10, 64)
	if err != nil || strconv.FormatInt(ts, 10) != tsPart {
		return ErrCSRF
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(macPart)
	if err != nil || !hmac.Equal(got, c.mac(viewerID, ts)) {
		return ErrCSRF
	}
	age := c.now().Sub(time.Unix(ts, 0))
	if age < -time.Minute || age > TokenLifetime {
		return ErrCSRF
	}
	return nil
}

// DeriveKey derives the CSRF key from the app's state-signing key, so one secret serves both
// purposes without a token of one kind ever verifying as the other.
func DeriveKey(stateSigningKey []byte) []byte {
	m := hmac.New(sha256.New, stateSigningKey)
	m.Write([]byte("tenantsync console csrf key v1"))
	return m.Sum(nil)
}
