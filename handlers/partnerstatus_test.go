package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/localdev/testkit"
	"github.com/tenantsync/tenantsync/shared/partner"
	"github.com/tenantsync/tenantsync/shared/store"
)

// partnerStatusAnswer is GET /api/partner's answer.
type partnerStatusAnswer struct {
	store.PartnerConnection
	AppCredential *struct {
		Mode     string
		DaysLeft *int
		Warning  string
	}
}

// PartnerStatus: GET /api/partner answers the stored connection record (not connected when there
// is none), never a token; with Key Vault configured it adds the app credential's expiry, warning
// weeks ahead, and when Key Vault cannot say, it answers the record alone and logs why; a
// principal outside the admin group is refused. On its own Azurite (the record is one per app).
func TestPartnerStatus(t *testing.T) {
	ctx, st, _ := azuriteStore(t)
	logs := &testkit.LogBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	deps := Deps{Store: st, Partner: partner.New(partner.Options{Store: st, Log: log}), Log: log, Now: time.Now,
		AppAuth: config.AuthSecret, AdminGroupID: adminGroup, AppServiceAuth: true}
	get := func(d Deps, header ...string) (int, partnerStatusAnswer, string) {
		t.Helper()
		req := httptest.NewRequest("GET", "/api/partner", nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		rec := httptest.NewRecorder()
		New(d).ServeHTTP(rec, req)
		var a partnerStatusAnswer
		if rec.Code == http.StatusOK {
			if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
				t.Fatalf("%v in %s", err, rec.Body)
			}
		}
		return rec.Code, a, rec.Body.String()
	}

	if code, a, body := get(deps); code != http.StatusOK || a.Connected || a.ConnectedBy != "" || a.AppCredential != nil {
		t.Errorf("never connected: %d %s", code, body)
	}
	connected := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	rec := store.PartnerConnection{Connected: true, ConnectedBy: "svc-tenantsync@contosomsp.onmicrosoft.com", ConnectedAt: connected, LastRefreshAt: connected.Add(time.Hour)}
	if err := st.PutPartner(ctx, rec); err != nil {
		t.Fatal(err)
	}
	code, a, body := get(deps)
	if code != http.StatusOK || a.PartnerConnection != rec || a.AppCredential != nil {
		t.Errorf("connected: %d %s", code, body)
	}
	if m := tokenShapes.FindString(body); m != "" {
		t.Errorf("the answer holds something token-shaped: %s", m)
	}

	// The app credential's expiry (Key Vault's attributes, here a fake of identity.Expirer).
	expires := time.Now().Add(10 * 24 * time.Hour).UTC()
	withVault := deps
	withVault.Vault = fixedExpiry(expires)
	code, a, body = get(withVault)
	if c := a.AppCredential; code != http.StatusOK || a.ConnectedBy != rec.ConnectedBy || c == nil || c.Mode != config.AuthSecret || c.DaysLeft == nil || *c.DaysLeft != 9 || c.Warning == "" {
		t.Errorf("credential expiry: %d %s", code, body)
	}
	withVault.Vault = failingExpiry{}
	code, a, body = get(withVault)
	if code != http.StatusOK || a.ConnectedBy != rec.ConnectedBy || a.AppCredential != nil || strings.Contains(body, "vault forbidden") {
		t.Errorf("Key Vault failing: %d %s", code, body)
	}
	if !strings.Contains(logs.String(), "checking the app credential's expiry failed") || !strings.Contains(logs.String(), "vault forbidden") {
		t.Errorf("the expiry check's failure is not logged: %s", logs)
	}

	if code, _, body := get(deps, "X-MS-CLIENT-PRINCIPAL", principal("bob", "other-group")); code != http.StatusForbidden {
		t.Errorf("outside the admin group: %d %s", code, body)
	}
}

// failingExpiry is an identity.Expirer that cannot read the secret's attributes.
type failingExpiry struct{}

func (failingExpiry) Expiry(context.Context, string) (time.Time, error) {
	return time.Time{}, errors.New("vault forbidden")
}
