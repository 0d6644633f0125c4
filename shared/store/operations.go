package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/tenantsync/tenantsync/shared/operation"
)

// TableOperations holds long-running operations (shared/operation): partition "operation", row key
// the operation id, the record as JSON text split over Data, Data_1, ... (a string property holds at
// most 32K UTF-16 code units).
const TableOperations = "Operations"

const operationChunk = 30_000

// PutOperation writes an operation's record, replacing it.
func (s *Store) PutOperation(ctx context.Context, op operation.Operation) error {
	c := s.svc.NewClient(TableOperations)
	data, err := json.Marshal(op)
	if err != nil {
		return err
	}
	if len(data) > 30*operationChunk {
		// A result this large (thousands of tenants' consent results) keeps its summary only; each
		// tenant's own record still shows its consent.
		op.Result, _ = json.Marshal(map[string]any{"truncated": true, "note": "the result was too large to keep; see each tenant's consent"})
		data, _ = json.Marshal(op)
	}
	row := map[string]any{"PartitionKey": "operation", "RowKey": op.ID}
	text := []rune(string(data))
	for i := 0; i*operationChunk < len(text) || i == 0; i++ {
		name := "Data"
		if i > 0 {
			name += "_" + strconv.Itoa(i)
		}
		row[name] = string(text[i*operationChunk : min(len(text), (i+1)*operationChunk)])
	}
	b, _ := json.Marshal(row)
	_, err = c.UpsertEntity(ctx, b, &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace})
	if isCode(err, aztables.TableNotFound) {
		// The first operation of a deployment creates the table.
		if _, cerr := s.svc.CreateTable(ctx, TableOperations, nil); cerr != nil && !isCode(cerr, aztables.TableAlreadyExists) {
			return fmt.Errorf("create table %s: %w", TableOperations, cerr)
		}
		_, err = c.UpsertEntity(ctx, b, &aztables.UpsertEntityOptions{UpdateMode: aztables.UpdateModeReplace})
	}
	return err
}

// GetOperation reads an operation's record (operation.ErrNotFound when there is none).
func (s *Store) GetOperation(ctx context.Context, id string) (operation.Operation, error) {
	resp, err := s.svc.NewClient(TableOperations).GetEntity(ctx, "operation", id, nil)
	if IsNotFound(err) {
		return operation.Operation{}, operation.ErrNotFound
	}
	if err != nil {
		return operation.Operation{}, err
	}
	var row map[string]any
	if err := json.Unmarshal(resp.Value, &row); err != nil {
		return operation.Operation{}, err
	}
	text, _ := row["Data"].(string)
	for i := 1; ; i++ {
		part, ok := row["Data_"+strconv.Itoa(i)].(string)
		if !ok {
			break
		}
		text += part
	}
	var op operation.Operation
	if err := json.Unmarshal([]byte(text), &op); err != nil {
		return operation.Operation{}, fmt.Errorf("operation %s: %w", id, err)
	}
	return op, nil
}
