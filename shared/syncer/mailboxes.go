package syncer

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	azruntime "github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/tenantsync/tenantsync/shared/cloud"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/remedy"
	"github.com/tenantsync/tenantsync/shared/store"
)

// errConcealed reports that the usage report's names are concealed.
var errConcealed = remedy.ReportsConcealed

// concealedName matches the hashes Microsoft substitutes for names when report concealment is on
// (32 upper-case hex characters, e.g. microsoft-graph-explorer-v4#1129), and piiRedacted the
// "<PII:H105(...)>@domain" form reports have carried instead of names
// (microsoft-graph-docs-contrib#3420). Neither may ever be stored: it matches no user and misleads.
var (
	concealedName = regexp.MustCompile(`^[0-9A-F]{32}$`)
	piiRedacted   = regexp.MustCompile(`(?i)<PII:`)
)

// concealedShare is the share of hashed names from which a report counts as concealed although
// /admin/reportSettings says names are shown (or could not be read): the setting can change
// between report refreshes, and a handful of hashed rows in a readable report is noise to skip,
// not a reason to drop every mailbox. Microsoft documents no threshold; one half is ours.
const concealedShare = 0.5

// mailboxStats counts a report's data rows by what became of them.
type mailboxStats struct {
	Stored    int // written as mailboxes
	Deleted   int // rows of deleted mailboxes (not stored, not an anomaly)
	Hashed    int // concealed or PII-redacted names: skipped
	Malformed int // no usable user principal name, e.g. "(Unknown)": skipped
}

// Skipped is the rows left out that an MSP may want to know about.
func (s mailboxStats) Skipped() int { return s.Hashed + s.Malformed }

// reportConcealed decides concealment from the tenant's setting (displayConcealedNames: "If set to
// true, all reports conceal user information such as usernames, groups, and sites",
// learn.microsoft.com/graph/api/resources/adminreportsettings; nil when it could not be read) and the share of hashed names in the rows read, never from one row: reports
// carry "(Unknown)" for some users (microsoft-graph-docs#15148: some users of an otherwise named
// report; microsoft-graph-docs-contrib#8980: every user, a service fault). Unverified: under which
// settings Microsoft writes it; the threads do not say so reliably, so no setting is inferred from it.
func reportConcealed(setting *bool, st mailboxStats) bool {
	if setting != nil && *setting {
		return true
	}
	seen := st.Stored + st.Hashed + st.Malformed
	return st.Hashed > 0 && float64(st.Hashed) >= concealedShare*float64(seen)
}

// rowKind classifies a report row's user principal name.
type rowKind int

const (
	rowOK rowKind = iota
	rowHashed
	rowMalformed
)

// classifyUPN says whether upn is a usable name: one "@" with text on both sides, no spaces or
// angle brackets; hashed and PII-redacted names are told apart from other junk so concealment
// can be judged by their share.
func classifyUPN(upn string) rowKind {
	if concealedName.MatchString(upn) || piiRedacted.MatchString(upn) {
		return rowHashed
	}
	local, dom, ok := strings.Cut(upn, "@")
	if !ok || local == "" || dom == "" || strings.Contains(dom, "@") || strings.ContainsAny(upn, " \t<>") {
		return rowMalformed
	}
	return rowOK
}

// cleanName drops a display name that is itself concealed or redacted.
func cleanName(name string) string {
	if concealedName.MatchString(name) || piiRedacted.MatchString(name) {
		return ""
	}
	return name
}

// mailboxes reads the D7 mailbox usage report. The SDK would buffer the whole CSV in memory; this
// follows Graph's 302 to the pre-authenticated download itself (sending no Authorization there)
// and streams the CSV row by row.
func mailboxes(ctx context.Context, hc *http.Client, graphURL string, cred azcore.TokenCredential, concealed *bool, sink deltaSink) (mailboxStats, error) {
	var none mailboxStats
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{cloud.Endpoints{GraphURL: graphURL}.GraphScope()}})
	if err != nil {
		return none, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(graphURL, "/")+"/reports/getMailboxUsageDetail(period='D7')", nil)
	if err != nil {
		return none, err
	}
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	noRedirect := *hc
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noRedirect.Do(req)
	if err != nil {
		return none, err
	}
	defer resp.Body.Close()
	body := resp.Body
	switch resp.StatusCode {
	case http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect:
		loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil {
			return none, fmt.Errorf("mailbox report redirect: %w", err)
		}
		dl, err := http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
		if err != nil {
			return none, err
		}
		csvResp, err := hc.Do(dl) // pre-authenticated URL: no token
		if err != nil {
			return none, err
		}
		defer csvResp.Body.Close()
		if csvResp.StatusCode != http.StatusOK {
			return none, azruntime.NewResponseError(csvResp)
		}
		body = csvResp.Body
	case http.StatusOK:
	default:
		return none, azruntime.NewResponseError(resp)
	}
	return readMailboxCSV(ctx, body, concealed, sink)
}

