package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// ErrInvalidSkipToken is returned (wrapped) for a skip token that is garbage, altered, or from a
// different table or tenant; the read API answers it with 400.
var ErrInvalidSkipToken = errors.New("invalid skip token")

// MaxPageSize is the largest page Page returns (Table Storage returns at most 1,000 per query).
const MaxPageSize = 999

// Page reads one page of a tenant's collection as domain-shaped JSON objects, in RowKey order.
// top is clamped to 1..MaxPageSize. skipToken is "" for the first page, else the nextSkipToken of
// the previous page; nextSkipToken is "" after the last page.
func (s *Store) Page(ctx context.Context, table, tenantID string, top int, skipToken string) (items []json.RawMessage, nextSkipToken string, err error) {
	if err := checkTableTenant(table, tenantID); err != nil {
		return nil, "", fmt.Errorf("page: %w", err)
	}
	top = min(max(top, 1), MaxPageSize)
	var next *continuation
	if skipToken != "" {
		if next, err = decodeSkipToken(skipToken, table, tenantID); err != nil {
			return nil, "", err
		}
	}
	client := s.svc.NewClient(table)
	filter := fmt.Sprintf("PartitionKey eq '%s'", tenantID)
	items = []json.RawMessage{}
	// The service may return fewer rows than asked (at most 1,000, or whatever it read in its time
	// budget) together with a continuation; keep reading until the page is full or the rows end.
	// The round cap only bounds a service that keeps returning empty pages.
	for round := 0; round < 10 && len(items) < top; round++ {
		n := int32(top - len(items))
		opts := &aztables.ListEntitiesOptions{Filter: &filter, Top: &n}
		if next != nil {
			opts.NextPartitionKey, opts.NextRowKey = &next.PK, &next.RK
		}
		resp, err := client.NewListEntitiesPager(opts).NextPage(ctx)
		if err != nil {
			return nil, "", fmt.Errorf("page %s/%s: %w", table, tenantID, err)
		}
		for _, raw := range resp.Entities {
			item, err := entityJSON(raw)
			if err != nil {
				return nil, "", fmt.Errorf("page %s/%s: %w", table, tenantID, err)
			}
			items = append(items, item)
		}
		next = nil
		if pk, rk := strOrEmpty(resp.NextPartitionKey), strOrEmpty(resp.NextRowKey); pk != "" || rk != "" {
			next = &continuation{PK: pk, RK: rk}
		}
		if next == nil {
			break
		}
	}
	if next != nil {
		nextSkipToken = encodeSkipToken(table, tenantID, *next)
	}
	return items, nextSkipToken, nil
}

// Count counts a tenant's rows in table, reading only their keys (1,000 per request).
func (s *Store) Count(ctx context.Context, table, tenantID string) (int, error) {
	return s.CountWhere(ctx, table, tenantID, "")
}

// CountWhere counts a tenant's rows matching an OData filter (a constant written by the caller,
// never user input), e.g. "Licenses ne ”".
func (s *Store) CountWhere(ctx context.Context, table, tenantID, where string) (int, error) {
	if err := checkTableTenant(table, tenantID); err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	filter := fmt.Sprintf("PartitionKey eq '%s'", tenantID)
	if where != "" {
		filter += " and (" + where + ")"
	}
	sel := "RowKey"
	pager := s.svc.NewClient(table).NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter, Select: &sel})
	n := 0
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("count %s/%s: %w", table, tenantID, err)
		}
		n += len(page.Entities)
	}
	return n, nil
}

// Get reads one object by its key (escaped with EscapeKey, as Put does). A missing row gives an
// error for which IsNotFound is true.
func (s *Store) Get(ctx context.Context, table, tenantID, key string) (json.RawMessage, error) {
	if err := checkTableTenant(table, tenantID); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	rk, err := escapeRowKey(key)
	if err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	resp, err := s.svc.NewClient(table).GetEntity(ctx, tenantID, rk, nil)
	if err != nil {
		return nil, fmt.Errorf("get %s/%s/%s: %w", table, tenantID, rk, err)
	}
	return entityJSON(resp.Value)
}

func strOrEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// continuation is Table Storage's x-ms-continuation-NextPartitionKey / NextRowKey pair.
type continuation struct {
	PK string `json:"npk"`
	RK string `json:"nrk"`
}

type skipTokenBody struct {
	V      int    `json:"v"`
	Table  string `json:"t"`
	Tenant string `json:"tid"`
	continuation
}

// The token is base64url(JSON) "." base64url(first 9 bytes of its SHA-256). The checksum catches
// truncated or edited tokens; it is not a secret-keyed MAC and needs not be: a forged token can
// only move the start of a listing inside the caller's own tenant partition, which the filter pins.
const skipTokenSumLen = 9

func encodeSkipToken(table, tenantID string, c continuation) string {
	b, _ := json.Marshal(skipTokenBody{V: 1, Table: table, Tenant: tenantID, continuation: c})
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(sum[:skipTokenSumLen])
}

func decodeSkipToken(token, table, tenantID string) (*continuation, error) {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrInvalidSkipToken, why) }
	if len(token) > 4096 {
		return nil, bad("too long")
	}
	payload, sum, ok := strings.Cut(token, ".")
	if !ok {
		return nil, bad("malformed")
	}
	// Strict: a skiptoken has exactly one accepted spelling.
	b, err1 := base64.RawURLEncoding.Strict().DecodeString(payload)
	gotSum, err2 := base64.RawURLEncoding.Strict().DecodeString(sum)
	if err1 != nil || err2 != nil {
		return nil, bad("malformed")
	}
	want := sha256.Sum256(b)
	if !bytes.Equal(gotSum, want[:skipTokenSumLen]) {
		return nil, bad("checksum mismatch")
	}
	var t skipTokenBody
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil || t.V != 1 {
		return nil, bad("malformed")
	}
	if !strings.EqualFold(t.Table, table) || !strings.EqualFold(t.Tenant, tenantID) {
		return nil, bad("issued for another collection")
	}
	if t.PK == "" && t.RK == "" {
		return nil, bad("empty continuation")
	}
	return &t.continuation, nil
}
