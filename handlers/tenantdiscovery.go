package handlers

import (
	"context"
	"fmt"
	"time"

	"github.com/tenantsync/tenantsync/shared/consent"
	"github.com/tenantsync/tenantsync/shared/discovery"
	"github.com/tenantsync/tenantsync/shared/identity"
	"github.com/tenantsync/tenantsync/shared/invocation"
)

// tenantDiscovery is the timer that rediscovers tenants from GDAP and Partner Center.
func (d Deps) tenantDiscovery(ctx context.Context, req *invocation.Request) (*invocation.Response, error) {
	if _, err := req.Timer("timer"); err != nil {
		return nil, err
	}
	d.warnCredential(ctx)
	rep, err := d.Discovery.Run(ctx)
	if err != nil {
		return nil, err
	}
	logs := []string{fmt.Sprintf("discovered %d tenants (%d new, %d missing), %d consented", rep.Found, rep.New, rep.Missing, rep.Consented)}
	logs = append(logs, rep.Warnings...)
	if sum := d.autoConsent(ctx); sum != nil {
		logs = append(logs, sum.String())
	}
	return &invocation.Response{Logs: logs}, nil
}

// autoConsent consents every eligible tenant through Partner Center after a discovery run, when
// AUTO_CONSENT is on. It never fails discovery: problems are in the summary.
func (d Deps) autoConsent(ctx context.Context) *consent.Summary {
	if !d.AutoConsent || d.Consent == nil {
		return nil
	}
	results, err := d.Consent.GrantCPV(ctx, nil)
	sum := consent.Summarize(results)
	if err != nil {
		sum.Error = err.Error()
		if d.Log != nil {
			d.Log.Warn("automatic Partner Center consent did not run", "error", err.Error())
		}
	}
	return &sum
}

// discoveryAnswer is the discovery report plus the automatic consent's summary.
type discoveryAnswer struct {
	*discovery.Report
	Consent *consent.Summary `json:"consent,omitempty"`
}

// warnCredential logs, on every discovery run, when the app's own credential nears expiry: a
// warning weeks ahead in Application Insights instead of a failing sync on the day.
func (d Deps) warnCredential(ctx context.Context) {
	if d.Vault == nil {
		return
	}
	cs, err := identity.CheckExpiry(ctx, d.AppAuth, d.Vault, time.Now())
	if err != nil {
		invocation.Logger(ctx).Warn("checking the app credential's expiry failed", "error", err.Error())
		return
	}
	if cs.Warning != "" {
		invocation.Logger(ctx).Warn("app credential needs attention", "mode", cs.Mode, "expiresAt", cs.ExpiresAt, "warning", cs.Warning)
	}
}
