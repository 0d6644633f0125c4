// tenantsync in the MSP's own subscription: Function App on Flex Consumption (custom handler),
// storage for the host and the tables (identity only: shared keys off), a Service Bus queue, a Key
// Vault in RBAC mode, one user-assigned identity holding exactly the roles it needs, Application
// Insights on Log Analytics, and App Service Authentication for the admin endpoints.
//
// Deploy: make deploy (see README "Deploy into your subscription"). infra/deploy.sh passes every
// parameter on every run (resolved from the environment, the app's current settings and the previous
// deployment), so an upgrade with no environment variables changes nothing.
//
// Checked against Microsoft's sources (no Bicep compiler or az can run where this is developed: the
// syntax is checked by the tree-sitter-bicep grammar in make test, infra/bicep_test.go):
//
// Resource types and API versions (ARM template reference, learn.microsoft.com/azure/templates/<type>;
// the Flex Consumption shapes as in Azure-Samples/azure-functions-flex-consumption-samples
// IaC/bicep/core/host/function.bicep and learn.microsoft.com/azure/azure-functions/flex-consumption-how-to):
//   Microsoft.ManagedIdentity/userAssignedIdentities           2023-01-31
//   Microsoft.OperationalInsights/workspaces                   2023-09-01
//   Microsoft.Insights/components                              2020-02-02  (WorkspaceResourceId)
//   Microsoft.Storage/storageAccounts (+ blobServices/containers) 2023-05-01 (allowSharedKeyAccess)
//   Microsoft.ServiceBus/namespaces (+ queues)                 2022-10-01-preview (disableLocalAuth)
//   Microsoft.KeyVault/vaults                                  2023-07-01  (enableRbacAuthorization, purge protection)
//   Microsoft.Authorization/roleAssignments                    2022-04-01
//   Microsoft.Web/serverfarms                                  2024-04-01  (sku FC1 / FlexConsumption, reserved)
//   Microsoft.Web/sites                                        2024-04-01  (functionAppConfig: deployment.storage
//                                                                           blobContainer + UserAssignedIdentity,
//                                                                           scaleAndConcurrency, runtime)
//   Microsoft.Web/sites/config 'authsettingsV2'                2024-04-01
// Not verified against a Microsoft source: runtime { name: 'custom', version: '1.0' } for a custom
// handler on Flex Consumption (the samples show the language runtimes only).
//
// Role definitions: the ONE table of every built-in role this template assigns. Ids and names from
// "Azure built-in roles" (learn.microsoft.com/azure/role-based-access-control/built-in-roles, the
// Storage, Integration and Security sections); infra/bicep_test.go compares each id with its name.
//   ROLE b7e6dc6d-f1e8-4753-8033-0f276bb0955b  Storage Blob Data Owner         host storage: timer leases, deployment package
//   ROLE 0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3  Storage Table Data Contributor  tenants, synced data, operations
//   ROLE 090c5cfd-751d-490a-894a-3ce6f1109419  Azure Service Bus Data Owner    each queue: send, receive, and read its length
//   ROLE b86a8fe4-44ce-4948-aee5-eccb2c155cd7  Key Vault Secrets Officer       partner refresh token (read and rotate)
// Why Data Owner and not Data Sender + Data Receiver: the Service Bus trigger's identity needs "Azure
// Service Bus Data Receiver, Azure Service Bus Data Owner" (Functions docs, identity-based connections,
// "Grant permission to the identity"), and target-based scaling needs Manage rights: "With Listen rights
// scaling reverts to incremental scale because the queue or topic length can't be used to inform scaling
// decisions" (learn.microsoft.com/azure/azure-functions/functions-target-based-scaling). Data Owner is
// assigned on each queue only, never on the namespace, so it manages nothing else; it also covers the
// fan-out's and the API's sends.
targetScope = 'resourceGroup'

@description('Azure region for every resource.')
param location string = resourceGroup().location

@description('Short lower-case prefix for resource names (3-10 letters or digits).')
@minLength(3)
@maxLength(10)
param prefix string = 'tsync'

