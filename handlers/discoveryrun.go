package handlers

import (
	"net/http"

	"github.com/tenantsync/tenantsync/shared/operation"
)

// discoveryRun serves POST /api/discovery: discovery (and automatic consent) as an operation. It
// takes no body (empty, or {}).
func (d Deps) discoveryRun(w http.ResponseWriter, r *http.Request) {
	if !decodeBody(w, r, &struct{}{}, "no body, or {}", true) {
		return
	}
	d.startOperation(w, r, operation.Operation{Kind: operation.KindDiscovery})
}
