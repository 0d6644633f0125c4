package partner

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/shared/identity"
	"github.com/tenantsync/tenantsync/shared/secrets"
)

// refreshMargin: a cached access token is renewed this long before it expires, so a caller never
// gets one that dies in flight.
const refreshMargin = 5 * time.Minute

// Token returns a delegated access token for scope (e.g. Endpoints.PartnerCenterScope()) from the
// stored refresh token, cached per scope until shortly before it expires. Every redemption
// stores the rotated refresh token. A refresh token Entra refuses for good (AADSTS700082, 50173,
// 70043 ...) or a missing one marks the connection not connected; the error is an *domain.Problem whose
// remediation says to reconnect the partner account (/api/connect), with ErrNotConnected as cause.
func (s *Service) Token(ctx context.Context, scope string) (string, error) {
	scope = strings.TrimSpace(scope)
	if scope == "" {
		return "", errors.New("partner token: no scope")
	}
	if tok, ok := s.cached(scope); ok {
		return tok, nil
	}
	s.redeemMu.Lock()
	defer s.redeemMu.Unlock()
	if tok, ok := s.cached(scope); ok { // another caller redeemed while we waited
		return tok, nil
	}
	tr, err := s.refresh(ctx, scope)
	if err != nil {
		return "", err
	}
	return tr.AccessToken, nil
}

// TokenIn is Token for a customer tenant: the partner refresh token redeemed at
// https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token (grant_type refresh_token, the
// customer's tenant in the path) gives a delegated token for that tenant. This is how the MSP
// tools that do it in production redeem it (PowerShell Gallery: MSPToolBox Connect-MSPPartner,
// ExchangeOnlineManagement.SAM New-PartnerAccessToken, PartnerCenterLW New-PartnerAccessTokenLW;
// found with the search tool, not on a Microsoft page). Its roles (wids) are taken to be the GDAP
// access assignments' roles of the signed-in partner user (unverified on a Microsoft page).
func (s *Service) TokenIn(ctx context.Context, tenant, scope string) (string, error) {
	scope, tenant = strings.TrimSpace(scope), strings.ToLower(strings.TrimSpace(tenant))
	if scope == "" || tenant == "" {
		return "", errors.New("partner token: no tenant or scope")
	}
	key := tenant + " " + scope
	if tok, ok := s.cached(key); ok {
		return tok, nil
	}
	s.redeemMu.Lock()
	defer s.redeemMu.Unlock()
	if tok, ok := s.cached(key); ok {
		return tok, nil
	}
	tr, err := s.refreshIn(ctx, tenant, scope, key)
	if err != nil {
		return "", err
	}
	return tr.AccessToken, nil
}

// KeepAlive redeems and rotates the refresh token (the weekly timer), so it never reaches
// Entra's 90-day inactivity limit, and updates LastRefreshAt. Failures are recorded like Token's.
func (s *Service) KeepAlive(ctx context.Context) error {
	s.redeemMu.Lock()
	defer s.redeemMu.Unlock()
	_, err := s.refresh(ctx, s.o.Endpoints.PartnerCenterScope())
	if err == nil {
		s.o.Log.Info("partner refresh token renewed")
	}
	return err
}

func (s *Service) cached(scope string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cache[scope]
	if !ok || !s.now().Before(c.expires.Add(-refreshMargin)) {
		return "", false
	}
	return c.value, true
}

// refresh redeems the stored refresh token for scope, stores the rotated one and caches the
// access token. Callers hold redeemMu.
func (s *Service) refresh(ctx context.Context, scope string) (*tokenResponse, error) {
	return s.refreshIn(ctx, s.o.PartnerTenantID, scope, scope)
}

// refreshIn redeems the stored refresh token at tenant's token endpoint for scope and caches the
// access token under key. Callers hold redeemMu.
func (s *Service) refreshIn(ctx context.Context, tenant, scope, key string) (*tokenResponse, error) {
	if err := s.configured(); err != nil {
		return nil, err
	}
	rt, err := s.o.Vault.Get(ctx, identity.PartnerRefreshTokenSecret)
	if errors.Is(err, secrets.ErrNotFound) || (err == nil && rt == "") {
		return nil, s.fail(ctx, notConnected())
	}
	if err != nil {
		return nil, s.fail(ctx, fmt.Errorf("reading the partner refresh token from Key Vault: %w", err))
	}
	started := s.now()
	form := url.Values{}
	form.Set("grant_type", "refresh_token")
	form.Set("refresh_token", rt)
	form.Set("scope", scope+" offline_access")
	tr, err := s.redeemIn(ctx, tenant, form)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if tr.RefreshToken != "" && tr.RefreshToken != rt {
		if err := s.o.Vault.Set(ctx, identity.PartnerRefreshTokenSecret, tr.RefreshToken); err != nil {
			// The previous refresh token stays valid at Entra, so the access token is still good;
			// the failure is recorded so a vault problem does not go unnoticed until day 90.
			return nil, s.fail(ctx, fmt.Errorf("storing the rotated partner refresh token in Key Vault: %w", err))
		}
	}
	s.mu.Lock()
	s.cache[key] = cachedToken{value: tr.AccessToken, expires: started.Add(tr.lifetime())}
	s.mu.Unlock()
	s.succeeded(ctx)
	return tr, nil
}

// succeeded records a working connection: connected, no error, LastRefreshAt now.
func (s *Service) succeeded(ctx context.Context) {
	if err := s.ensure(ctx); err != nil {
		s.o.Log.Warn("partner record not updated", "error", err.Error())
		return
	}
	rec, err := s.o.Store.GetPartner(ctx)
	if err != nil {
		s.o.Log.Warn("partner record not read", "error", err.Error())
		return
	}
	rec.Connected, rec.LastRefreshAt = true, s.now()
	rec.ErrorCode, rec.ErrorMessage, rec.Remediation = "", "", ""
	if err := s.o.Store.PutPartner(ctx, rec); err != nil {
		s.o.Log.Warn("partner record not updated", "error", err.Error())
	}
}

// fail classifies a redemption failure, records it on the partner record (marking the connection
// not connected when only a new sign-in helps, and dropping cached tokens then) and returns the
// classified *domain.Problem.
func (s *Service) fail(ctx context.Context, err error) error {
	e, reconnect := refreshFailure(err)
	if reconnect {
		s.forget()
	}
	s.o.Log.Warn("partner token redemption failed", "code", e.Code, "message", e.Message, "reconnect", reconnect)
	if ctx.Err() != nil {
		return e
	}
	if err := s.ensure(ctx); err != nil {
		s.o.Log.Warn("partner record not updated", "error", err.Error())
		return e
	}
	rec, rerr := s.o.Store.GetPartner(ctx)
	if rerr != nil {
		s.o.Log.Warn("partner record not read", "error", rerr.Error())
		return e
	}
	if reconnect {
		rec.Connected = false
	}
	rec.ErrorCode, rec.ErrorMessage, rec.Remediation = e.Code, e.Message, e.Remediation
	if werr := s.o.Store.PutPartner(ctx, rec); werr != nil {
		s.o.Log.Warn("partner record not updated", "error", werr.Error())
	}
	return e
}
