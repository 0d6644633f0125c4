// Package localqueue sends messages to the local Functions host's embedded Service Bus queue over
// its admin API. It exists only for local runs and tests; in Azure package servicebus is used.
package localqueue

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/shared/queue"
)

// WireMessage is a message on the local host's admin API (POST /admin/queues/{name}/messages).
type WireMessage struct {
	MessageID             string         `json:"messageId,omitempty"`
	Body                  []byte         `json:"body"`
	ContentType           string         `json:"contentType,omitempty"`
	CorrelationID         string         `json:"correlationId,omitempty"`
	Subject               string         `json:"subject,omitempty"`
	ApplicationProperties map[string]any `json:"applicationProperties,omitempty"`
	ScheduledEnqueueTime  time.Time      `json:"scheduledEnqueueTime,omitzero"`
}

// SendResult is the admin API's answer.
type SendResult struct {
	SequenceNumbers []int64  `json:"sequenceNumbers"`
	Duplicates      []string `json:"duplicates"`
}

// Sender posts to one queue of the local host.
type Sender struct {
	url    string
	client *http.Client
}

// New returns a sender for queue on the host at endpoint (e.g. http://127.0.0.1:7071).
func New(endpoint, queueName string) *Sender {
	return &Sender{
		url:    strings.TrimRight(endpoint, "/") + "/admin/queues/" + url.PathEscape(queueName) + "/messages",
		client: &http.Client{Timeout: 30 * time.Second},
	}
}

// Send implements queue.Sender.
func (s *Sender) Send(ctx context.Context, msgs []queue.Message) error {
	wire := make([]WireMessage, len(msgs))
	for i, m := range msgs {
		wire[i] = WireMessage{
			MessageID: m.ID, Body: m.Body, ContentType: m.ContentType, CorrelationID: m.CorrelationID,
			Subject: m.Subject, ApplicationProperties: m.Properties, ScheduledEnqueueTime: m.ScheduledEnqueueTime,
		}
	}
	body, err := json.Marshal(wire)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("local queue at %s: %w (is the local host running?)", s.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		return fmt.Errorf("local queue at %s: %s: %s", s.url, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// Close implements queue.Sender.
func (s *Sender) Close(context.Context) error { return nil }
