// Package keyvault simulates the Key Vault secrets data plane: challenge-based bearer auth as the
// azsecrets SDK expects it, versioned secrets, paged listing and soft delete with recover and
// purge, answering with Key Vault's own error bodies. Secret values live only in memory and are
// never logged.
package keyvault

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/metrics"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/token"
)

// Key Vault's resource: the audience of its tokens and the resource named in its challenge.
const (
	Audience = "https://vault.azure.net"
	// AppID is the Azure Key Vault first-party application id (v1 tokens carry it as aud).
	AppID = "cfa8b339-82a2-471a-a3c9-0fc0be7a4093"
)

// Limits Key Vault documents: names 1-127 of [0-9a-zA-Z-]; values up to 25 KB; list pages up to 25.
const (
	maxValueBytes   = 25 * 1024
	defaultPageSize = 25
	maxPageSize     = 25
	retentionDays   = 90
	recoveryLevel   = "Recoverable+Purgeable"
)

var nameRE = regexp.MustCompile(`^[0-9a-zA-Z-]{1,127}$`)

// apiVersionRE accepts the 7.x versions and the date-based ones that followed (azsecrets v1.5.1
// sends 2026-04-01).
var apiVersionRE = regexp.MustCompile(`^(7\.[0-9]+|20[0-9]{2}-[01][0-9]-[0-3][0-9])(-preview(\.[0-9]+)?)?$`)

// Options wire the service to the simulator's shared state.
type Options struct {
	Issuer  *token.Issuer
	Metrics *metrics.Recorder
	// VaultURL is the vault's URL as clients see it, e.g. https://127.0.0.1:port/.
	VaultURL string
	// TenantID is the vault's tenant (the partner's): the 401 challenge names its authority.
	TenantID string
	// Now dates secrets and deletions; nil: the issuer's clock (the scenario clock).
	Now func() time.Time
}

// Service serves the vault host. Safe for concurrent use.
type Service struct {
	opts     Options
	vaultURL string // without the trailing slash, as ids start
	pageKey  []byte // signs $skiptoken values so clients cannot forge or alter them

	mu      sync.Mutex
	secrets map[string]*secret        // lower-case name → live secret
	deleted map[string]*deletedSecret // lower-case name → soft-deleted secret
}

type secret struct {
	name     string     // as first created: Key Vault names are case-insensitive but keep their case
	versions []*version // oldest first; the last is the current one
}

type version struct {
	id          string
	value       string
	contentType *string
	enabled     bool
	nbf, exp    *int64
	created     int64
	updated     int64
	tags        map[string]string
}

type deletedSecret struct {
	s              *secret
	deletedDate    int64
	scheduledPurge int64
}

// New builds the service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
		if o.Issuer != nil {
			o.Now = o.Issuer.Now
		}
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &Service{
		opts: o, vaultURL: strings.TrimRight(o.VaultURL, "/"), pageKey: key,
		secrets: map[string]*secret{}, deleted: map[string]*deletedSecret{},
	}
}

// kvError is Key Vault's error body: {"error":{"code","message","innererror":{"code"}}}.
type kvError struct {
	Code       string   `json:"code"`
	Message    string   `json:"message"`
	InnerError *kvError `json:"innererror,omitempty"`
}

type apiError struct {
	status int
	err    kvError
}

func (e *apiError) Error() string { return e.err.Code + ": " + e.err.Message }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, err: kvError{Code: code, Message: fmt.Sprintf(format, args...)}}
}

func secretNotFound(name string) *apiError {
	return errf(404, "SecretNotFound", "A secret with (name/id) %s was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182", name)
}

func deletedNotFound(name string) *apiError {
	return errf(404, "SecretNotFound", "Deleted Secret not found: %s", name)
}

func badName(name string) *apiError {
	return errf(400, "BadParameter", "The request URI contains an invalid name: %s", name)
}

// respWriter records the status for metrics.
type respWriter struct {
	http.ResponseWriter
	status int
}

