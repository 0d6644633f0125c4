package syncer

import (
	"context"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphgocore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/reports"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/tenantsync/tenantsync/shared/domain"
)

// signIns reads every user's last sign-in (Entra ID P1/P2 only: Graph answers 403
// Authentication_RequestFromNonPremiumTenantOrB2CTenant otherwise). Only id and one timestamp per
// user are kept, so the map stays small even for large tenants.
func signIns(ctx context.Context, c *msgraphsdk.GraphServiceClient, adapter abstractions.RequestAdapter) (map[string]time.Time, error) {
	// Graph's maximum page when signInActivity is selected or filtered on is 500 (List users,
	// learn.microsoft.com/graph/api/user-list, "Optional query parameters"; lowered from 999 by
	// microsoft-graph-docs-contrib PR 9591, July 2025). The default page is 100.
	top := int32(500)
	resp, err := c.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Select: []string{"id", "signInActivity"}, Top: &top},
	})
	if err != nil {
		return nil, err
	}
	it, err := msgraphgocore.NewPageIterator[models.Userable](resp, adapter, models.CreateUserCollectionResponseFromDiscriminatorValue)
	if err != nil {
		return nil, err
	}
	out := map[string]time.Time{}
	err = it.Iterate(ctx, func(u models.Userable) bool {
		if a := u.GetSignInActivity(); a != nil {
			if t := a.GetLastSignInDateTime(); t != nil {
				out[str(u.GetId())] = t.UTC()
			}
		}
		return true
	})
	return out, err
}

// mfaRegistrations streams userRegistrationDetails, joined with the sign-in times, into sink.
func mfaRegistrations(ctx context.Context, c *msgraphsdk.GraphServiceClient, adapter abstractions.RequestAdapter, lastSignIn map[string]time.Time, sink deltaSink) (registered, total int, err error) {
	// $top=999 rather than the default page of 100: a page per 999 users, and identity reports
	// allow only 5 requests per 10 s per app per tenant. learn.microsoft.com/graph/api/
	// authenticationmethodsroot-list-userregistrationdetails names $filter among the supported query
	// parameters; that $top is honoured up to 999 like the directory's lists comes from Graph
	// PowerShell's -Top on Get-MgReportAuthenticationMethodUserRegistrationDetail and was not found
	// stated on the API page: unverified.
	top := int32(999)
	resp, err := c.Reports().AuthenticationMethods().UserRegistrationDetails().Get(ctx, &reports.AuthenticationMethodsUserRegistrationDetailsRequestBuilderGetRequestConfiguration{
		QueryParameters: &reports.AuthenticationMethodsUserRegistrationDetailsRequestBuilderGetQueryParameters{Top: &top},
	})
	if err != nil {
		return 0, 0, err
	}
	it, err := msgraphgocore.NewPageIterator[models.UserRegistrationDetailsable](resp, adapter, models.CreateUserRegistrationDetailsCollectionResponseFromDiscriminatorValue)
	if err != nil {
		return 0, 0, err
	}
	var sinkErr error
	err = it.Iterate(ctx, func(d models.UserRegistrationDetailsable) bool {
		reg := boolv(d.GetIsMfaRegistered())
		total++
		if reg {
			registered++
		}
		id := str(d.GetId())
		sinkErr = sink.put(ctx, id, domain.UserSecurity{ID: id, MFARegistered: &reg, MFAMethods: d.GetMethodsRegistered(), MFASource: domain.MFASourceReport,
			IsAdmin: boolv(d.GetIsAdmin()), LastSignIn: lastSignIn[id]})
		delete(lastSignIn, id)
		return sinkErr == nil
	})
	if err == nil {
		err = sinkErr
	}
	return registered, total, err
}

// signInsOnly writes the sign-in times of users the registration report did not cover (or all of
// them when that report is unavailable).
func signInsOnly(ctx context.Context, lastSignIn map[string]time.Time, sink deltaSink) error {
	for id, t := range lastSignIn {
		if err := sink.put(ctx, id, domain.UserSecurity{ID: id, LastSignIn: t}); err != nil {
			return err
		}
	}
	return nil
}
