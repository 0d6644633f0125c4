#!/usr/bin/env bash
# make deploy: tenantsync into a resource group. The same command installs and upgrades:
#   first run   RESOURCE_GROUP=rg-tenantsync LOCATION=westeurope make deploy
#   upgrade     RESOURCE_GROUP=rg-tenantsync make deploy
# Every template parameter is resolved on every run, in this order: the environment variable (set,
# even empty), else what the running app has (its app settings) or the previous deployment had, else
# the template's default. So an upgrade with no variables changes nothing the first run or an operator
# set; the app settings the template does not manage are passed through unchanged (main.bicep merges
# them; siteConfig.appSettings would otherwise replace the whole list).
#
# Needs: the az CLI with Bicep (az bicep install), logged in (az login) as Owner, or Contributor + User
# Access Administrator, of the resource group (the template assigns roles); bash; Go and make for the
# package. Tested with a recording fake az (infra/deploy_test.go); no real az runs in CI.
#
# Environment: RESOURCE_GROUP (required), LOCATION (first run; a region with Flex Consumption:
# az functionapp list-flexconsumption-locations), APP_CLIENT_ID, APP_AUTH, PARTNER_TENANT_ID,
# ADMIN_GROUP_ID, AUTH_CLIENT_ID, CONSENT_MAIL_FROM, FANOUT_SCHEDULE, DISCOVERY_SCHEDULE, FANOUT_SPREAD,
# AUTO_CONSENT, PARTNER_CENTER_BASE_URL, PREFIX, MAXIMUM_INSTANCE_COUNT; DEPLOY_PACKAGE (a prebuilt zip
# instead of make package), DEPLOY_RETRIES / DEPLOY_RETRY_DELAY (Key Vault role wait, default 18 x 10 s).
set -euo pipefail
: "${RESOURCE_GROUP:?set RESOURCE_GROUP (created if missing)}"
cd "$(dirname "$0")/.."

DEPLOYMENT=tenantsync
RETRIES="${DEPLOY_RETRIES:-18}"
RETRY_DELAY="${DEPLOY_RETRY_DELAY:-10}"
KV_SECRETS_OFFICER=b86a8fe4-44ce-4948-aee5-eccb2c155cd7 # Key Vault Secrets Officer (infra/main.bicep ROLE table)

die() {
	echo "deploy: $*" >&2
	exit 1
}
command -v az >/dev/null || die "the az CLI is required (https://aka.ms/azure-cli)"
sub_tenant=$(az account show --query tenantId -o tsv 2>/dev/null) || die "run az login first"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077

# --- resource group -------------------------------------------------------------------------------
if location=$(az group show -n "$RESOURCE_GROUP" --query location -o tsv 2>/dev/null); then
	echo "==> resource group $RESOURCE_GROUP ($location)"
else
	: "${LOCATION:?set LOCATION for the first deployment: a region with Flex Consumption (az functionapp list-flexconsumption-locations)}"
	echo "==> resource group $RESOURCE_GROUP ($LOCATION): creating"
	az group create -n "$RESOURCE_GROUP" -l "$LOCATION" -o none
fi

# --- what is there now ----------------------------------------------------------------------------
upgrade=false
if az deployment group show -g "$RESOURCE_GROUP" -n "$DEPLOYMENT" --query name -o tsv >/dev/null 2>&1; then
	upgrade=true
fi
previous() { # previous NAME: the previous deployment's parameter NAME ('' when none)
	$upgrade || return 0
	az deployment group show -g "$RESOURCE_GROUP" -n "$DEPLOYMENT" --query "properties.parameters.$1.value" -o tsv 2>/dev/null || true
}
output() {
	az deployment group show -g "$RESOURCE_GROUP" -n "$DEPLOYMENT" --query "properties.outputs.$1.value" -o tsv
}

# The running app's settings, one "name<TAB>value" line each.
: >"$work/settings"
if $upgrade; then
	app=$(output functionAppName 2>/dev/null || true)
	if [ -n "$app" ]; then
		az functionapp config appsettings list -g "$RESOURCE_GROUP" -n "$app" --query "[].[name, value]" -o tsv >"$work/settings"
	fi
fi
setting() { # setting NAME: the running app's value ('' when unset)
	awk -F '\t' -v n="$1" '$1 == n { sub(/^[^\t]*\t/, ""); print; exit }' "$work/settings"
}
# env_or VAR FALLBACK: the environment variable VAR if it is set (even empty), else FALLBACK.
env_or() {
	if [ -n "${!1+set}" ]; then
		printf '%s' "${!1}"
	else
		printf '%s' "$2"
	fi
}
# resolve VAR SETTING DEFAULT: the environment variable, else the running app's SETTING (when the app
# has it, even empty), else DEFAULT.
resolve() {
	local v=$3
	if grep -q "^$2	" "$work/settings"; then
		v=$(setting "$2")
	fi
	env_or "$1" "$v"
}
# resolve_previous VAR PARAM DEFAULT: the environment variable, else the previous deployment's parameter.
resolve_previous() {
	local v
	v=$(previous "$2")
	env_or "$1" "${v:-$3}"
}

