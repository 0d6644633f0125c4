package entra

import (
	"fmt"
	"testing"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/token"
)

// ID tokens carry the user's groups, or past 200 the groups overage claim instead.
func TestGroupClaims(t *testing.T) {
	var c token.Claims
	groupClaims(&c, user{ID: "u1", HomeTenant: "t1", Groups: []string{"g1", "g2"}}, "https://login")
	if len(c.Groups) != 2 || c.ClaimNames != nil {
		t.Errorf("two groups: %+v", c)
	}
	var many []string
	for i := 0; i <= maxTokenGroups; i++ {
		many = append(many, fmt.Sprintf("g%d", i))
	}
	var o token.Claims
	groupClaims(&o, user{ID: "u1", HomeTenant: "t1", Groups: many}, "https://login")
	if o.Groups != nil || o.ClaimNames["groups"] != "src1" || o.ClaimSources["src1"] == nil {
		t.Errorf("%d groups: %+v", len(many), o)
	}
	var none token.Claims
	groupClaims(&none, user{ID: "u1"}, "https://login")
	if none.Groups != nil || none.ClaimNames != nil {
		t.Errorf("no groups: %+v", none)
	}
}