@description('The MSP partner tenant id (where tenantsync\'s app registration lives).')
param partnerTenantId string = tenant().tenantId

@description('Application (client) id of tenantsync\'s multi-tenant app registration (from `tenantsync register`).')
param appClientId string = ''

@description('How the app authenticates to customer tenants: federated (managed identity, no secret), certificate (kept in Key Vault) or secret (Key Vault; its expiry is watched).')
@allowed([
  'federated'
  'certificate'
  'secret'
])
param appAuth string = 'federated'

@description('Object id of the Entra group whose members may use the admin API when signed in through App Service Authentication.')
param adminGroupId string = ''

@description('Client id of the app registration App Service Authentication signs admins in with (empty: authentication off, function keys only).')
param authClientId string = ''

@description('Mailbox (UPN in the partner tenant) that sends admin-consent links.')
param consentMailFrom string = ''

@description('Partner Center REST root: the global one (also for Microsoft Cloud for US Government), or https://partner.partnercenterapi.microsoftonline.cn for Partner Center operated by 21Vianet (learn.microsoft.com/partner-center/developer/partner-center-rest-urls).')
param partnerCenterUrl string = 'https://api.partnercenter.microsoft.com'

@description('NCRONTAB schedule of the fan-out (UTC).')
param fanoutSchedule string = '0 0 */6 * * *'

@description('NCRONTAB schedule of tenant discovery (UTC).')
param discoverySchedule string = '0 30 */6 * * *'

@description('Window the fan-out spreads tenants over (ISO 8601).')
param fanoutSpread string = 'PT30M'

@description('Grant consent through Partner Center automatically for newly discovered tenants.')
param autoConsent bool = true

@description('Maximum instances of the Flex Consumption app.')
param maximumInstanceCount int = 40

@description('Key Vault name. deploy.sh picks a new random one on a first deployment and passes the same one on every upgrade: vaults keep purge protection, so a deterministic name would collide with the soft-deleted vault of a removed deployment for 90 days.')
@minLength(3)
@maxLength(24)
param keyVaultName string

@description('The app settings as they are now (deploy.sh reads them from the running app): kept on upgrade, so nothing an operator set is lost. Secure: never stored in the deployment history.')
@secure()
param currentAppSettings object = {}

var suffix = uniqueString(resourceGroup().id, prefix)
var names = {
  identity: '${prefix}-id-${suffix}'
  storage: toLower(take('${prefix}st${suffix}', 24))
  serviceBus: '${prefix}-sb-${suffix}'
  keyVault: keyVaultName
  logs: '${prefix}-logs-${suffix}'
  insights: '${prefix}-ai-${suffix}'
  plan: '${prefix}-plan-${suffix}'
  app: '${prefix}-func-${suffix}'
}
var queueName = 'tenant-sync'
// Long HTTP-started work (discovery with consent, Partner Center consent) runs from this queue,
// outside the 230 s HTTP limit (shared/operation).
var operationsQueueName = 'tenant-operations'
var deploymentContainer = 'app-package'
var publicUrl = 'https://${names.app}.azurewebsites.net'