json_string() { # a JSON string literal for $1
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\t'/\\t}
	s=${s//$'\r'/\\r}
	s=${s//$'\n'/\\n}
	printf '"%s"' "$s"
}

# --- parameters -----------------------------------------------------------------------------------
app_client_id=$(resolve APP_CLIENT_ID APP_CLIENT_ID "")
app_auth=$(resolve APP_AUTH APP_AUTH federated)
partner_tenant=$(resolve PARTNER_TENANT_ID PARTNER_TENANT_ID "$sub_tenant")
admin_group=$(resolve ADMIN_GROUP_ID ADMIN_GROUP_ID "")
mail_from=$(resolve CONSENT_MAIL_FROM CONSENT_MAIL_FROM "")
fanout_schedule=$(resolve FANOUT_SCHEDULE FANOUT_SCHEDULE "0 0 */6 * * *")
discovery_schedule=$(resolve DISCOVERY_SCHEDULE DISCOVERY_SCHEDULE "0 30 */6 * * *")
fanout_spread=$(resolve FANOUT_SPREAD FANOUT_SPREAD "PT30M")
auto_consent=$(resolve AUTO_CONSENT AUTO_CONSENT true)
partner_center=$(resolve PARTNER_CENTER_BASE_URL PARTNER_CENTER_BASE_URL "https://api.partnercenter.microsoft.com")
auth_client_id=$(resolve_previous AUTH_CLIENT_ID authClientId "")
prefix=$(resolve_previous PREFIX prefix tsync)
max_instances=$(resolve_previous MAXIMUM_INSTANCE_COUNT maximumInstanceCount 40)

case "$(printf '%s' "$auto_consent" | tr '[:upper:]' '[:lower:]')" in
true) auto_consent=true ;;
false) auto_consent=false ;;
*) die "AUTO_CONSENT must be true or false, not '$auto_consent'" ;;
esac
case "$app_auth" in
federated | certificate | secret) ;;
*) die "APP_AUTH must be federated, certificate or secret, not '$app_auth'" ;;
esac
case "$max_instances" in
'' | *[!0-9]*) die "MAXIMUM_INSTANCE_COUNT must be a number" ;;
esac
# A federated credential trusts the managed identity through its tenant's issuer
# (login.microsoftonline.com/<tenant>/v2.0), and tenantsync register writes it on the app registration
# in the partner tenant: both must be the same tenant.
if [ "$app_auth" = federated ] && [ "$partner_tenant" != "$sub_tenant" ]; then
	die "APP_AUTH=federated needs the subscription in the partner tenant ($partner_tenant), but az is signed in to tenant $sub_tenant: deploy into a subscription of the partner tenant, or use APP_AUTH=certificate (tenantsync register --credential certificate)"
fi

# The vault's name is chosen once and kept: a deterministic name would collide, after a removal, with
# the soft-deleted vault (purge protection keeps it 90 days).
vault_name=$(previous keyVaultName)
if [ -z "$vault_name" ]; then
	vault_name=$(az keyvault list -g "$RESOURCE_GROUP" --query "[0].name" -o tsv 2>/dev/null || true)
fi
if [ -z "$vault_name" ]; then
	vault_name="$prefix-kv-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
fi