func (w *respWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (s *Service) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w := &respWriter{ResponseWriter: rw}
	route, handler := s.route(r)
	defer func() { s.opts.Metrics.Observe("keyvault", "", r.Method+" "+route, w.status) }()

	reqID := uuid.NewString()
	w.Header().Set("x-ms-request-id", reqID)
	if c := r.Header.Get("x-ms-client-request-id"); c != "" {
		w.Header().Set("x-ms-client-request-id", c)
	}
	w.Header().Set("x-ms-keyvault-service-version", "1.9.0.0")

	if err := s.authenticate(r); err != nil {
		// Every 401 carries the challenge, as Key Vault's do: it is how azsecrets learns the
		// tenant and resource to ask a token for.
		w.Header().Set("WWW-Authenticate", s.Challenge())
		writeError(w, err)
		return
	}
	if v := r.URL.Query().Get("api-version"); v == "" {
		writeError(w, errf(400, "BadParameter", "The api-version query parameter is missing; Key Vault requires one (for example api-version=7.6)."))
		return
	} else if !apiVersionRE.MatchString(v) {
		writeError(w, errf(400, "BadParameter", "The specified version (%s) is not recognized. Consider using the latest supported version (7.6).", v))
		return
	}
	if handler == nil {
		writeError(w, errf(404, "NotFound", "The requested path %s was not found on this vault (method %s).", r.URL.Path, r.Method))
		return
	}
	v, status, err := handler()
	if err != nil {
		writeError(w, err)
		return
	}
	if v == nil {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, v)
}

// Challenge is the WWW-Authenticate value of every 401. azsecrets' challenge policy (keyvault
// internal v1.2.0) strips "Bearer ", splits on spaces and "=", takes the tenant from the fourth
// "/"-separated part of authorization and the scope from resource (+"/.default"); so values carry
// no spaces or "=" and the authority has no path.
func (s *Service) Challenge() string {
	authority := ""
	if s.opts.Issuer != nil {
		authority = s.opts.Issuer.Authority()
	}
	return fmt.Sprintf(`Bearer authorization="%s/%s", resource="%s"`, authority, s.opts.TenantID, Audience)
}

