// Package sync syncs one customer tenant's Microsoft 365 facts (organization, licences, users,
// groups, devices, mailboxes, MFA registration, sign-ins) from Microsoft Graph into Table Storage,
// with delta queries, streaming pages, batched writes and graceful degradation.
package sync

import (
	"encoding/json"
	"fmt"

	"github.com/tenantsync/tenantsync/shared/domain"
)

// Delivery is what the worker needs to know about the queue message besides its body.
type Delivery struct {
	MessageID     string
	DeliveryCount int
}

// Decode parses and validates a message body. The error explains what is wrong so that the
// dead-lettered message can be understood without reading code.
func Decode(body []byte) (domain.SyncRequest, error) {
	var req domain.SyncRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return req, fmt.Errorf("sync message body is not a JSON sync request: %w", err)
	}
	return req, req.Validate()
}