// Built-in role definition ids: exactly the ROLE table above (infra/bicep_test.go checks both agree).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  serviceBusDataOwner: '090c5cfd-751d-490a-894a-3ce6f1109419'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: names.identity
  location: location
}

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: names.logs
  location: location
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: names.insights
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
  }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: names.storage
  location: location
  sku: { name: 'Standard_LRS' }
  kind: 'StorageV2'
  properties: {
    allowSharedKeyAccess: false // identity-based access only
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource packageContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainer
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: names.serviceBus
  location: location
  sku: { name: 'Standard', tier: 'Standard' } // duplicate detection needs Standard
  properties: {
    disableLocalAuth: true // no SAS keys: identity only
    minimumTlsVersion: '1.2'
  }
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = {
  parent: serviceBus
  name: queueName
  properties: {
    requiresDuplicateDetection: true // MessageId = tenant + schedule slot: re-fired timers are dropped
    duplicateDetectionHistoryTimeWindow: 'PT10M'
    maxDeliveryCount: 10
    lockDuration: 'PT5M' // the maximum; the host renews it during a run
    deadLetteringOnMessageExpiration: true
    defaultMessageTimeToLive: 'P14D'
  }
}

resource operationsQueue 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = {
  parent: serviceBus
  name: operationsQueueName
  properties: {
    requiresDuplicateDetection: true // MessageId = operation id: a re-sent start is dropped
    duplicateDetectionHistoryTimeWindow: 'PT10M'
    maxDeliveryCount: 10
    lockDuration: 'PT5M'
    deadLetteringOnMessageExpiration: true
    defaultMessageTimeToLive: 'P1D'
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: names.keyVault
  location: location
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
  }
}

resource blobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource tableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roles.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource busOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(queue.id, identity.id, roles.serviceBusDataOwner)
  scope: queue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataOwner)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource operationsOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(operationsQueue.id, identity.id, roles.serviceBusDataOwner)
  scope: operationsQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataOwner)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource secretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identity.id, roles.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: names.plan
  location: location
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true }
}

// App settings, merged so an upgrade keeps what is running (Microsoft.Web/sites siteConfig.appSettings
// replaces the whole list, so every setting must be in it every time):
//   tunables          defaults, used only where the running app has no value
//   currentAppSettings what the running app has, including settings an operator added
//   parameterSettings the parameters (deploy.sh resolves each from the environment, else the running app)
//   platformSettings  derived from the resources created here: always the template's
// union() lets later objects win. Secrets are Key Vault references resolved by the platform with the
// identity above; an unresolved one reaches the handler as the literal reference, which it reports.
var secretRef = 'https://${names.keyVault}${environment().suffixes.keyvaultDns}/secrets'
var tunables = {
  PARTNER_KEEPALIVE_SCHEDULE: '0 0 3 * * 1'
  SYNC_CONCURRENCY: '4'
  REFRESH_DEVICES: 'PT6H'
  REFRESH_MAILBOXES: 'P1D'
  REFRESH_USER_SECURITY: 'PT6H'
  CONSENT_LINK_TTL: 'P7D'
  LOG_FORMAT: 'json'
  LOG_LEVEL: 'info'
}
var parameterSettings = {
  PARTNER_TENANT_ID: partnerTenantId
  APP_CLIENT_ID: appClientId
  APP_AUTH: appAuth
  FANOUT_SCHEDULE: fanoutSchedule
  DISCOVERY_SCHEDULE: discoverySchedule
  FANOUT_SPREAD: fanoutSpread
  CONSENT_MAIL_FROM: consentMailFrom
  AUTO_CONSENT: string(autoConsent)
  ADMIN_GROUP_ID: adminGroupId
}
var platformSettings = {
  APPLICATIONINSIGHTS_CONNECTION_STRING: insights.properties.ConnectionString
  AzureWebJobsStorage__accountName: storage.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.properties.clientId
  // The namespace's own endpoint (https://<ns>.servicebus.windows.net:443/, other suffixes in national
  // clouds) reduced to the host name the trigger and azservicebus expect.
  ServiceBusConnection__fullyQualifiedNamespace: split(split(serviceBus.properties.serviceBusEndpoint, '/')[2], ':')[0]
  ServiceBusConnection__credential: 'managedidentity'
  ServiceBusConnection__clientId: identity.properties.clientId
  AZURE_CLIENT_ID: identity.properties.clientId
  TABLES_ENDPOINT: storage.properties.primaryEndpoints.table
  SYNC_QUEUE_NAME: queueName
  KEY_VAULT_URL: vault.properties.vaultUri
  APP_CLIENT_SECRET: appAuth == 'secret' ? '@Microsoft.KeyVault(SecretUri=${secretRef}/app-client-secret/)' : ''
  APP_CERTIFICATE: appAuth == 'certificate' ? '@Microsoft.KeyVault(SecretUri=${secretRef}/app-certificate/)' : ''
  STATE_SIGNING_KEY: '@Microsoft.KeyVault(SecretUri=${secretRef}/state-signing-key/)'
  PUBLIC_BASE_URL: publicUrl
  AZURE_AUTHORITY_HOST: environment().authentication.loginEndpoint
  GRAPH_BASE_URL: '${environment().graph}v1.0'
  PARTNER_CENTER_BASE_URL: partnerCenterUrl
}
var appSettings = [
  for s in items(union(tunables, currentAppSettings, parameterSettings, platformSettings)): { name: s.key, value: s.value }
]

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: names.app
  location: location
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identity.id}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identity.id
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainer}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: 2048
      }
      runtime: { name: 'custom', version: '1.0' }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      appSettings: appSettings
    }
  }
  dependsOn: [blobOwner, tableContributor, busOwner, operationsOwner, secretsOfficer, packageContainer]
}

