package sync

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

// concealedName matches the hashes Microsoft substitutes for names when report concealment is on.
var concealedName = regexp.MustCompile(`^[0-9A-F]{32}$`)

// mailboxes reads the D7 mailbox usage report. The SDK would buffer the whole CSV in memory; this
// follows Graph's 302 to the pre-authenticated download itself (sending no Authorization there)
// and streams the CSV row by row.
func mailboxes(ctx context.Context, hc *http.Client, graphURL string, cred azcore.TokenCredential, sink deltaSink) (int, error) {
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{cloud.Endpoints{GraphURL: graphURL}.GraphScope()}})
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(graphURL, "/")+"/reports/getMailboxUsageDetail(period='D7')", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	noRedirect := *hc
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noRedirect.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body := resp.Body
	switch resp.StatusCode {
	case http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect:
		loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil {
			return 0, fmt.Errorf("mailbox report redirect: %w", err)
		}
		dl, err := http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
		if err != nil {
			return 0, err
		}
		csvResp, err := hc.Do(dl) // pre-authenticated URL: no token
		if err != nil {
			return 0, err
		}
		defer csvResp.Body.Close()
		if csvResp.StatusCode != http.StatusOK {
			return 0, azruntime.NewResponseError(csvResp)
		}
		body = csvResp.Body
	case http.StatusOK:
	default:
		return 0, azruntime.NewResponseError(resp)
	}
	return readMailboxCSV(ctx, body, sink)
}

func readMailboxCSV(ctx context.Context, r io.Reader, sink deltaSink) (int, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return 0, fmt.Errorf("mailbox report: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimPrefix(strings.TrimSpace(h), "\ufeff")] = i
	}
	for _, need := range []string{"User Principal Name", "Display Name", "Storage Used (Byte)", "Item Count"} {
		if _, ok := col[need]; !ok {
			return 0, fmt.Errorf("mailbox report lacks column %q", need)
		}
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	n := 0
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("mailbox report: %w", err)
		}
		upn := get(rec, "User Principal Name")
		if concealedName.MatchString(upn) || !strings.Contains(upn, "@") {
			// Never store hashed names as mailboxes: they match no user and mislead.
			return n, errConcealed
		}
		if strings.EqualFold(get(rec, "Is Deleted"), "True") {
			continue
		}
		m := domain.Mailbox{UserPrincipalName: upn, DisplayName: get(rec, "Display Name"), RecipientType: get(rec, "Recipient Type"),
			HasArchive: strings.EqualFold(get(rec, "Has Archive"), "True")}
		m.StorageUsedBytes, _ = strconv.ParseInt(get(rec, "Storage Used (Byte)"), 10, 64)
		m.ItemCount, _ = strconv.ParseInt(get(rec, "Item Count"), 10, 64)
		m.ProhibitSendQuota, _ = strconv.ParseInt(get(rec, "Prohibit Send Quota (Byte)"), 10, 64)
		m.LastActivity, _ = time.Parse("2006-01-02", get(rec, "Last Activity Date"))
		m.ReportRefreshDate, _ = time.Parse("2006-01-02", get(rec, "Report Refresh Date"))
		if err := sink.put(ctx, store.MailboxKey(upn), m); err != nil {
			return n, err
		}
		n++
	}
}
