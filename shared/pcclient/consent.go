package pcclient

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ApplicationGrant is one resource's scopes in a control-panel-vendor consent.
type ApplicationGrant struct {
	// EnterpriseApplicationID is the resource's application id (Microsoft Graph:
	// 00000003-0000-0000-c000-000000000000).
	EnterpriseApplicationID string `json:"enterpriseApplicationId"`
	// Scope is the comma-separated permission values, e.g. "Directory.Read.All,User.Read.All".
	Scope string `json:"scope"`
}

// ApplicationConsent creates the app's service principal in a customer tenant with the given
// grants (POST /v1/customers/{id}/applicationconsents, App+User). Partner Center answers 409
// "Permission entry already exists." when the app is already there: already is then true and err
// nil, since the consent exists either way.
func (c *Client) ApplicationConsent(ctx context.Context, customerTenantID, appID string, grants []ApplicationGrant) (already bool, err error) {
	body := map[string]any{"applicationId": appID, "applicationGrants": grants}
	resp, err := c.do(ctx, http.MethodPost, "/v1/customers/"+url.PathEscape(customerTenantID)+"/applicationconsents", body, nil)
	if IsAlreadyExists(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return false, nil
}

// IsAlreadyExists reports whether err is Partner Center's "Permission entry already exists".
func IsAlreadyExists(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Status == http.StatusConflict || strings.Contains(strings.ToLower(e.Description), "already exists"))
}

// retryAfter reads a Retry-After header in seconds (whole or fractional) or as an HTTP date.
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 {
		return time.Duration(f * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}
