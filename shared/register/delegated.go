package register

import (
	"context"
	"slices"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/oauth2permissiongrants"

	"github.com/tenantsync/tenantsync/shared/appperms"
)

// partnerTenantRoles are the Graph application permissions the app holds in the partner tenant:
// the configured ones and the partner-only ones (appperms.PartnerApp), assigned directly.
func partnerTenantRoles() []appperms.Permission {
	return append(slices.Clone(appperms.Graph), appperms.PartnerApp...)
}

// ensureMailGrant grants the app the partner-only delegated scopes (appperms.PartnerDelegated:
// Mail.Send, so the consent mails leave from the service account's own mailbox) in the partner
// tenant, for all its users: an oauth2PermissionGrant (consentType AllPrincipals) to Microsoft
// Graph (https://learn.microsoft.com/graph/api/oauth2permissiongrant-post). They are not in
// requiredResourceAccess, so no customer's consent grants them.
func (r *run) ensureMailGrant(ctx context.Context, spID, graphSPID string) error {
	res := r.res
	filter := "clientId eq " + odataQuote(spID)
	list, err := r.graph.Oauth2PermissionGrants().Get(ctx, &oauth2permissiongrants.Oauth2PermissionGrantsRequestBuilderGetRequestConfiguration{
		QueryParameters: &oauth2permissiongrants.Oauth2PermissionGrantsRequestBuilderGetQueryParameters{Filter: &filter}})
	if err != nil {
		return graphError("reading the app's delegated grants in the partner tenant", err, rolesApps)
	}
	want := strings.Join(appperms.PartnerDelegated, " ")
	for _, g := range list.GetValue() {
		if !strings.EqualFold(str(g.GetResourceId()), graphSPID) || str(g.GetConsentType()) != "AllPrincipals" {
			continue
		}
		have := strings.Fields(str(g.GetScope()))
		var missing []string
		for _, s := range appperms.PartnerDelegated {
			if !slices.Contains(have, s) {
				missing = append(missing, s)
			}
		}
		if len(missing) == 0 {
			res.add(ItemMailGrant, Unchanged, "delegated %s granted in the partner tenant (consent mails from the service account's mailbox)", want)
			return nil
		}
		body := models.NewOAuth2PermissionGrant()
		body.SetScope(ptr(strings.Join(append(have, missing...), " ")))
		if _, err := r.graph.Oauth2PermissionGrants().ByOAuth2PermissionGrantId(str(g.GetId())).Patch(ctx, body, nil); err != nil {
			return graphError("granting delegated "+want+" in the partner tenant", err, rolesApps)
		}
		res.add(ItemMailGrant, Updated, "added delegated %s to the app's grant in the partner tenant", strings.Join(missing, " "))
		return nil
	}
	body := models.NewOAuth2PermissionGrant()
	body.SetClientId(ptr(spID))
	body.SetConsentType(ptr("AllPrincipals"))
	body.SetResourceId(ptr(graphSPID))
	body.SetScope(ptr(want))
	err = retryReplication(ctx, func() error {
		_, err := r.graph.Oauth2PermissionGrants().Post(ctx, body, nil)
		return err
	})
	if err != nil {
		return graphError("granting delegated "+want+" in the partner tenant", err, rolesApps)
	}
	res.add(ItemMailGrant, Created, "granted delegated %s in the partner tenant (consent mails from the service account's mailbox)", want)
	return nil
}
