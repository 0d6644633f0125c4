package syncer

import (
	"context"
	"strings"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphgocore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/tenantsync/tenantsync/shared/domain"
)

// userSelect is every user property tenantsync stores: $select keeps pages small and costs half
// the throttling units of an unselected read.
var userSelect = []string{"id", "userPrincipalName", "displayName", "givenName", "surname", "mail", "proxyAddresses",
	"accountEnabled", "userType", "jobTitle", "department", "mobilePhone", "businessPhones", "officeLocation",
	"usageLocation", "createdDateTime", "lastPasswordChangeDateTime", "assignedLicenses"}

var groupSelect = []string{"id", "displayName", "description", "mail", "mailEnabled", "securityEnabled", "groupTypes", "createdDateTime"}

// pageHeaders asks for the largest pages Graph gives for delta queries.
func pageHeaders() *abstractions.RequestHeaders {
	h := abstractions.NewRequestHeaders()
	h.Add("Prefer", "odata.maxpagesize=999")
	return h
}

// deltaSink receives delta results.
type deltaSink interface {
	put(ctx context.Context, key string, v any) error
	remove(ctx context.Context, key string) error
}

// isRemoved reports a delta tombstone ({"id":..., "@removed":{...}}).
func isRemoved(extra map[string]any) bool {
	_, ok := extra["@removed"]
	return ok
}

// directoryObject is what a delta page holds: an id and the @removed marker.
type directoryObject interface {
	GetId() *string
	GetAdditionalData() map[string]any
}

// streamDelta iterates a delta response's pages into sink (tombstones become removals, the rest
// is converted by toRow) and returns the new delta link.
func streamDelta[T directoryObject](ctx context.Context, resp any, adapter abstractions.RequestAdapter, page absser.ParsableFactory, toRow func(T) any, sink deltaSink) (string, error) {
	it, err := msgraphgocore.NewPageIterator[T](resp, adapter, page)
	if err != nil {
		return "", err
	}
	it.SetHeaders(pageHeaders())
	var sinkErr error
	err = it.Iterate(ctx, func(o T) bool {
		id := str(o.GetId())
		if isRemoved(o.GetAdditionalData()) {
			sinkErr = sink.remove(ctx, id)
		} else {
			sinkErr = sink.put(ctx, id, toRow(o))
		}
		return sinkErr == nil
	})
	if err == nil {
		err = sinkErr
	}
	if err != nil {
		return "", err
	}
	return str(it.GetOdataDeltaLink()), nil
}

// usersDelta runs a users delta query from link (empty: a full round with $select) and streams
// every page into sink; it returns the new delta link.
func usersDelta(ctx context.Context, c *msgraphsdk.GraphServiceClient, adapter abstractions.RequestAdapter, link string, skuNames map[string]string, sink deltaSink) (string, error) {
	cfg := &users.DeltaRequestBuilderGetRequestConfiguration{Headers: pageHeaders()}
	var (
		resp users.DeltaGetResponseable
		err  error
	)
	if link == "" {
		cfg.QueryParameters = &users.DeltaRequestBuilderGetQueryParameters{Select: userSelect}
		resp, err = c.Users().Delta().GetAsDeltaGetResponse(ctx, cfg)
	} else {
		resp, err = c.Users().Delta().WithUrl(link).GetAsDeltaGetResponse(ctx, cfg)
	}
	if err != nil {
		return "", err
	}
	return streamDelta(ctx, resp, adapter, users.CreateDeltaGetResponseFromDiscriminatorValue,
		func(u models.Userable) any { return toUser(u, skuNames) }, sink)
}

// groupsDelta is usersDelta for groups.
func groupsDelta(ctx context.Context, c *msgraphsdk.GraphServiceClient, adapter abstractions.RequestAdapter, link string, sink deltaSink) (string, error) {
	cfg := &groups.DeltaRequestBuilderGetRequestConfiguration{Headers: pageHeaders()}
	var (
		resp groups.DeltaGetResponseable
		err  error
	)
	if link == "" {
		cfg.QueryParameters = &groups.DeltaRequestBuilderGetQueryParameters{Select: groupSelect}
		resp, err = c.Groups().Delta().GetAsDeltaGetResponse(ctx, cfg)
	} else {
		resp, err = c.Groups().Delta().WithUrl(link).GetAsDeltaGetResponse(ctx, cfg)
	}
	if err != nil {
		return "", err
	}
	return streamDelta(ctx, resp, adapter, groups.CreateDeltaGetResponseFromDiscriminatorValue,
		func(g models.Groupable) any { return toGroup(g) }, sink)
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func boolv(p *bool) bool { return p != nil && *p }

func timev(p *time.Time) time.Time {
	if p == nil {
		return time.Time{}
	}
	return p.UTC()
}

func toUser(u models.Userable, skuNames map[string]string) domain.User {
	out := domain.User{
		ID: str(u.GetId()), UserPrincipalName: str(u.GetUserPrincipalName()), DisplayName: str(u.GetDisplayName()),
		GivenName: str(u.GetGivenName()), Surname: str(u.GetSurname()), Mail: str(u.GetMail()),
		AccountEnabled: boolv(u.GetAccountEnabled()), UserType: str(u.GetUserType()), JobTitle: str(u.GetJobTitle()),
		Department: str(u.GetDepartment()), MobilePhone: str(u.GetMobilePhone()), BusinessPhones: u.GetBusinessPhones(),
		OfficeLocation: str(u.GetOfficeLocation()), UsageLocation: str(u.GetUsageLocation()),
		Created: timev(u.GetCreatedDateTime()), LastPasswordChange: timev(u.GetLastPasswordChangeDateTime()),
	}
	for _, a := range u.GetProxyAddresses() {
		// "SMTP:" marks the primary address, which is already Mail; the rest are aliases.
		if strings.HasPrefix(a, "SMTP:") {
			continue
		}
		out.Aliases = append(out.Aliases, strings.TrimPrefix(strings.TrimPrefix(a, "smtp:"), "SMTP:"))
	}
	for _, l := range u.GetAssignedLicenses() {
		if id := l.GetSkuId(); id != nil {
			name := skuNames[id.String()]
			if name == "" {
				name = id.String()
			}
			out.Licenses = append(out.Licenses, name)
		}
	}
	return out
}

func toGroup(g models.Groupable) domain.Group {
	out := domain.Group{
		ID: str(g.GetId()), DisplayName: str(g.GetDisplayName()), Description: str(g.GetDescription()), Mail: str(g.GetMail()),
		MailEnabled: boolv(g.GetMailEnabled()), SecurityEnabled: boolv(g.GetSecurityEnabled()), Created: timev(g.GetCreatedDateTime()),
	}
	unified := false
	for _, t := range g.GetGroupTypes() {
		if strings.EqualFold(t, "Unified") {
			unified = true
		}
	}
	switch {
	case unified:
		out.Kind = "microsoft365"
	case out.MailEnabled && out.SecurityEnabled:
		out.Kind = "mailEnabledSecurity"
	case out.MailEnabled:
		out.Kind = "distribution"
	default:
		out.Kind = "security"
	}
	return out
}
