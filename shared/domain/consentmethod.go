package domain

// ConsentMethodGDAP is the consent method of a tenant synced with the partner service account's
// delegated token (GDAP roles) because tenantsync's app roles could not be granted there; the
// sync engine reads it to choose its credential.
const ConsentMethodGDAP = "gdap"