// mailboxCols are the report columns required: learn.microsoft.com/graph/api/reportroot-getmailboxusagedetail
// lists 17 CSV columns starting "Report Refresh Date,User Principal Name,Display Name,Is Deleted";
// "Recipient Type" is not among them but current reports carry it, so it is read when present.
var mailboxCols = []string{"User Principal Name", "Display Name", "Storage Used (Byte)", "Item Count"}

// mailboxHeader maps column names to positions and checks the required ones are there.
func mailboxHeader(header []string) (map[string]int, error) {
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimPrefix(strings.TrimSpace(h), "\ufeff")] = i
	}
	for _, need := range mailboxCols {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("mailbox report lacks column %q", need)
		}
	}
	return col, nil
}

// parseMailboxRow turns one data row into a mailbox, or says why it is left out.
func parseMailboxRow(col map[string]int, rec []string) (domain.Mailbox, rowKind, bool) {
	get := func(name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	upn := get("User Principal Name")
	if k := classifyUPN(upn); k != rowOK {
		return domain.Mailbox{}, k, false
	}
	deleted := strings.EqualFold(get("Is Deleted"), "True")
	m := domain.Mailbox{UserPrincipalName: upn, DisplayName: cleanName(get("Display Name")), RecipientType: get("Recipient Type"),
		HasArchive: strings.EqualFold(get("Has Archive"), "True")}
	m.StorageUsedBytes, _ = strconv.ParseInt(get("Storage Used (Byte)"), 10, 64)
	m.ItemCount, _ = strconv.ParseInt(get("Item Count"), 10, 64)
	m.ProhibitSendQuota, _ = strconv.ParseInt(get("Prohibit Send Quota (Byte)"), 10, 64)
	m.LastActivity, _ = time.Parse("2006-01-02", get("Last Activity Date"))
	m.ReportRefreshDate, _ = time.Parse("2006-01-02", get("Report Refresh Date"))
	return m, rowOK, deleted
}

// readMailboxCSV streams the report into sink. Rows without a usable name are skipped and
// counted; the report counts as concealed (errConcealed) when the setting says so or hashed names
// make up concealedShare of it. Rows stored before that is known are real mailboxes, never hashes.
func readMailboxCSV(ctx context.Context, r io.Reader, concealed *bool, sink deltaSink) (mailboxStats, error) {
	var st mailboxStats
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return st, fmt.Errorf("mailbox report: %w", err)
	}
	col, err := mailboxHeader(header)
	if err != nil {
		return st, err
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return st, fmt.Errorf("mailbox report: %w", err)
		}
		m, kind, deleted := parseMailboxRow(col, rec)
		switch {
		case kind == rowHashed:
			st.Hashed++
		case kind == rowMalformed:
			st.Malformed++
		case deleted:
			st.Deleted++
		default:
			if err := sink.put(ctx, store.MailboxKey(m.UserPrincipalName), m); err != nil {
				return st, err
			}
			st.Stored++
		}
	}
	if reportConcealed(concealed, st) {
		return st, errConcealed
	}
	return st, nil
}

// skipReason explains Skipped for the tenant's collection status.
func (s mailboxStats) skipReason() string {
	var parts []string
	if s.Malformed > 0 {
		parts = append(parts, fmt.Sprintf("%d without a user principal name (Microsoft reports some users as \"(Unknown)\")", s.Malformed))
	}
	if s.Hashed > 0 {
		parts = append(parts, fmt.Sprintf("%d with a concealed or redacted name", s.Hashed))
	}
	if len(parts) == 0 {
		return ""
	}
	return "Mailbox report rows skipped: " + strings.Join(parts, "; ") + "."
}
