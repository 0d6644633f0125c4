package syncer

import (
	"context"
	"fmt"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphgocore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/organization"

	"github.com/tenantsync/tenantsync/shared/graphclient"
)

// overview is the tenant's small reads, fetched in one $batch round trip instead of three.
type overview struct {
	DisplayName   string
	DefaultDomain string
	Skus          []models.SubscribedSkuable
	// Concealed is the tenant's report concealment setting; nil when it could not be read.
	Concealed *bool
	// Errors per item that failed for good (the caller decides what each means).
	OrgErr, SkusErr, SettingsErr error
}

const maxBatchRounds = 6

// readOverview sends /organization, /subscribedSkus and /admin/reportSettings as one batch. Graph
// can throttle individual batch items (429 with their own Retry-After) and the SDK does not retry
// them, so throttled items are re-sent in a smaller batch after the longest Retry-After.
func readOverview(ctx context.Context, c *msgraphsdk.GraphServiceClient, adapter abstractions.RequestAdapter) (*overview, error) {
	orgInfo, err := c.Organization().ToGetRequestInformation(ctx, &organization.OrganizationRequestBuilderGetRequestConfiguration{
		QueryParameters: &organization.OrganizationRequestBuilderGetQueryParameters{Select: []string{"id", "displayName", "verifiedDomains"}},
	})
	if err != nil {
		return nil, err
	}
	skuInfo, err := c.SubscribedSkus().ToGetRequestInformation(ctx, nil)
	if err != nil {
		return nil, err
	}
	settingsInfo, err := c.Admin().ReportSettings().ToGetRequestInformation(ctx, nil)
	if err != nil {
		return nil, err
	}
	pending := map[string]*abstractions.RequestInformation{"org": orgInfo, "skus": skuInfo, "settings": settingsInfo}
	done := map[string]msgraphgocore.BatchItem{}
	for round := 0; len(pending) > 0; round++ {
		batch := msgraphgocore.NewBatchRequest(adapter)
		ids := map[string]string{} // batch item id → our name
		for name, ri := range pending {
			item, err := batch.AddBatchRequestStep(*ri)
			if err != nil {
				return nil, err
			}
			ids[*item.GetId()] = name
		}
		resp, err := batch.Send(ctx, adapter)
		if err != nil {
			return nil, err // token or transport failure: the whole tenant fails
		}
		wait := time.Duration(0)
		for id, name := range ids {
			item := resp.GetResponseById(id)
			if item == nil || item.GetStatus() == nil {
				return nil, fmt.Errorf("$batch answer lacks item %s", name)
			}
			status := int(*item.GetStatus())
			if (status == 429 || status == 503 || status == 504) && round < maxBatchRounds-1 {
				d := graphclient.RetryDelay(item.GetHeaders()["Retry-After"], round, 500*time.Millisecond, 30*time.Second, time.Now())
				wait = max(wait, d)
				continue
			}
			done[name] = item
			delete(pending, name)
		}
		if len(pending) > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
		}
	}
	ov := &overview{}
	var orgs models.OrganizationCollectionResponseable
	if orgs, ov.OrgErr = batchValue[models.OrganizationCollectionResponseable](done["org"], models.CreateOrganizationCollectionResponseFromDiscriminatorValue); ov.OrgErr == nil && len(orgs.GetValue()) > 0 {
		o := orgs.GetValue()[0]
		ov.DisplayName = str(o.GetDisplayName())
		for _, d := range o.GetVerifiedDomains() {
			if boolv(d.GetIsDefault()) {
				ov.DefaultDomain = str(d.GetName())
			}
		}
	}
	var skus models.SubscribedSkuCollectionResponseable
	if skus, ov.SkusErr = batchValue[models.SubscribedSkuCollectionResponseable](done["skus"], models.CreateSubscribedSkuCollectionResponseFromDiscriminatorValue); ov.SkusErr == nil {
		ov.Skus = skus.GetValue()
	}
	var settings models.AdminReportSettingsable
	if settings, ov.SettingsErr = batchValue[models.AdminReportSettingsable](done["settings"], models.CreateAdminReportSettingsFromDiscriminatorValue); ov.SettingsErr == nil {
		ov.Concealed = settings.GetDisplayConcealedNames()
	}
	return ov, nil
}

// batchValue decodes one batch item. An error answer becomes an ODataError with the item's
// status, code and message, so it is classified like any other Graph error (the SDK's own
// mapping, GetBatchResponseById → throwErrors, gives a bare ApiError without the code when no
// error factory is registered).
func batchValue[T absser.Parsable](item msgraphgocore.BatchItem, ctor absser.ParsableFactory) (T, error) {
	var zero T
	status := int(*item.GetStatus())
	if status < 200 || status >= 300 {
		return zero, batchError(item, status)
	}
	if item.GetBody() == nil {
		// GetBatchResponseById would parse JSON null and then panic on the nil result's type
		// assertion (msgraph-sdk-go-core batch_requests.go: `return result.(T), err`).
		return zero, fmt.Errorf("$batch item %s answered %d without a body", str(item.GetId()), status)
	}
	resp := msgraphgocore.NewBatchResponse()
	resp.AddResponses([]msgraphgocore.BatchItem{item})
	return msgraphgocore.GetBatchResponseById[T](resp, *item.GetId(), ctor)
}

// batchError is a failed item's answer as an ODataError. Its message is always set, because
// msgraph-sdk-go's ODataError.Error() dereferences it without a nil check.
func batchError(item msgraphgocore.BatchItem, status int) error {
	oe := odataerrors.NewODataError()
	oe.ResponseStatusCode = status
	me := odataerrors.NewMainError()
	var code, msg string
	if e, ok := item.GetBody()["error"].(map[string]any); ok {
		code, msg = bodyString(e["code"]), bodyString(e["message"])
	}
	if code != "" {
		me.SetCode(&code)
	}
	if msg == "" {
		msg = fmt.Sprintf("Microsoft Graph answered HTTP %d to the $batch item without an error message", status)
	}
	me.SetMessage(&msg)
	oe.SetErrorEscaped(me)
	return oe
}

// bodyString reads a string out of a batch item's body. msgraph-sdk-go-core decodes the body with
// kiota's JsonParseNode.GetRawValue, which keeps every JSON string as a *string
// (kiota-serialization-json-go json_parse_node.go: `case string: s := t; return &s`), and its
// deserializeValue passes *string through unchanged (batch_item_model.go); a plain string is
// accepted too in case that changes. JSON null and other types read as "".
func bodyString(v any) string {
	switch s := v.(type) {
	case *string:
		if s != nil {
			return *s
		}
	case string:
		return s
	}
	return ""
}