func (s *Service) authenticate(r *http.Request) *apiError {
	raw := token.Bearer(r.Header.Get("Authorization"))
	if raw == "" {
		return errf(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
	}
	if s.opts.Issuer == nil {
		return errf(401, "Unauthorized", "Error validating token: no token issuer is configured.")
	}
	c, err := s.opts.Issuer.Verify(raw)
	switch {
	case errors.Is(err, token.ErrExpired):
		return errf(401, "Unauthorized", "Error validating token: IDX10223: Lifetime validation failed. The token is expired.")
	case err != nil:
		return errf(401, "Unauthorized", "Error validating token: the token is malformed or not signed by this cloud's login service.")
	}
	if !c.AudienceMatches(Audience, AppID) {
		return errf(401, "Unauthorized", "AKV10022: Invalid audience. Expected %s, found: %s.", Audience, strings.Join(c.Audience, ", "))
	}
	if !strings.EqualFold(c.TenantID, s.opts.TenantID) {
		return errf(401, "Unauthorized", "AKV10032: Invalid issuer. Expected one of %s, found %s.", s.opts.Issuer.IssuerURL(s.opts.TenantID), c.Issuer)
	}
	return nil
}

type handlerFunc func() (any, int, *apiError)

// route maps a request to its normalised metrics name and handler (nil: no such operation).
func (s *Service) route(r *http.Request) (string, handlerFunc) {
	p := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	// azsecrets asks for the current version as /secrets/{name}/ (empty version).
	trailing := strings.HasSuffix(r.URL.Path, "/") && len(p) == 2
	q := r.URL.Query()
	switch {
	case len(p) == 1 && p[0] == "secrets":
		if r.Method == http.MethodGet {
			return "/secrets", func() (any, int, *apiError) { return s.listSecrets(q) }
		}
		return "/secrets", nil
	case len(p) == 2 && p[0] == "secrets":
		name := p[1]
		switch r.Method {
		case http.MethodPut:
			return "/secrets/{name}", func() (any, int, *apiError) { return s.setSecret(name, r.Body) }
		case http.MethodGet:
			return "/secrets/{name}", func() (any, int, *apiError) { return s.getSecret(name, "") }
		case http.MethodDelete:
			if trailing {
				return "/secrets/{name}", nil
			}
			return "/secrets/{name}", func() (any, int, *apiError) { return s.deleteSecret(name) }
		case http.MethodPatch:
			return "/secrets/{name}/{version}", func() (any, int, *apiError) { return s.updateSecret(name, "", r.Body) }
		}
		return "/secrets/{name}", nil
	case len(p) == 3 && p[0] == "secrets" && p[2] == "versions":
		name := p[1]
		if r.Method == http.MethodGet {
			return "/secrets/{name}/versions", func() (any, int, *apiError) { return s.listVersions(name, q) }
		}
		return "/secrets/{name}/versions", nil
	case len(p) == 3 && p[0] == "secrets":
		name, ver := p[1], p[2]
		switch r.Method {
		case http.MethodGet:
			return "/secrets/{name}/{version}", func() (any, int, *apiError) { return s.getSecret(name, ver) }
		case http.MethodPatch:
			return "/secrets/{name}/{version}", func() (any, int, *apiError) { return s.updateSecret(name, ver, r.Body) }
		}
		return "/secrets/{name}/{version}", nil
	case len(p) == 1 && p[0] == "deletedsecrets":
		if r.Method == http.MethodGet {
			return "/deletedsecrets", func() (any, int, *apiError) { return s.listDeleted(q) }
		}
		return "/deletedsecrets", nil
	case len(p) == 2 && p[0] == "deletedsecrets":
		name := p[1]
		switch r.Method {
		case http.MethodGet:
			return "/deletedsecrets/{name}", func() (any, int, *apiError) { return s.getDeleted(name) }
		case http.MethodDelete:
			return "/deletedsecrets/{name}", func() (any, int, *apiError) { return s.purge(name) }
		}
		return "/deletedsecrets/{name}", nil
	case len(p) == 3 && p[0] == "deletedsecrets" && p[2] == "recover":
		name := p[1]
		if r.Method == http.MethodPost {
			return "/deletedsecrets/{name}/recover", func() (any, int, *apiError) { return s.recover(name) }
		}
		return "/deletedsecrets/{name}/recover", nil
	}
	return "other", nil
}

// Wire shapes (SecretBundle, SecretItem, DeletedSecretBundle, DeletedSecretItem).

type attributes struct {
	Enabled         *bool  `json:"enabled,omitempty"`
	NotBefore       *int64 `json:"nbf,omitempty"`
	Expires         *int64 `json:"exp,omitempty"`
	Created         int64  `json:"created,omitempty"`
	Updated         int64  `json:"updated,omitempty"`
	RecoverableDays int    `json:"recoverableDays,omitempty"`
	RecoveryLevel   string `json:"recoveryLevel,omitempty"`
}

type bundle struct {
	Value       *string           `json:"value,omitempty"`
	ID          string            `json:"id"`
	ContentType *string           `json:"contentType,omitempty"`
	Attributes  attributes        `json:"attributes"`
	Tags        map[string]string `json:"tags,omitempty"`
	// Deleted secrets only.
	RecoveryID         string `json:"recoveryId,omitempty"`
	DeletedDate        int64  `json:"deletedDate,omitempty"`
	ScheduledPurgeDate int64  `json:"scheduledPurgeDate,omitempty"`
}

type listResult struct {
	Value    []bundle `json:"value"`
	NextLink *string  `json:"nextLink"`
}

func (s *Service) secretID(name, ver string) string {
	if ver == "" {
		return s.vaultURL + "/secrets/" + name
	}
	return s.vaultURL + "/secrets/" + name + "/" + ver
}

func (v *version) attrs() attributes {
	en := v.enabled
	return attributes{Enabled: &en, NotBefore: v.nbf, Expires: v.exp, Created: v.created, Updated: v.updated,
		RecoverableDays: retentionDays, RecoveryLevel: recoveryLevel}
}

func (s *Service) bundleOf(sec *secret, v *version, withValue bool) bundle {
	b := bundle{ID: s.secretID(sec.name, v.id), ContentType: v.contentType, Attributes: v.attrs(), Tags: copyTags(v.tags)}
	if withValue {
		val := v.value
		b.Value = &val
	}
	return b
}

func (s *Service) deletedBundleOf(d *deletedSecret, item bool) bundle {
	cur := d.s.versions[len(d.s.versions)-1]
	b := s.bundleOf(d.s, cur, false)
	if item {
		b.ID = s.secretID(d.s.name, "")
	}
	b.RecoveryID = s.vaultURL + "/deletedsecrets/" + d.s.name
	b.DeletedDate = d.deletedDate
	b.ScheduledPurgeDate = d.scheduledPurge
	return b
}

func copyTags(t map[string]string) map[string]string {
	if len(t) == 0 {
		return nil
	}
	out := make(map[string]string, len(t))
	for k, v := range t {
		out[k] = v
	}
	return out
}

// Operations. Each locks s.mu for its whole duration; they are cheap.

type setParams struct {
	Value       *string           `json:"value"`
	ContentType *string           `json:"contentType"`
	Attributes  *inAttributes     `json:"attributes"`
	Tags        map[string]string `json:"tags"`
}

type inAttributes struct {
	Enabled   *bool  `json:"enabled"`
	NotBefore *int64 `json:"nbf"`
	Expires   *int64 `json:"exp"`
}

func decodeBody(body io.Reader, into any) *apiError {
	b, err := io.ReadAll(io.LimitReader(body, 1<<20))
	if err != nil {
		return errf(400, "BadParameter", "The request body could not be read.")
	}
	if len(b) == 0 {
		return errf(400, "BadParameter", "The request body is empty; a JSON object is required.")
	}
	if err := json.Unmarshal(b, into); err != nil {
		return errf(400, "BadParameter", "The request body is not valid JSON: %s", jsonErr(err))
	}
	return nil
}

// jsonErr describes a decoding error without echoing the body (which may hold a secret value).
func jsonErr(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at offset %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q has the wrong type (%s)", te.Field, te.Value)
	}
	return "invalid document"
}

