package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"github.com/tenantsync/tenantsync/shared/domain"
)

// Per-tenant collection tables (PartitionKey tenant id, RowKey EscapeKey(object key)) and the
// per-collection sync state (PartitionKey tenant id, RowKey collection name).
const (
	TableUsers     = "Users"
	TableLicenses  = "Licenses"
	TableGroups    = "Groups"
	TableDevices   = "Devices"
	TableMailboxes = "Mailboxes"
	TableSyncState = "SyncState"
	// TableUserSecurity holds MFA registration and last sign-in per user (RowKey = user id).
	TableUserSecurity = "UserSecurity"
)

// CollectionTables are the synced collections' tables.
var CollectionTables = []string{TableUsers, TableUserSecurity, TableLicenses, TableGroups, TableDevices, TableMailboxes}

// ensuredTables is every table Ensure creates.
func ensuredTables() []string {
	return append([]string{TableTenants, TableRuns, TableSyncState, TableUsedStates, TablePartner}, CollectionTables...)
}

// Table Storage's rule for table names; checking it up front keeps odd strings out of request URLs.
var tableNameRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{2,62}$`)

func checkTableTenant(table, tenantID string) error {
	if !tableNameRe.MatchString(table) {
		return fmt.Errorf("%q is not a table name", table)
	}
	// The tenant id goes into OData filters; a GUID cannot break out of the quoted literal.
	if !domain.IsTenantID(tenantID) {
		return fmt.Errorf("%q is not a tenant id", tenantID)
	}
	return nil
}

// maxKeyLen keeps escaped keys well under the 1 KiB (512 UTF-16 characters) key limit.
const maxKeyLen = 400

// EscapeKey turns any non-empty key into a RowKey. Table Storage forbids / \ # ? and control
// characters in keys; ' and % are legal but break some paths (the Go SDK's transactional delete
// does not double quotes, and the service mis-decodes some %-sequences), so everything outside
// [A-Za-z0-9.-_@] becomes !XX (hex of each UTF-8 byte), ! included. Object ids (GUIDs) pass
// unchanged. The mapping is injective; keys longer than maxKeyLen are cut and suffixed with a
// hash of the whole key so they stay unique and stable.
func EscapeKey(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == '@' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "!%02X", c)
		}
	}
	s := b.String()
	if len(s) > maxKeyLen {
		sum := sha256.Sum256([]byte(key))
		// "!!" never comes out of the escaping above, so a hashed key cannot equal an escaped one.
		s = s[:maxKeyLen-34] + "!!" + hex.EncodeToString(sum[:16])
	}
	return s
}

// MailboxKey is a mailbox's key: its UPN, lower-cased because UPNs are case-insensitive and the
// usage report does not promise a stable casing. Put/Delete/Get escape it like any key.
func MailboxKey(upn string) string {
	return strings.ToLower(strings.TrimSpace(upn))
}

// KeyOf returns the key a domain object is stored under: the object id, the SKU id for
// licences, MailboxKey(UPN) for mailboxes.
func KeyOf(v any) (string, error) {
	var k string
	switch o := v.(type) {
	case domain.User:
		k = o.ID
	case *domain.User:
		k = o.ID
	case domain.License:
		k = o.SkuID
	case *domain.License:
		k = o.SkuID
	case domain.Group:
		k = o.ID
	case *domain.Group:
		k = o.ID
	case domain.Device:
		k = o.ID
	case *domain.Device:
		k = o.ID
	case domain.Mailbox:
		k = MailboxKey(o.UserPrincipalName)
	case *domain.Mailbox:
		k = MailboxKey(o.UserPrincipalName)
	default:
		return "", fmt.Errorf("no key rule for %T", v)
	}
	if k == "" {
		return "", fmt.Errorf("%T has an empty key", v)
	}
	return k, nil
}

func escapeRowKey(key string) (string, error) {
	if key == "" {
		return "", fmt.Errorf("empty key")
	}
	return EscapeKey(key), nil
}
