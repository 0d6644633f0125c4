package servicebus

import (
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/shared/queue"
)

func TestConvertCarriesIdentityAndSchedule(t *testing.T) {
	at := time.Date(2026, 11, 22, 6, 5, 0, 0, time.FixedZone("x", 3600))
	m := Convert(queue.Message{ID: "t:slot", Body: []byte("{}"), ContentType: "application/json", CorrelationID: "run", Subject: "s", ScheduledEnqueueTime: at, Properties: map[string]any{"k": "v"}})
	if *m.MessageID != "t:slot" || *m.ContentType != "application/json" || *m.CorrelationID != "run" || *m.Subject != "s" || m.ApplicationProperties["k"] != "v" {
		t.Errorf("converted %+v", m)
	}
	if !m.ScheduledEnqueueTime.Equal(at) || m.ScheduledEnqueueTime.Location() != time.UTC {
		t.Errorf("ScheduledEnqueueTime %v, want %v in UTC", m.ScheduledEnqueueTime, at)
	}
	empty := Convert(queue.Message{Body: []byte("x")})
	if empty.MessageID != nil || empty.ScheduledEnqueueTime != nil {
		t.Error("unset fields must stay nil so the SDK and Service Bus apply their defaults")
	}
}