// App Service Authentication (only with authClientId; use tenantsync's app registration, to which
// `tenantsync register` adds the sign-in redirect URI <app>/.auth/login/aad/callback, ID token
// issuance and security-group claims). It signs MSP admins in from the partner tenant, keeps the
// session (token store) and forwards X-MS-CLIENT-PRINCIPAL; it grants no function authorization
// level (the Functions host accepts only keys on authLevel function routes: azure-functions-host
// AuthUtility.PrincipalHasAuthLevelClaim). So:
//   - the console (/, /tenants/..., /insights, /partner) and the signed-in admin API (/console/api/...)
//     are anonymous functions; the handler admits only a signed-in member of adminGroupId and sends
//     an unsigned browser to /.auth/login/aad itself;
//   - automation keeps /api/... with a function key and no session: unauthenticated requests must
//     reach the host, hence AllowAnonymous rather than RedirectToLoginPage with excludedPaths
//     (excludedPaths are literal paths: the keyed routes carry tenant ids, and wildcard matching is
//     not documented, MicrosoftDocs/azure-docs#106668);
//   - the OAuth callbacks stay anonymous and rely on their signed state.
// No client secret is configured, so App Service uses the OpenID Connect implicit flow (an ID token
// posted back), which needs ID token issuance on the registration ("If no client secret is
// configured, the OpenID Connect implicit auth flow is used", SiteAuthSettings.clientSecret).
// Not verified: the Flex Consumption plan page listed App Service Authentication as unsupported
// during its preview.
resource auth 'Microsoft.Web/sites/config@2024-04-01' = if (!empty(authClientId)) {
  parent: app
  name: 'authsettingsV2'
  properties: {
    platform: { enabled: true }
    globalValidation: {
      requireAuthentication: false
      unauthenticatedClientAction: 'AllowAnonymous'
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: authClientId
          // admins sign in from the partner tenant, which need not be the subscription's
          openIdIssuer: '${environment().authentication.loginEndpoint}${partnerTenantId}/v2.0'
        }
        validation: {
          allowedAudiences: ['api://${authClientId}']
        }
      }
    }
    login: { tokenStore: { enabled: true } }
    httpSettings: { requireHttps: true }
  }
}

@description('The app\'s public URL.')
output appUrl string = publicUrl

@description('Redirect URIs to register on tenantsync\'s app registration (tenantsync register --public-url does it), the console\'s sign-in included.')
output redirectUris array = ['${publicUrl}/api/connect/callback', '${publicUrl}/api/consent/callback', '${publicUrl}/.auth/login/aad/callback']

output functionAppName string = app.name
output keyVaultName string = vault.name
output keyVaultUrl string = vault.properties.vaultUri

@description('Principal (object) id of the managed identity: the subject of the app registration\'s federated credential.')
output managedIdentityPrincipalId string = identity.properties.principalId
output managedIdentityClientId string = identity.properties.clientId

@description('Tenant of the managed identity (the subscription\'s tenant): federated mode needs the app registration in this same tenant.')
output managedIdentityTenantId string = tenant().tenantId
