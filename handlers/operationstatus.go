package handlers

import (
	"errors"
	"net/http"
	"strings"

	"github.com/tenantsync/tenantsync/shared/operation"
)

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
