package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

var errSentinel = errors.New("sentinel")

func TestProblemIsAnErrorReadBackWithErrorsAs(t *testing.T) {
	var err error = fmt.Errorf("wrapped: %w", &Problem{Code: "X", Message: "m", Remediation: "r", Kind: errSentinel})
	var p *Problem
	if !errors.As(err, &p) || p.Code != "X" {
		t.Fatalf("errors.As did not find the problem in %v", err)
	}
	if !errors.Is(err, errSentinel) {
		t.Error("errors.Is does not reach Kind")
	}
	if got := (Problem{Code: "AADSTS65001", Message: "AADSTS65001: no consent", Remediation: "consent"}).Error(); got != "AADSTS65001: no consent Fix: consent" {
		t.Errorf("Error() = %q", got)
	}
	// Kind may wrap a dependency's raw error: never part of the text shown.
	if got := (Problem{Code: "C", Message: "m", Kind: errors.New("secret body")}).Error(); got != "C: m" {
		t.Errorf("Error() = %q shows Kind", got)
	}
}

func TestCollectionStatusKeepsItsWireShape(t *testing.T) {
	in := `{"available":false,"code":"PremiumRequired","reason":"needs P1","remediation":"buy P1","skipped":2,"skipReason":"bad rows"}`
	var c CollectionStatus
	if err := json.Unmarshal([]byte(in), &c); err != nil {
		t.Fatal(err)
	}
	if c.Available || c.Code() != "PremiumRequired" || c.Reason() != "needs P1" || c.Remediation() != "buy P1" || c.Skipped != 2 {
		t.Fatalf("decoded %+v", c)
	}
	out, _ := json.Marshal(c)
	if string(out) != in {
		t.Errorf("round trip: %s, want %s", out, in)
	}
	ok, _ := json.Marshal(CollectionStatus{Available: true})
	if string(ok) != `{"available":true}` {
		t.Errorf("available collection: %s", ok)
	}
	var back CollectionStatus
	if err := json.Unmarshal(ok, &back); err != nil || back.Problem != nil || back.Code() != "" {
		t.Errorf("available collection decoded with a problem: %+v", back)
	}
}