func (s *Service) newVersionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Service) setSecret(name string, body io.Reader) (any, int, *apiError) {
	if !nameRE.MatchString(name) {
		return nil, 0, badName(name)
	}
	var p setParams
	if err := decodeBody(body, &p); err != nil {
		return nil, 0, err
	}
	if p.Value == nil {
		return nil, 0, errf(400, "BadParameter", "The secret value is required: the request body must have a \"value\" property.")
	}
	if len(*p.Value) > maxValueBytes {
		return nil, 0, errf(400, "BadParameter", "The secret value is %d bytes; Key Vault secrets hold at most %d bytes.", len(*p.Value), maxValueBytes)
	}
	if len(p.Tags) > 15 {
		return nil, 0, errf(400, "BadParameter", "A secret can have at most 15 tags; the request has %d.", len(p.Tags))
	}
	now := s.opts.Now().Unix()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireDeletedLocked()
	key := strings.ToLower(name)
	if d := s.deleted[key]; d != nil {
		e := errf(409, "Conflict", "Secret %s is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.", d.s.name)
		e.err.InnerError = &kvError{Code: "ObjectIsDeletedButRecoverable"}
		return nil, 0, e
	}
	sec := s.secrets[key]
	if sec == nil {
		sec = &secret{name: name}
		s.secrets[key] = sec
	}
	v := &version{id: s.newVersionID(), value: *p.Value, contentType: p.ContentType, enabled: true, created: now, updated: now, tags: copyTags(p.Tags)}
	if a := p.Attributes; a != nil {
		if a.Enabled != nil {
			v.enabled = *a.Enabled
		}
		v.nbf, v.exp = a.NotBefore, a.Expires
	}
	sec.versions = append(sec.versions, v)
	return s.bundleOf(sec, v, true), http.StatusOK, nil
}

func (s *Service) lookupLocked(name, ver string) (*secret, *version, *apiError) {
	if !nameRE.MatchString(name) {
		return nil, nil, badName(name)
	}
	sec := s.secrets[strings.ToLower(name)]
	if sec == nil {
		return nil, nil, secretNotFound(name)
	}
	if ver == "" {
		return sec, sec.versions[len(sec.versions)-1], nil
	}
	for _, v := range sec.versions {
		if strings.EqualFold(v.id, ver) {
			return sec, v, nil
		}
	}
	return nil, nil, secretNotFound(name + "/" + ver)
}

