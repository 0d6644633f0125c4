package groupcheck_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/tenantsync/tenantsync/shared/config"
	"github.com/tenantsync/tenantsync/shared/groupcheck"
	"github.com/tenantsync/tenantsync/shared/identity"
	"github.com/tenantsync/tenantsync/shared/localdev/sim"
	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// The overage lookup against the simulator's Graph over TLS, through msgraph-sdk-go: members and
// non-members answered, the answer cached for the TTL (no second Graph call), and a Graph refusal
// (the app lost its group permissions) returned as an error and not cached.
func TestCheckMemberGroupsAgainstGraph(t *testing.T) {
	s, err := sim.Start(sim.Options{Scenario: "demo", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ep := s.Endpoints().Endpoints
	app := s.World.App()
	newChecker := func(now func() time.Time) *groupcheck.Checker {
		creds := &identity.AppCredentials{Mode: config.AuthSecret, ClientID: app.AppID, Secret: app.Secrets[0].Value, Endpoints: ep}
		return &groupcheck.Checker{Endpoints: ep, Now: now, TTL: time.Minute,
			Credential: func() (azcore.TokenCredential, error) { return creds.For(scenario.DemoPartnerTenantID) }}
	}
	ctx := context.Background()
	clock := time.Now()
	c := newChecker(func() time.Time { return clock })
	calls := func() int64 {
		var n int64
		for _, r := range s.Metrics.Rows() {
			if r.Service == "graph" && r.Endpoint == "POST /users/{id}/checkMemberGroups" {
				n += r.Requests
			}
		}
		return n
	}

	for user, want := range map[string]bool{scenario.DemoAdminID: true, scenario.DemoNoMFAID: false} {
		got, err := c.IsMember(ctx, user, strings.ToUpper(scenario.DemoAdminGroupID))
		if err != nil || got != want {
			t.Errorf("IsMember(%s): %v, %v; want %v", user, got, err, want)
		}
	}
	if n := calls(); n != 2 {
		t.Fatalf("%d checkMemberGroups calls, want 2", n)
	}
	if ok, err := c.IsMember(ctx, scenario.DemoAdminID, scenario.DemoAdminGroupID); !ok || err != nil {
		t.Errorf("cached: %v %v", ok, err)
	}
	if n := calls(); n != 2 {
		t.Errorf("a cached answer asked Graph again (%d calls)", n)
	}
	clock = clock.Add(2 * time.Minute) // past the TTL: asked again
	if ok, err := c.IsMember(ctx, scenario.DemoAdminID, scenario.DemoAdminGroupID); !ok || err != nil {
		t.Errorf("after TTL: %v %v", ok, err)
	}
	if n := calls(); n != 3 {
		t.Errorf("after the TTL: %d calls, want 3", n)
	}

	// Without User.Read.All/Group.Read.All/Directory.Read.All Graph refuses: an error naming it.
	if err := s.Directory.WithdrawRoles(scenario.DemoPartnerTenantID, app.AppID, "Group.Read.All", "Directory.Read.All", "GroupMember.Read.All"); err != nil {
		t.Fatal(err)
	}
	denied := newChecker(time.Now)
	for range 2 {
		ok, err := denied.IsMember(ctx, scenario.DemoAdminID, scenario.DemoAdminGroupID)
		if ok || err == nil || !strings.Contains(err.Error(), "Authorization_RequestDenied") {
			t.Errorf("without permissions: %v %v", ok, err)
		}
	}
	if n := calls(); n != 5 {
		t.Errorf("a failure was cached: %d calls, want 5", n)
	}
	if _, err := newChecker(time.Now).IsMember(ctx, "not-a-user", scenario.DemoAdminGroupID); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("unknown user: %v", err)
	}
}
