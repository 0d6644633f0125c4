package console

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/tenantsync/tenantsync/shared/domain"
)

// Collection describes one synced collection's table: its columns and how a stored row (the read
// API's JSON) becomes cells.
type Collection struct {
	Name    string // users, licenses, groups, devices, mailboxes, runs
	Label   string
	Columns []Column
	row     func(raw json.RawMessage) ([]Cell, error)
}

// Collections in the order the tenant page shows them.
var Collections = []Collection{
	{Name: "users", Label: "Users", Columns: cols("Name", "User principal name", "Licences", "MFA", "MFA methods", "Last sign-in", "Enabled", "Admin"), row: userRow},
	{Name: "licenses", Label: "Licences", Columns: []Column{{Label: "Product"}, {Label: "SKU"}, {Label: "Purchased", Numeric: true}, {Label: "Consumed", Numeric: true}, {Label: "Available", Numeric: true}, {Label: "Suspended", Numeric: true}, {Label: "Status"}}, row: licenseRow},
	{Name: "groups", Label: "Groups", Columns: cols("Name", "Kind", "Mail", "Description"), row: groupRow},
	{Name: "devices", Label: "Devices", Columns: cols("Device", "Operating system", "Compliance", "User", "Model", "Last check-in"), row: deviceRow},
	{Name: "mailboxes", Label: "Mailboxes", Columns: []Column{{Label: "Mailbox"}, {Label: "Name"}, {Label: "Size", Numeric: true}, {Label: "Items", Numeric: true}, {Label: "Archive"}, {Label: "Last activity"}}, row: mailboxRow},
}

// CollectionByName finds a collection ("runs" is not one: see RunsTable).
func CollectionByName(name string) (Collection, bool) {
	for _, c := range Collections {
		if c.Name == name {
			return c, true
		}
	}
	return Collection{}, false
}

func cols(labels ...string) []Column {
	out := make([]Column, len(labels))
	for i, l := range labels {
		out[i] = Column{Label: l}
	}
	return out
}

// Rows turns stored rows into cells.
func (c Collection) Rows(items []json.RawMessage) ([][]Cell, error) {
	out := make([][]Cell, 0, len(items))
	for _, raw := range items {
		r, err := c.row(raw)
		if err != nil {
			return nil, fmt.Errorf("%s row: %w", c.Name, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Matches reports whether a row's cells contain needle (lower case), for the table search.
func Matches(row []Cell, needle string) bool {
	if needle == "" {
		return true
	}
	for _, c := range row {
		if strings.Contains(strings.ToLower(c.Text), needle) {
			return true
		}
	}
	return false
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func userRow(raw json.RawMessage) ([]Cell, error) {
	var u domain.User
	if err := json.Unmarshal(raw, &u); err != nil {
		return nil, err
	}
	mfa := "unknown"
	if u.MFARegistered != nil {
		mfa = "not registered"
		if *u.MFARegistered {
			mfa = "registered"
		}
	}
	signIn := ShortTime(u.LastSignIn)
	return []Cell{text(u.DisplayName), text(u.UserPrincipalName), text(strings.Join(u.Licenses, ", ")), {Text: mfa, Status: map[string]string{"registered": "ok", "not registered": "bad"}[mfa]},
		text(strings.Join(u.MFAMethods, ", ")), text(signIn), text(yesNo(u.AccountEnabled)), text(yesNo(u.IsAdmin))}, nil
}

func licenseRow(raw json.RawMessage) ([]Cell, error) {
	var l domain.License
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, err
	}
	name := l.ProductName
	if name == "" {
		name = l.SkuPartNumber
	}
	return []Cell{text(name), text(l.SkuPartNumber), text(strconv.Itoa(l.Enabled)), text(strconv.Itoa(l.Consumed)),
		text(strconv.Itoa(l.Available)), text(strconv.Itoa(l.Suspended)), text(l.Status)}, nil
}

func groupRow(raw json.RawMessage) ([]Cell, error) {
	var g domain.Group
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, err
	}
	return []Cell{text(g.DisplayName), text(g.Kind), text(g.Mail), text(g.Description)}, nil
}

func deviceRow(raw json.RawMessage) ([]Cell, error) {
	var d domain.Device
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	os := strings.TrimSpace(d.OperatingSystem + " " + d.OSVersion)
	return []Cell{text(d.DeviceName), text(os), text(d.ComplianceState), text(d.UserPrincipalName),
		text(strings.TrimSpace(d.Manufacturer + " " + d.Model)), text(ShortTime(d.LastSync))}, nil
}

func mailboxRow(raw json.RawMessage) ([]Cell, error) {
	var m domain.Mailbox
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return []Cell{text(m.UserPrincipalName), text(m.DisplayName), text(Bytes(m.StorageUsedBytes)), text(strconv.FormatInt(m.ItemCount, 10)),
		text(yesNo(m.HasArchive)), text(ShortDate(m.LastActivity))}, nil
}

// Bytes formats a size in readable binary units (KiB, MiB, GiB, TiB).
func Bytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	f := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		f /= 1024
		if f < 1024 || u == "TiB" {
			return strconv.FormatFloat(f, 'f', 1, 64) + " " + u
		}
	}
	return ""
}

// RunsTable is the run history: newest first, per-collection counts and errors.
func RunsTable(runs []domain.Run) Table {
	t := Table{Name: "runs", Caption: "Run history", Empty: "No sync has run for this tenant yet.",
		Columns: cols("Run", "Reason", "State", "Started", "Finished", "Collections", "Error")}
	for _, r := range runs {
		var parts []string
		for _, name := range sortedKeys(r.Collections) {
			rc := r.Collections[name]
			s := fmt.Sprintf("%s %d", name, rc.Count)
			switch {
			case rc.Error != "":
				s += " (failed: " + rc.Error + ")"
			case rc.Unavailable != "":
				s += " (unavailable: " + rc.Unavailable + ")"
			case rc.Written > 0 || rc.Deleted > 0:
				s += fmt.Sprintf(" (%d written, %d deleted)", rc.Written, rc.Deleted)
			}
			parts = append(parts, s)
		}
		errText := ""
		if r.Error != nil {
			errText = r.Error.Code + ": " + r.Error.Message
			if r.Error.Remediation != "" {
				errText += " Fix: " + r.Error.Remediation
			}
		}
		st := map[string]string{domain.SyncSucceeded: "ok", domain.SyncPartial: "warn", domain.SyncFailed: "bad"}[r.State]
		t.Rows = append(t.Rows, []Cell{text(r.RunID), text(r.Reason), {Text: r.State, Status: st}, text(ShortTime(r.StartedAt)),
			text(ShortTime(r.FinishedAt)), text(strings.Join(parts, "; ")), text(errText)})
	}
	return t
}

func sortedKeys[T any](m map[string]T) []string {
	return slices.Sorted(maps.Keys(m))
}