func (s *Service) getSecret(name, ver string) (any, int, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, v, err := s.lookupLocked(name, ver)
	if err != nil {
		return nil, 0, err
	}
	if !v.enabled {
		e := errf(403, "Forbidden", "Operation get is not allowed on a disabled secret.")
		e.err.InnerError = &kvError{Code: "SecretDisabled"}
		return nil, 0, e
	}
	return s.bundleOf(sec, v, true), http.StatusOK, nil
}

func (s *Service) updateSecret(name, ver string, body io.Reader) (any, int, *apiError) {
	var p setParams
	if err := decodeBody(body, &p); err != nil {
		return nil, 0, err
	}
	if p.Value != nil {
		return nil, 0, errf(400, "BadParameter", "The secret value cannot be changed by an update; set a new version with PUT /secrets/%s instead.", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, v, err := s.lookupLocked(name, ver)
	if err != nil {
		return nil, 0, err
	}
	if p.ContentType != nil {
		v.contentType = p.ContentType
	}
	if a := p.Attributes; a != nil {
		if a.Enabled != nil {
			v.enabled = *a.Enabled
		}
		if a.NotBefore != nil {
			v.nbf = a.NotBefore
		}
		if a.Expires != nil {
			v.exp = a.Expires
		}
	}
	if p.Tags != nil {
		v.tags = copyTags(p.Tags)
	}
	v.updated = s.opts.Now().Unix()
	return s.bundleOf(sec, v, false), http.StatusOK, nil
}

func (s *Service) deleteSecret(name string) (any, int, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, _, err := s.lookupLocked(name, "")
	if err != nil {
		return nil, 0, err
	}
	now := s.opts.Now()
	d := &deletedSecret{s: sec, deletedDate: now.Unix(), scheduledPurge: now.AddDate(0, 0, retentionDays).Unix()}
	key := strings.ToLower(sec.name)
	delete(s.secrets, key)
	s.deleted[key] = d
	return s.deletedBundleOf(d, false), http.StatusOK, nil
}

// expireDeletedLocked purges deleted secrets past their scheduled purge date, as the service does.
func (s *Service) expireDeletedLocked() {
	now := s.opts.Now().Unix()
	for k, d := range s.deleted {
		if d.scheduledPurge <= now {
			delete(s.deleted, k)
		}
	}
}

func (s *Service) deletedLocked(name string) (*deletedSecret, *apiError) {
	if !nameRE.MatchString(name) {
		return nil, badName(name)
	}
	s.expireDeletedLocked()
	d := s.deleted[strings.ToLower(name)]
	if d == nil {
		return nil, deletedNotFound(name)
	}
	return d, nil
}

func (s *Service) getDeleted(name string) (any, int, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.deletedLocked(name)
	if err != nil {
		return nil, 0, err
	}
	return s.deletedBundleOf(d, false), http.StatusOK, nil
}

func (s *Service) purge(name string) (any, int, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.deletedLocked(name); err != nil {
		return nil, 0, err
	}
	delete(s.deleted, strings.ToLower(name))
	return nil, http.StatusNoContent, nil
}

func (s *Service) recover(name string) (any, int, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.deletedLocked(name)
	if err != nil {
		return nil, 0, err
	}
	key := strings.ToLower(name)
	delete(s.deleted, key)
	s.secrets[key] = d.s
	// Key Vault answers a recover with the current version's bundle, without the value.
	return s.bundleOf(d.s, d.s.versions[len(d.s.versions)-1], false), http.StatusOK, nil
}

// Paging: nextLink carries a $skiptoken that is opaque to clients and signed, so a forged or
// edited token is refused instead of silently returning another listing's items.

type pageToken struct {
	List  string `json:"l"` // which listing: "secrets", "deleted" or "versions/{name}"
	After string `json:"a"` // the last name (lower case) or version index returned
}

func (s *Service) encodeSkip(t pageToken) string {
	b, _ := json.Marshal(t)
	mac := hmac.New(sha256.New, s.pageKey)
	mac.Write(b)
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:16])
}

