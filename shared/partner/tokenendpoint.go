package partner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/shared/identity"
)

// tokenResponse is the token endpoint's answer. Its values are secrets: never log or format it.
type tokenResponse struct {
	TokenType    string  `json:"token_type"`
	Scope        string  `json:"scope"`
	ExpiresIn    flexInt `json:"expires_in"`
	AccessToken  string  `json:"access_token"`
	RefreshToken string  `json:"refresh_token"`
	IDToken      string  `json:"id_token"`
}

// String keeps tokens out of any accidental %v.
func (tokenResponse) String() string { return "tokenResponse{redacted}" }

// flexInt reads expires_in as Entra v2 sends it (a number) and as v1 did (a string).
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("expires_in %q is not a number", s)
	}
	*f = flexInt(n)
	return nil
}

// EntraError is Entra's error answer from the token endpoint:
// {error, error_description: "AADSTSnnnn: ...\r\nTrace ID: ...", error_codes: [n], ...}.
type EntraError struct {
	Status      int
	Err         string // OAuth error value (invalid_grant, invalid_client ...)
	Description string // first line of error_description
	Codes       []int
}

func (e *EntraError) Error() string {
	d := e.Description
	if d == "" {
		d = "no description"
	}
	if len(e.Codes) > 0 && !strings.Contains(d, "AADSTS") {
		d = fmt.Sprintf("AADSTS%d: %s", e.Codes[0], d)
	}
	return fmt.Sprintf("token endpoint: %s: %s", e.Err, d)
}

// maxTokenAnswer bounds what is read from the token endpoint.
const maxTokenAnswer = 1 << 20

// redeem posts a grant to the partner tenant's token endpoint with the app's secret.
func (s *Service) redeem(ctx context.Context, form url.Values) (*tokenResponse, error) {
	return s.redeemIn(ctx, s.o.PartnerTenantID, form)
}

// redeemIn is redeem at tenant's token endpoint.
func (s *Service) redeemIn(ctx context.Context, tenant string, form url.Values) (*tokenResponse, error) {
	if err := s.configured(); err != nil {
		return nil, err
	}
	form.Set("client_id", s.o.ClientID)
	endpoint := s.authority(tenant) + "/oauth2/v2.0/token"
	if s.o.ClientAssertion != nil {
		a, err := s.o.ClientAssertion(ctx, endpoint)
		if err != nil {
			return nil, err
		}
		form.Set("client_assertion_type", identity.AssertionType)
		form.Set("client_assertion", a)
	} else {
		form.Set("client_secret", s.o.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		// *url.Error names the URL (no secrets in it: they are in the body).
		return nil, fmt.Errorf("token endpoint: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenAnswer))
	if err != nil {
		return nil, fmt.Errorf("token endpoint: reading the answer: %w", err)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
			Codes       []int  `json:"error_codes"`
		}
		if mt == "application/json" && json.Unmarshal(body, &e) == nil && e.Error != "" {
			return nil, &EntraError{Status: resp.StatusCode, Err: e.Error, Description: clean(e.Description, 600), Codes: e.Codes}
		}
		// Not Entra's shape (a proxy, an outage page): the status only, never the body.
		return nil, fmt.Errorf("token endpoint answered HTTP %d (%s) without an OAuth error", resp.StatusCode, mt)
	}
	var tr tokenResponse
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&tr); err != nil {
		return nil, fmt.Errorf("token endpoint: the answer is not a token response (%s)", mt)
	}
	if tr.AccessToken == "" {
		return nil, fmt.Errorf("token endpoint: the answer carries no access token")
	}
	if !strings.EqualFold(tr.TokenType, "Bearer") {
		return nil, fmt.Errorf("token endpoint: token type %q, want Bearer", clean(tr.TokenType, 32))
	}
	return &tr, nil
}

// lifetime is how long the access token lives from now (expires_in, default one hour).
func (tr *tokenResponse) lifetime() time.Duration {
	if tr.ExpiresIn <= 0 {
		return time.Hour
	}
	return time.Duration(tr.ExpiresIn) * time.Second
}
