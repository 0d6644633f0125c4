#!/usr/bin/env bash
# Deploys tenantsync into a resource group: the Bicep template, a state-signing key created once in
# Key Vault, then the function package. Idempotent: re-run it to upgrade.
# Needs: az CLI (with Bicep), logged in (az login) with Owner, or Contributor + User Access
# Administrator, on the resource group (the template assigns roles), and Key Vault Secrets Officer
# on the vault for the signing-key step (the script grants it to you if it can).
set -euo pipefail
: "${RESOURCE_GROUP:?set RESOURCE_GROUP (created if missing)}"
LOCATION="${LOCATION:-westeurope}"
cd "$(dirname "$0")/.."

command -v az >/dev/null || { echo "deploy: the az CLI is required (https://aka.ms/azure-cli)" >&2; exit 1; }
az account show -o none 2>/dev/null || { echo "deploy: run az login first" >&2; exit 1; }

echo "==> resource group $RESOURCE_GROUP ($LOCATION)"
az group create -n "$RESOURCE_GROUP" -l "$LOCATION" -o none

echo "==> infrastructure (infra/main.bicep)"
az deployment group create -g "$RESOURCE_GROUP" -n tenantsync -f infra/main.bicep -o none -p \
  appClientId="${APP_CLIENT_ID:-}" appAuth="${APP_AUTH:-federated}" adminGroupId="${ADMIN_GROUP_ID:-}" \
  authClientId="${AUTH_CLIENT_ID:-}" consentMailFrom="${CONSENT_MAIL_FROM:-}"
output() { az deployment group show -g "$RESOURCE_GROUP" -n tenantsync --query "properties.outputs.$1.value" -o tsv; }
app=$(output functionAppName)
vault=$(output keyVaultName)

echo "==> state signing key in $vault (created once, kept across upgrades)"
if ! az keyvault secret show --vault-name "$vault" -n state-signing-key -o none 2>/dev/null; then
  me=$(az ad signed-in-user show --query id -o tsv 2>/dev/null || true)
  if [ -n "$me" ]; then
    az role assignment create --assignee-object-id "$me" --assignee-principal-type User \
      --role "Key Vault Secrets Officer" --scope "$(az keyvault show -n "$vault" --query id -o tsv)" -o none || true
  fi
  az keyvault secret set --vault-name "$vault" -n state-signing-key --value "$(head -c 32 /dev/urandom | base64)" -o none
fi

echo "==> function package"
make package
az functionapp deployment source config-zip -g "$RESOURCE_GROUP" -n "$app" --src dist/functionapp.zip -o none

echo
echo "Deployed. App URL:            $(output appUrl)"
echo "Redirect URIs:                $(output redirectUris | tr -d '[]\"' )"
echo "Key Vault:                    $(output keyVaultUrl)"
echo "Managed identity (object id): $(output managedIdentityPrincipalId)"
if [ -z "${APP_CLIENT_ID:-}" ]; then
  echo
  echo "Next: register the app (bin/tenantsync register --public-url $(output appUrl) --vault-url $(output keyVaultUrl) ...),"
  echo "then run make deploy again with APP_CLIENT_ID set."
fi
