// Package queue defines how tenantsync sends work to its queues. In Azure the sender is Service Bus
// (package servicebus); locally it is the local Functions host's embedded queue (package localqueue).
// Both honour the same message fields, so duplicate detection and scheduling behave alike.
package queue

import (
	"context"
	"time"
)

// Message is one message to send.
type Message struct {
	// ID is the MessageId. The queue drops a second message with the same ID inside its duplicate
	// detection window, which makes re-sends idempotent.
	ID            string
	Body          []byte
	ContentType   string
	CorrelationID string
	Subject       string
	Properties    map[string]any
	// ScheduledEnqueueTime delays visibility; zero means now.
	ScheduledEnqueueTime time.Time
}

// Sender sends messages to one queue.
type Sender interface {
	// Send sends every message or returns an error; on error some may have been sent, which is
	// safe to retry because IDs make re-sends duplicates.
	Send(ctx context.Context, msgs []Message) error
	Close(ctx context.Context) error
}