func (s *Service) decodeSkip(raw, list string) (pageToken, *apiError) {
	bad := errf(400, "BadParameter", "The $skiptoken is not valid for this request; start the listing again without it.")
	payload, sig, ok := strings.Cut(raw, ".")
	if !ok {
		return pageToken{}, bad
	}
	b, err1 := base64.RawURLEncoding.DecodeString(payload)
	got, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil {
		return pageToken{}, bad
	}
	mac := hmac.New(sha256.New, s.pageKey)
	mac.Write(b)
	if !hmac.Equal(got, mac.Sum(nil)[:16]) {
		return pageToken{}, bad
	}
	var t pageToken
	if json.Unmarshal(b, &t) != nil || t.List != list {
		return pageToken{}, bad
	}
	return t, nil
}

func pageSize(q url.Values) (int, *apiError) {
	v := q.Get("maxresults")
	if v == "" {
		return defaultPageSize, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxPageSize {
		return 0, errf(400, "BadParameter", "The value %q of parameter maxresults is not valid: it must be an integer between 1 and %d.", v, maxPageSize)
	}
	return n, nil
}

func (s *Service) nextLink(path string, q url.Values, size int, t pageToken) *string {
	nq := url.Values{}
	nq.Set("api-version", q.Get("api-version"))
	nq.Set("$skiptoken", s.encodeSkip(t))
	nq.Set("maxresults", strconv.Itoa(size))
	l := s.vaultURL + path + "?" + nq.Encode()
	return &l
}

// page returns up to size items of sorted keys after the token's position, and the next link.
func (s *Service) page(path, list string, q url.Values, keys []string, item func(k string) bundle) (any, int, *apiError) {
	size, err := pageSize(q)
	if err != nil {
		return nil, 0, err
	}
	start := 0
	if raw := q.Get("$skiptoken"); raw != "" {
		t, err := s.decodeSkip(raw, list)
		if err != nil {
			return nil, 0, err
		}
		start = sort.SearchStrings(keys, t.After)
		if start < len(keys) && keys[start] == t.After {
			start++
		}
	}
	res := listResult{Value: []bundle{}}
	end := min(start+size, len(keys))
	for _, k := range keys[start:end] {
		res.Value = append(res.Value, item(k))
	}
	if end < len(keys) {
		res.NextLink = s.nextLink(path, q, size, pageToken{List: list, After: keys[end-1]})
	}
	return res, http.StatusOK, nil
}

func sortedKeys[T any](m map[string]T) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (s *Service) listSecrets(q url.Values) (any, int, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.page("/secrets", "secrets", q, sortedKeys(s.secrets), func(k string) bundle {
		sec := s.secrets[k]
		b := s.bundleOf(sec, sec.versions[len(sec.versions)-1], false)
		b.ID = s.secretID(sec.name, "")
		return b
	})
}

func (s *Service) listDeleted(q url.Values) (any, int, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireDeletedLocked()
	return s.page("/deletedsecrets", "deleted", q, sortedKeys(s.deleted), func(k string) bundle {
		return s.deletedBundleOf(s.deleted[k], true)
	})
}

func (s *Service) listVersions(name string, q url.Values) (any, int, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !nameRE.MatchString(name) {
		return nil, 0, badName(name)
	}
	sec := s.secrets[strings.ToLower(name)]
	if sec == nil {
		// Key Vault lists no versions of an unknown secret rather than failing.
		return listResult{Value: []bundle{}}, http.StatusOK, nil
	}
	// Versions page in creation order; the key is the zero-padded index so it sorts as a string.
	keys := make([]string, len(sec.versions))
	for i := range sec.versions {
		keys[i] = fmt.Sprintf("%08d", i)
	}
	return s.page("/secrets/"+sec.name+"/versions", "versions/"+strings.ToLower(sec.name), q, keys, func(k string) bundle {
		i, _ := strconv.Atoi(k)
		return s.bundleOf(sec, sec.versions[i], false)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.status, map[string]kvError{"error": e.err})
}
