package appperms

import "slices"

// CustomerDelegated are the delegated Microsoft Graph scopes a customer tenant grants for the gdap
// path (sync with the partner service account's delegated token where app roles cannot be
// assigned): the same read permissions as Customer, as delegated permissions. Every one exists as
// a delegated permission of the same name (each Graph API page tenantsync calls lists it under
// "Delegated (work or school account)", e.g. reportroot-getmailboxusagedetail: Reports.Read.All).
// A delegated token acts as the intersection of these scopes and the signed-in user's directory
// roles ("the least privileged intersection", Microsoft identity platform permissions overview),
// so they add nothing the service account's GDAP roles do not already allow.
func CustomerDelegated() []string {
	out := make([]string, 0, len(Graph))
	for _, p := range Customer() {
		out = append(out, p.Value)
	}
	return out
}

// ConsentScopes are the delegated scopes Partner Center consent grants in one customer tenant,
// least privilege per tenant: where the service account holds Privileged Role Administrator (or
// Global Administrator) through GDAP, only the Bootstrap scopes that let it assign the app roles
// (cpv+roles: the sync then runs app-only); where it does not, only the delegated read scopes of
// the gdap path (no write scope at all); where the roles in force are unknown (access assignments
// not read), both, so either path can follow.
func ConsentScopes(canAssignRoles, known bool) []string {
	switch {
	case known && canAssignRoles:
		return slices.Clone(Bootstrap)
	case known:
		return CustomerDelegated()
	}
	out := slices.Clone(Bootstrap)
	for _, s := range CustomerDelegated() {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
