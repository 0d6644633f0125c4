package handlers

// Long operations: POST /api/discovery and POST /api/consent/cpv answer 202 with an operation id and
// its status route, and the Service Bus-triggered OperationRun does the work (shared/operation), so
// nothing depends on an HTTP response Azure would cut at 230 s.

import (
	"context"
	"net/http"

	"github.com/tenantsync/tenantsync/shared/adminauth"
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