{
	printf '{"$schema":"https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#","contentVersion":"1.0.0.0","parameters":{'
	printf '"prefix":{"value":%s},' "$(json_string "$prefix")"
	printf '"keyVaultName":{"value":%s},' "$(json_string "$vault_name")"
	printf '"partnerTenantId":{"value":%s},' "$(json_string "$partner_tenant")"
	printf '"appClientId":{"value":%s},' "$(json_string "$app_client_id")"
	printf '"appAuth":{"value":%s},' "$(json_string "$app_auth")"
	printf '"adminGroupId":{"value":%s},' "$(json_string "$admin_group")"
	printf '"authClientId":{"value":%s},' "$(json_string "$auth_client_id")"
	printf '"consentMailFrom":{"value":%s},' "$(json_string "$mail_from")"
	printf '"fanoutSchedule":{"value":%s},' "$(json_string "$fanout_schedule")"
	printf '"discoverySchedule":{"value":%s},' "$(json_string "$discovery_schedule")"
	printf '"fanoutSpread":{"value":%s},' "$(json_string "$fanout_spread")"
	printf '"autoConsent":{"value":%s},' "$auto_consent"
	printf '"partnerCenterUrl":{"value":%s},' "$(json_string "$partner_center")"
	printf '"maximumInstanceCount":{"value":%s},' "$max_instances"
	printf '"currentAppSettings":{"value":{'
	sep=""
	while IFS= read -r line; do
		name=${line%%$'\t'*}
		value=${line#*$'\t'}
		[ "$line" = "$name" ] && value=""
		[ -n "$name" ] || continue
		printf '%s%s:%s' "$sep" "$(json_string "$name")" "$(json_string "$value")"
		sep=","
	done <"$work/settings"
	printf '}}}}\n'
} >"$work/parameters.json"

if $upgrade; then
	echo "==> upgrading infrastructure (infra/main.bicep; parameters kept from the running app)"
else
	echo "==> infrastructure (infra/main.bicep): first deployment, Key Vault $vault_name"
fi
az deployment group create -g "$RESOURCE_GROUP" -n "$DEPLOYMENT" -f infra/main.bicep -p "@$work/parameters.json" -o none
app=$(output functionAppName)
vault=$(output keyVaultName)

# --- the state-signing key: created once, never replaced -----------------------------------------
# Replacing it invalidates every outstanding consent link and connect state, so a new key is written
# only when Key Vault says the secret does not exist (SecretNotFound, 404). A 403 (RBAC not yet
# propagated, or an operator without the role) is waited on with bounded retries, never taken as "no
# key". The error codes are Key Vault's (SecretNotFound; Forbidden / ForbiddenByRbac), which az prints
# in parentheses; their exact wording in az's output is not verified here.
echo "==> state signing key in $vault"
granted=false
grant_role() {
	local me scope
	if ! me=$(az ad signed-in-user show --query id -o tsv 2>/dev/null) || [ -z "$me" ]; then
		echo "    signed in as a service principal: give it Key Vault Secrets Officer on $vault yourself"
		return
	fi
	scope=$(az keyvault show -n "$vault" -g "$RESOURCE_GROUP" --query id -o tsv)
	if az role assignment create --assignee-object-id "$me" --assignee-principal-type User \
		--role "$KV_SECRETS_OFFICER" --scope "$scope" -o none 2>"$work/role.err"; then
		echo "    granted you Key Vault Secrets Officer on $vault"
	else
		echo "    could not grant you Key Vault Secrets Officer on $vault: $(tr '\n' ' ' <"$work/role.err")"
	fi
}
signing_key_done=false
for attempt in $(seq 1 "$RETRIES"); do
	if az keyvault secret show --vault-name "$vault" -n state-signing-key --query id -o tsv >/dev/null 2>"$work/kv.err"; then
		echo "    state-signing-key exists: kept"
		signing_key_done=true
		break
	fi
	err=$(cat "$work/kv.err")
	case "$err" in
	*SecretNotFound*)
		head -c 32 /dev/urandom | base64 | tr -d '\n' >"$work/signing-key"
		az keyvault secret set --vault-name "$vault" -n state-signing-key --file "$work/signing-key" --encoding utf-8 -o none
		echo "    state-signing-key created"
		signing_key_done=true
		break
		;;
	*Forbidden* | *"not authorized"*)
		if ! $granted; then
			grant_role
			granted=true
		fi
		if [ "$attempt" -lt "$RETRIES" ]; then
			echo "    waiting for your Key Vault role to take effect (role assignments can take minutes): attempt $attempt/$RETRIES"
			sleep "$RETRY_DELAY"
		fi
		;;
	*)
		die "reading state-signing-key in $vault failed: $err"
		;;
	esac
done
$signing_key_done || die "no access to the secrets of Key Vault $vault after $RETRIES attempts: assign yourself Key Vault Secrets Officer on it (az role assignment create --role $KV_SECRETS_OFFICER --assignee <you> --scope <vault id>) and run make deploy again. No signing key was written."

# --- the package ----------------------------------------------------------------------------------
if [ -z "$app_client_id" ]; then
	echo "==> function package: not yet (APP_CLIENT_ID is not set, the handler would stop at start-up);"
	echo "    it is deployed by make deploy once the app is registered (step 3 below)"
else
	pkg="${DEPLOY_PACKAGE:-}"
	if [ -z "$pkg" ]; then
		make package
		pkg=dist/functionapp.zip
	fi
	echo "==> function package ($pkg)"
	az functionapp deployment source config-zip -g "$RESOURCE_GROUP" -n "$app" --src "$pkg" -o none
fi

url=$(output appUrl)
echo
echo "Deployed. App URL:            $url"
echo "Redirect URIs:                $url/api/connect/callback $url/api/consent/callback"
echo "Key Vault:                    $(output keyVaultUrl)"
echo "Managed identity (object id): $(output managedIdentityPrincipalId) in tenant $(output managedIdentityTenantId)"
echo "Function key:                 az functionapp keys list -g $RESOURCE_GROUP -n $app --query functionKeys.default -o tsv"
if [ -z "$app_client_id" ]; then
	echo
	echo "Next: bin/tenantsync register --partner-tenant $partner_tenant --public-url $url --vault-url $(output keyVaultUrl) \\"
	echo "        --credential $app_auth$([ "$app_auth" = federated ] && printf ' --federated-identity %s' "$(output managedIdentityPrincipalId)")"
	echo "      then: RESOURCE_GROUP=$RESOURCE_GROUP APP_CLIENT_ID=<app id it prints> make deploy"
fi
