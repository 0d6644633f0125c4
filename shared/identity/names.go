package identity

// Key Vault secret names: written by `tenantsync register` and the partner connection, read by the
// handler. Declared once so the reader and the writer cannot drift apart.
const (
	// ClientSecretName holds the app's client secret value (APP_AUTH=secret).
	ClientSecretName = "app-client-secret"
	// CertificateSecretName holds the app's certificate and private key, PEM (APP_AUTH=certificate).
	CertificateSecretName = "app-certificate"
	// PartnerRefreshTokenSecret holds the partner service account's refresh token.
	PartnerRefreshTokenSecret = "partner-refresh-token"
)

// FederatedAudience is the audience of managed identity tokens used as client assertions through
// a federated identity credential ("api://AzureADTokenExchange" for the public cloud: Microsoft
// Learn, "Configure an application to trust a managed identity").
const FederatedAudience = "api://AzureADTokenExchange"
