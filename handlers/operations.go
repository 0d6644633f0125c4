package handlers

// Long operations: POST /api/discovery and POST /api/consent/cpv answer 202 with an operation id and
// its status route, and the Service Bus-triggered OperationRun does the work (shared/operation), so
// nothing depends on an HTTP response Azure would cut at 230 s.

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/tenantsync/tenantsync/shared/adminauth"
	"github.com/tenantsync/tenantsync/shared/consent"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/invocation"
	"github.com/tenantsync/tenantsync/shared/operation"
)

// operationAnswer is the 202 answer: the operation and where to follow it.
type operationAnswer struct {
	operation.Operation
	StatusURL string `json:"statusUrl"`
}

func statusURL(ctx context.Context, id string) string { return apiPath(ctx, "/api/operations/"+id) }

// startOperation records and queues op and answers 202 with a Location header.
func (d Deps) startOperation(w http.ResponseWriter, r *http.Request, op operation.Operation) {
	// Who asked, as the admin rule recorded it: a signed-in admin, or automation (function key).
	op.RequestedBy = adminauth.From(r.Context()).Name
	started, err := d.Operations.Start(r.Context(), op)
	if err != nil {
		d.fail(w, r, "starting the "+op.Kind+" operation", err)
		return
	}
	w.Header().Set("Location", statusURL(r.Context(), started.ID))
	writeJSON(w, http.StatusAccepted, operationAnswer{Operation: started, StatusURL: statusURL(r.Context(), started.ID)})
}

// discoverNow serves POST /api/discovery: discovery (and automatic consent) as an operation. It
// takes no body (empty, or {}).
func (d Deps) discoverNow(w http.ResponseWriter, r *http.Request) {
	if !decodeBody(w, r, &struct{}{}, "no body, or {}", true) {
		return
	}
	d.startOperation(w, r, operation.Operation{Kind: operation.KindDiscovery})
}

// cpvRequest is POST /api/consent/cpv's body: named tenants, or "all": true for every eligible tenant.
// An empty body is refused: touching every customer tenant must be asked for explicitly.
type cpvRequest struct {
	TenantIDs []string `json:"tenantIds"`
	All       bool     `json:"all"`
}

const cpvUsage = `{"tenantIds": ["<tenant GUID>", ...]} or {"all": true} (every eligible tenant)`

// consentCPV serves POST /api/consent/cpv as an operation.
func (d Deps) consentCPV(w http.ResponseWriter, r *http.Request) {
	var body cpvRequest
	// Strict (one value, no unknown, duplicate or case-variant keys) and required: an empty body
	// is refused, since touching every customer tenant must be asked for explicitly.
	if !decodeBody(w, r, &body, cpvUsage, false) {
		return
	}
	switch {
	case body.All && len(body.TenantIDs) > 0:
		writeError(w, http.StatusBadRequest, "BadRequest", `give either "tenantIds" or "all": true, not both`)
		return
	case !body.All && len(body.TenantIDs) == 0:
		writeError(w, http.StatusBadRequest, "BadRequest", "no tenants named: want "+cpvUsage)
		return
	}
	ids := make([]string, 0, len(body.TenantIDs))
	for _, id := range body.TenantIDs {
		if !domain.IsTenantID(id) {
			writeError(w, http.StatusBadRequest, "BadRequest", "tenantIds must be tenant GUIDs; "+jsonQuote(id)+" is not")
			return
		}
		ids = append(ids, strings.ToLower(id)) // tenant ids are kept in lower case
	}
	d.startOperation(w, r, operation.Operation{Kind: operation.KindConsentCPV, TenantIDs: ids, All: body.All})
}

// operationStatus serves GET /api/operations/{operationId}.
func (d Deps) operationStatus(w http.ResponseWriter, r *http.Request) {
	id := strings.ToLower(r.PathValue("operationId"))
	op, err := d.Operations.Store.GetOperation(r.Context(), id)
	switch {
	case errors.Is(err, operation.ErrNotFound):
		writeError(w, http.StatusNotFound, "OperationNotFound", "no operation "+jsonQuote(id))
	case err != nil:
		d.fail(w, r, "reading the operation", err)
	default:
		writeJSON(w, http.StatusOK, operation.View(op, d.Now()))
	}
}

// operationRun is the Service Bus-triggered worker of the operations queue.
func (d Deps) operationRun(ctx context.Context, req *invocation.Request) (*invocation.Response, error) {
	msg, err := req.ServiceBus("msg")
	if err != nil {
		return nil, err
	}
	id, err := operation.DecodeMessage(msg.Body)
	if err != nil {
		return nil, err // kept, then dead-lettered with this reason: nothing else can be done with it
	}
	op, err := d.Operations.Run(ctx, id, d.operationRunners())
	if err != nil {
		return nil, err // the record could not be written: let Service Bus redeliver
	}
	return &invocation.Response{Logs: []string{"operation " + op.ID + " (" + op.Kind + "): " + op.State}}, nil
}

func (d Deps) operationRunners() map[string]operation.Runner {
	return map[string]operation.Runner{
		operation.KindDiscovery: func(ctx context.Context, _ operation.Operation) (any, error) {
			rep, err := d.Discovery.Run(ctx)
			if err != nil {
				return nil, err
			}
			return discoveryAnswer{Report: rep, Consent: d.autoConsent(ctx)}, nil
		},
		operation.KindConsentCPV: func(ctx context.Context, op operation.Operation) (any, error) {
			var ids []string // nil: every eligible tenant
			if !op.All {
				ids = op.TenantIDs
			}
			results, err := d.Consent.GrantCPV(ctx, ids)
			res := map[string]any{"results": nonNil(results), "summary": consent.Summarize(results)}
			var p *consent.Problem
			if errors.As(err, &p) {
				return res, problemError{p}
			}
			return res, err
		},
	}
}

// problemError gives a consent problem's code and remediation to the operation's error.
type problemError struct{ p *consent.Problem }

func (e problemError) Error() string              { return e.p.Message }
func (e problemError) ProblemCode() string        { return e.p.Code }
func (e problemError) ProblemRemediation() string { return e.p.Remediation }
