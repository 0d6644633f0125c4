package entra

import (
	"fmt"
	"strings"
	"time"
)

// user is someone who can sign in: a partner user (the MSP's staff and service account) or a
// user of a customer tenant.
type user struct {
	ID, UPN, Name string
	HomeTenant    string // tenant id (lower case)
	Partner       bool
	MFA           bool   // completes MFA at sign-in by default
	SignInError   string // scenario-injected AADSTS code failing every sign-in
	Disabled      bool
	Groups        []string // partner users' group object ids
	GDAPAgent     bool     // in the security group of the scenario's GDAP access assignments
}

func errUnknownUser(upn string) error { return fmt.Errorf("entra: no user %q in the scenario", upn) }

// lookupUser finds a user by UPN or object id: partner users first, then the user of the
// customer tenant named by the UPN's domain.
func (s *Service) lookupUser(idOrUPN string) (user, bool) {
	p := s.world.Partner()
	for _, u := range p.Users {
		if strings.EqualFold(u.UPN, idOrUPN) || strings.EqualFold(u.ID, idOrUPN) {
			return user{ID: strings.ToLower(u.ID), UPN: u.UPN, Name: u.DisplayName, HomeTenant: strings.ToLower(p.TenantID),
				Partner: true, MFA: u.MFA, SignInError: u.SignInError, Groups: u.Groups, GDAPAgent: u.GDAPAgent}, true
		}
	}
	at := strings.LastIndexByte(idOrUPN, '@')
	if at < 0 {
		return user{}, false
	}
	t, ok := s.world.Tenant(idOrUPN[at+1:])
	if !ok || t.Deleted {
		return user{}, false
	}
	cu, ok := t.UserByID(idOrUPN)
	if !ok {
		return user{}, false
	}
	return user{ID: strings.ToLower(cu.ID), UPN: cu.UserPrincipalName, Name: cu.DisplayName, HomeTenant: strings.ToLower(t.ID),
		MFA: cu.MFARegistered, Disabled: !cu.AccountEnabled}, true
}

// partnerUsers lists the partner users (for the sign-in pages).
func (s *Service) partnerUsers() []user {
	var out []user
	for _, u := range s.world.Partner().Users {
		if x, ok := s.lookupUser(u.UPN); ok {
			out = append(out, x)
		}
	}
	return out
}

// checkSignIn decides whether u may sign in to tenant for app (appID, appName): a disabled
// account (50057), the user's injected sign-in error, a customer's own user where the app is
// not consented (65001), no access to the tenant (a partner user needs an active GDAP
// relationship with the customer: 50020), or an app not authorized for partner delegated
// administration in the customer tenant (90099).
// tenant must be resolved (not organizations/common).
func (s *Service) checkSignIn(u user, tenant tenantRef, appID, appName, resource string) *aadError {
	ctx := errCtx{App: appID, AppName: appName, Tenant: tenant.ID, TenantName: tenant.Name, UPN: u.UPN, Detail: u.HomeTenant, Resource: resource}
	if u.Disabled {
		return aad(50057, ctx)
	}
	if code, ok := aadCode(u.SignInError); ok {
		return aad(code, ctx)
	}
	if tenant.ID == u.HomeTenant {
		// A customer's own user needs the app consented in their tenant (its permissions need an
		// admin); the partner tenant is the app's home.
		if tenant.T != nil {
			if _, known := s.dir.App(appID); known {
				if _, ok := s.dir.ServicePrincipal(tenant.ID, appID); !ok {
					return aad(65001, ctx)
				}
			}
		}
		return nil
	}
	if !u.Partner || tenant.T == nil || !hasActiveGDAP(tenant, s.now()) {
		return aad(50020, ctx)
	}
	if _, known := s.dir.App(appID); known {
		if _, ok := s.dir.ServicePrincipal(tenant.ID, appID); !ok {
			return aad(90099, ctx)
		}
	}
	return nil
}

// hasActiveGDAP: a relationship that still grants access (active, or active but expiring soon)
// and has not reached its end date.
func hasActiveGDAP(t tenantRef, now time.Time) bool {
	if t.T == nil {
		return false
	}
	for _, rel := range t.T.GDAP {
		st := strings.ToLower(rel.Status)
		if (st == "active" || st == "expiring") && (rel.EndDateTime.IsZero() || rel.EndDateTime.After(now)) {
			return true
		}
	}
	return false
}

// signInTenant is the tenant a sign-in at tenant lands in: the user's home tenant for
// organizations/common, else tenant itself.
func (s *Service) signInTenant(u user, tenant tenantRef) tenantRef {
	if tenant.Meta != "" {
		return s.tenantByID(u.HomeTenant)
	}
	return tenant
}
