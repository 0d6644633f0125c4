package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// TablePartner holds the partner connection's record (one row): who connected and when, the last
// refresh, and what is wrong if anything. The refresh token itself lives only in Key Vault.
const TablePartner = "Partner"

// PartnerConnection is the partner account's connection state.
type PartnerConnection struct {
	Connected     bool      `json:"connected"`
	ConnectedBy   string    `json:"connectedBy,omitempty"`
	ConnectedAt   time.Time `json:"connectedAt,omitzero"`
	LastRefreshAt time.Time `json:"lastRefreshAt,omitzero"`
	ErrorCode     string    `json:"errorCode,omitempty"`
	ErrorMessage  string    `json:"errorMessage,omitempty"`
	Remediation   string    `json:"remediation,omitempty"`
}

// GetPartner reads the partner connection (zero value when never connected).
func (s *Store) GetPartner(ctx context.Context) (PartnerConnection, error) {
	resp, err := s.svc.NewClient(TablePartner).GetEntity(ctx, "partner", "connection", nil)
	if IsNotFound(err) {
		return PartnerConnection{}, nil
	}
	if err != nil {
		return PartnerConnection{}, err
	}
	var row struct {
		Data string
	}
	if err := json.Unmarshal(resp.Value, &row); err != nil {
		return PartnerConnection{}, err
	}
	var pc PartnerConnection
	err = json.Unmarshal([]byte(row.Data), &pc)
	return pc, err
}

// PutPartner replaces the partner connection record.
func (s *Store) PutPartner(ctx context.Context, pc PartnerConnection) error {
	data, _ := json.Marshal(pc)
	b, _ := json.Marshal(map[string]any{"PartitionKey": "partner", "RowKey": "connection", "Data": string(data)})
	_, err := s.svc.NewClient(TablePartner).UpsertEntity(ctx, b, &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace})
	return err
}
