// Package apiclient calls the handler's API and the local host's admin API with the local
// function key, for the demo and the benchmark (local stand-ins only).
package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/shared/operation"
)

// Client is the local host at Base with its function key.
type Client struct{ Base, Key string }

// Send sends body (JSON, or none) and decodes a 2xx answer into out (nil: discarded); any other
// answer is an error naming the request and the answer's start.
func (c *Client) Send(ctx context.Context, method, path, body string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("x-functions-key", c.Key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// Operate starts a long operation (202 with its status route), waits up to wait until the local
// host's operations queue is idle, and decodes the finished operation's result into out (nil:
// discarded). An operation that did not succeed is an error with its code and message.
func (c *Client) Operate(ctx context.Context, path, body string, wait time.Duration, out any) error {
	var started struct {
		StatusURL string `json:"statusUrl"`
	}
	if err := c.Send(ctx, http.MethodPost, path, body, &started); err != nil {
		return err
	}
	idle := fmt.Sprintf("/admin/queues/%s/wait-idle?timeout=%ds", operation.QueueName, int(wait.Seconds()))
	if err := c.Send(ctx, http.MethodPost, idle, "", nil); err != nil {
		return err
	}
	var op operation.Operation
	if err := c.Send(ctx, http.MethodGet, started.StatusURL, "", &op); err != nil {
		return err
	}
	if op.State != operation.StateSucceeded {
		msg := op.State
		if op.Error != nil {
			msg = op.Error.Code + ": " + op.Error.Message
		}
		return fmt.Errorf("operation %s: %s", op.ID, msg)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(op.Result, out)
}
