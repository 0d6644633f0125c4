package register

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Print writes the run's summary, the values to configure and the remaining manual steps. It
// prints no secret: only names, ids, thumbprints and dates.
func Print(w io.Writer, res *Result) {
	PrintItems(w, res)
	if !res.Changed() {
		fmt.Fprintln(w, "\nEverything was already in place: nothing was changed.")
	}

	fmt.Fprintln(w)
	fmt.Fprintf(w, "Application (client) id: %s\n", res.AppID)
	switch res.Credential {
	case CredentialFederated:
		fmt.Fprintf(w, "Credential:              federated (the Function App's managed identity; set APP_AUTH=federated)\n")
	case CredentialSecret:
		fmt.Fprintf(w, "Key Vault secret:        %s (client secret value, expires %s) in %s\n", res.SecretName, day(res.Expires), res.VaultURL)
	default:
		fmt.Fprintf(w, "Key Vault secret:        %s (certificate and private key, PEM; thumbprint %s, expires %s) in %s\n",
			res.SecretName, res.Thumbprint, day(res.Expires), res.VaultURL)
	}
	fmt.Fprintf(w, "App settings:            APP_CLIENT_ID=%s, PARTNER_TENANT_ID=%s, KEY_VAULT_URL=%s, PUBLIC_BASE_URL=%s\n",
		res.AppID, res.PartnerTenantID, res.VaultURL, res.PublicURL)
	if res.Credential == CredentialSecret {
		fmt.Fprintf(w, "                         APP_CLIENT_SECRET=@Microsoft.KeyVault(SecretUri=%ssecrets/%s/)\n", res.VaultURL, res.SecretName)
	}
	for _, warn := range res.Warnings {
		fmt.Fprintf(w, "\nWarning: %s\n", warn)
	}
	fmt.Fprintln(w)
	fmt.Fprint(w, ManualSteps(res))
}

// PrintItems writes the per-item table only (what a failed run did before failing).
func PrintItems(w io.Writer, res *Result) {
	fmt.Fprintf(w, "\ntenantsync app registration in partner tenant %s", res.PartnerTenantID)
	if res.AdminUPN != "" {
		fmt.Fprintf(w, " (signed in as %s)", res.AdminUPN)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, it := range res.Items {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", it.Name, it.Status, it.Detail)
	}
	_ = tw.Flush()
}

// ManualSteps are the steps Microsoft offers no API for (GDAP access assignments need the
// customer-approved relationship; the service account's MFA is the account owner's to set up),
// numbered and precise.
func ManualSteps(res *Result) string {
	var b strings.Builder
	connect := res.PublicURL + ConnectPath
	fmt.Fprintf(&b, `Remaining manual steps
  1. GDAP security group (partner tenant, once). Entra admin center > Groups > All groups > New group:
     Group type Security, name "tenantsync GDAP", Membership type Assigned. Members are added in step 2.
  2. Service account (partner tenant, once). Entra admin center > Users > New user > Create new user, e.g.
     svc-tenantsync@<your domain>; add it to the "tenantsync GDAP" group and to the AdminAgents group
     (Partner Center > Account settings > User management: the Admin agent role), which Partner Center's
     API requires. Sign in with it once and register MFA with Microsoft Authenticator: tenantsync requires
     MFA at connect. Exclude it from sign-in frequency Conditional Access policies, which would end the
     connection.
  3. GDAP roles (Partner Center, per customer). Partner Center > Customers > <customer> > Admin relationships >
     <the active relationship> > Add security groups: choose "tenantsync GDAP" and assign
       - Global Reader: tenantsync reads the tenant through it;
       - Cloud Application Administrator: lets tenantsync grant its own consent in the customer tenant
         through Partner Center (automatic consent). Without it, send the customer the emailed consent link.
     The relationship itself must include both roles; if it does not, request a new relationship with them
     (Admin relationships > Request admin relationship) and assign the group once the customer approves.
  4. Connect the partner account: open
       %s
     in a browser and sign in as the service account with MFA (accept the Partner Center permission if
     Entra asks for consent).
`, connect)
	return b.String()
}
