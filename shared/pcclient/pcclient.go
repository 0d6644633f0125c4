// Package pcclient calls the Partner Center REST API (there is no Go SDK): customers with their
// continuation paging, and control-panel-vendor application consent.
package pcclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
)

// TokenSource returns a delegated (App+User) Partner Center access token.
type TokenSource func(ctx context.Context) (string, error)

// Client is a Partner Center client.
type Client struct {
	BaseURL string
	HTTP    *http.Client
	Token   TokenSource
}

// Customer is one CSP customer.
type Customer struct {
	ID             string `json:"id"`
	CompanyProfile struct {
		TenantID    string `json:"tenantId"`
		Domain      string `json:"domain"`
		CompanyName string `json:"companyName"`
	} `json:"companyProfile"`
	RelationshipToPartner string `json:"relationshipToPartner"`
}

// Error is a Partner Center error answer.
type Error struct {
	Status      int    `json:"-"`
	Code        any    `json:"code"`
	Description string `json:"description"`
	// RetryAfter is the answer's Retry-After (429), zero when absent.
	RetryAfter time.Duration `json:"-"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("Partner Center %d (code %v): %s", e.Status, e.Code, e.Description)
}

func (c *Client) do(ctx context.Context, method, path string, body any, header http.Header) (*http.Response, error) {
	tok, err := c.Token(ctx)
	if err != nil {
		return nil, err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	u := path
	if !strings.HasPrefix(path, "http") {
		u = strings.TrimRight(c.BaseURL, "/") + path
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("MS-RequestId", uuid.NewString())
	req.Header.Set("MS-CorrelationId", uuid.NewString())
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		e := &Error{Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, e) != nil || e.Description == "" {
			e.Description = strings.TrimSpace(string(b))
		}
		return nil, e
	}
	return resp, nil
}

// Customers lists every customer, following Partner Center's continuation links.
func (c *Client) Customers(ctx context.Context) ([]Customer, error) {
	var out []Customer
	path := "/v1/customers?size=500"
	var header http.Header
	for page := 0; page < 10000; page++ {
		resp, err := c.do(ctx, http.MethodGet, path, nil, header)
		if err != nil {
			return nil, err
		}
		var body struct {
			Items []Customer `json:"items"`
			Links struct {
				Next *struct {
					URI     string `json:"uri"`
					Headers []struct {
						Key   string `json:"key"`
						Value string `json:"value"`
					} `json:"headers"`
				} `json:"next"`
			} `json:"links"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("partner center customers: %w", err)
		}
		out = append(out, body.Items...)
		if body.Links.Next == nil {
			return out, nil
		}
		header = http.Header{}
		for _, h := range body.Links.Next.Headers {
			header.Set(h.Key, h.Value)
		}
		next, err := url.Parse(body.Links.Next.URI)
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(next.Path, "/") {
			next.Path = "/v1/" + next.Path
		}
		path = next.RequestURI()
	}
	return nil, fmt.Errorf("partner center customers: too many pages")
}
