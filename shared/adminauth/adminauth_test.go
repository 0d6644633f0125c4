package adminauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/shared/domain"
)

const group = "3f1c0d2e-0000-4000-8000-000000000001"

func principalHeader(name string, extra ...map[string]string) string {
	claims := []map[string]string{{"typ": "name", "val": name}}
	claims = append(claims, extra...)
	b, _ := json.Marshal(map[string]any{"auth_typ": "aad", "name_typ": "name", "role_typ": "roles", "claims": claims})
	return base64.StdEncoding.EncodeToString(b)
}

func groups(ids ...string) []map[string]string {
	var out []map[string]string
	for _, id := range ids {
		out = append(out, map[string]string{"typ": "groups", "val": id})
	}
	return out
}

func check(pol Policy, header ...string) (Caller, error) {
	r := httptest.NewRequest("GET", "/api/tenants", nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	return pol.Check(r)
}

// App Service Authentication off: the header is anybody's to write, so it is ignored and the
// request is automation (issue 9, measured 8: it was trusted and its name recorded).
func TestPrincipalIgnoredWithoutAppServiceAuth(t *testing.T) {
	for _, pol := range []Policy{{}, {AdminGroupID: group}} {
		for _, h := range [][]string{
			nil,
			{"X-MS-CLIENT-PRINCIPAL", principalHeader("Mallory", groups(group)...)},
			{"X-MS-CLIENT-PRINCIPAL", principalHeader("Mallory")},
			{"X-MS-CLIENT-PRINCIPAL", "%%%"},
			{"X-MS-CLIENT-PRINCIPAL-NAME", "Mallory"},
		} {
			c, err := check(pol, h...)
			if err != nil || c != Automation || c.Name != domain.AutomationCaller {
				t.Errorf("auth off, %+v, headers %q: %+v %v, want automation", pol, h, c, err)
			}
		}
	}
}

func TestPrincipalWithAppServiceAuth(t *testing.T) {
	on := Policy{AppServiceAuth: true, AdminGroupID: group}
	if c, err := check(on); err != nil || c != Automation {
		t.Errorf("key only: %+v %v, want automation", c, err)
	}
	if c, err := check(on, "X-MS-CLIENT-PRINCIPAL", principalHeader("Ada Admin", groups("other", "3F1C0D2E-0000-4000-8000-000000000001")...)); err != nil ||
		c != (Caller{Name: "Ada Admin", SignedIn: true}) {
		t.Errorf("admin: %+v %v", c, err)
	}
	if c, err := check(on, "X-MS-CLIENT-PRINCIPAL", principalHeader("Bob", groups("other")...)); !errors.Is(err, ErrNotAdmin) || c.Name != "Bob" {
		t.Errorf("outside the group: %+v %v, want ErrNotAdmin naming Bob", c, err)
	}
	if _, err := check(on, "X-MS-CLIENT-PRINCIPAL", principalHeader("Bob")); !errors.Is(err, ErrNotAdmin) {
		t.Errorf("no groups at all: %v, want ErrNotAdmin", err)
	}
	if _, err := check(Policy{AppServiceAuth: true}, "X-MS-CLIENT-PRINCIPAL", principalHeader("Ada Admin", groups(group)...)); !errors.Is(err, ErrNoAdminGroup) {
		t.Errorf("no ADMIN_GROUP_ID: %v, want ErrNoAdminGroup", err)
	}
	for _, bad := range []string{"%%%", base64.StdEncoding.EncodeToString([]byte("not json"))} {
		if _, err := check(on, "X-MS-CLIENT-PRINCIPAL", bad); !errors.Is(err, ErrBadPrincipal) {
			t.Errorf("garbage principal %q: %v", bad, err)
		}
	}
	if _, err := check(on, "X-MS-CLIENT-PRINCIPAL", base64.StdEncoding.EncodeToString([]byte(`{"claims":[{"typ":"groups","val":"`+group+`"}]}`))); err == nil {
		t.Error("a principal without a name was accepted")
	}
	// The name falls back to the platform's name header.
	b, _ := json.Marshal(map[string]any{"claims": groups(group)})
	if c, err := check(on, "X-MS-CLIENT-PRINCIPAL", base64.StdEncoding.EncodeToString(b), "X-MS-CLIENT-PRINCIPAL-NAME", "ada@contoso.com"); err != nil || c.Name != "ada@contoso.com" {
		t.Errorf("name header: %+v %v", c, err)
	}
}

// A token with too many groups carries an overage claim instead of them: refused with what to do,
// unless the admin group is listed anyway.
func TestGroupOverage(t *testing.T) {
	on := Policy{AppServiceAuth: true, AdminGroupID: group}
	for name, claim := range map[string]map[string]string{
		"_claim_names": {"typ": "_claim_names", "val": `{"groups":"src1"}`},
		"hasgroups":    {"typ": "hasgroups", "val": "true"},
	} {
		_, err := check(on, "X-MS-CLIENT-PRINCIPAL", principalHeader("Ada Admin", claim))
		if !errors.Is(err, ErrGroupOverage) {
			t.Errorf("%s: %v, want ErrGroupOverage", name, err)
		}
		if c, err := check(on, "X-MS-CLIENT-PRINCIPAL", principalHeader("Ada Admin", append(groups(group), claim)...)); err != nil || !c.SignedIn {
			t.Errorf("%s with the group listed: %+v %v", name, c, err)
		}
	}
	if _, err := check(on, "X-MS-CLIENT-PRINCIPAL", principalHeader("Ada", map[string]string{"typ": "_claim_names", "val": `{"roles":"src1"}`})); !errors.Is(err, ErrNotAdmin) {
		t.Errorf("an overage of another claim: %v, want ErrNotAdmin", err)
	}
}

func TestCallerInContext(t *testing.T) {
	if c := From(context.Background()); c != Automation {
		t.Errorf("empty context: %+v", c)
	}
	ada := Caller{Name: "Ada", SignedIn: true}
	if c := From(WithCaller(context.Background(), ada)); c != ada {
		t.Errorf("stored caller: %+v", c)
	}
}

// Who a principal is: the claim name_typ names, else App Service's NAME header (usually the UPN),
// else a display name, else the object id; the id from the object id claim (short or long form).
func TestPrincipalNameAndID(t *testing.T) {
	pol := Policy{AppServiceAuth: true, AdminGroupID: group}
	enc := func(nameTyp string, claims ...map[string]string) string {
		b, _ := json.Marshal(map[string]any{"auth_typ": "aad", "name_typ": nameTyp, "claims": append(claims, groups(group)...)})
		return base64.StdEncoding.EncodeToString(b)
	}
	const upnURI = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
	oid := map[string]string{"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": "A1B2"}
	display := map[string]string{"typ": "name", "val": "MSP Administrator"}
	for _, c := range []struct {
		name   string
		header []string
		want   string
		wantID string
	}{
		{"name_typ claim wins", []string{"X-MS-CLIENT-PRINCIPAL", enc(upnURI, display, oid, map[string]string{"typ": upnURI, "val": "admin@msp"}), "X-MS-CLIENT-PRINCIPAL-NAME", "header@msp"}, "admin@msp", "a1b2"},
		{"then the NAME header", []string{"X-MS-CLIENT-PRINCIPAL", enc(upnURI, display, oid), "X-MS-CLIENT-PRINCIPAL-NAME", "header@msp"}, "header@msp", "a1b2"},
		{"then the display name", []string{"X-MS-CLIENT-PRINCIPAL", enc(upnURI, display, oid)}, "MSP Administrator", "a1b2"},
		{"then the object id", []string{"X-MS-CLIENT-PRINCIPAL", enc(upnURI), "X-MS-CLIENT-PRINCIPAL-ID", "C3D4"}, "c3d4", "c3d4"},
	} {
		got, err := check(pol, c.header...)
		if err != nil || got.Name != c.want || got.ID != c.wantID || !got.SignedIn {
			t.Errorf("%s: %+v, %v; want name %q id %q", c.name, got, err, c.want, c.wantID)
		}
	}
}

// fakeGroups is an in-memory GroupChecker (the Graph lookup is tested in shared/groupcheck).
type fakeGroups struct {
	member map[string]bool
	err    error
	asked  []string
}

func (f *fakeGroups) IsMember(_ context.Context, userID, groupID string) (bool, error) {
	f.asked = append(f.asked, userID+" "+groupID)
	return f.member[userID], f.err
}

// With a checker, an overage principal's membership is asked (by object id, for ADMIN_GROUP_ID
// in lower case): a member is admitted, a non-member refused as outside the group, a failed
// lookup refused with the permissions to check; a principal without an object id cannot be
// looked up and stays ErrGroupOverage.
func TestGroupOverageResolved(t *testing.T) {
	overage := map[string]string{"typ": "_claim_names", "val": `{"groups":"src1"}`}
	oid := func(id string) map[string]string { return map[string]string{"typ": "oid", "val": id} }
	f := &fakeGroups{member: map[string]bool{"a1": true}}
	on := Policy{AppServiceAuth: true, AdminGroupID: "3F1C0D2E-0000-4000-8000-000000000001", Groups: f}
	if c, err := check(on, "X-MS-CLIENT-PRINCIPAL", principalHeader("Ada", overage, oid("A1"))); err != nil || !c.SignedIn || c.ID != "a1" {
		t.Errorf("member: %+v %v", c, err)
	}
	if len(f.asked) != 1 || f.asked[0] != "a1 "+group {
		t.Errorf("asked %q", f.asked)
	}
	if _, err := check(on, "X-MS-CLIENT-PRINCIPAL", principalHeader("Bob", overage, oid("b2"))); !errors.Is(err, ErrNotAdmin) {
		t.Errorf("non-member: %v, want ErrNotAdmin", err)
	}
	if _, err := check(on, "X-MS-CLIENT-PRINCIPAL", principalHeader("Ada", overage)); !errors.Is(err, ErrGroupOverage) {
		t.Errorf("no object id: %v, want ErrGroupOverage", err)
	}
	f.err = errors.New("Authorization_RequestDenied")
	_, err := check(on, "X-MS-CLIENT-PRINCIPAL", principalHeader("Ada", overage, oid("a1")))
	if !errors.Is(err, ErrGroupLookup) || !strings.Contains(err.Error(), "Authorization_RequestDenied") || !strings.Contains(err.Error(), "User.Read.All") {
		t.Errorf("lookup failed: %v, want ErrGroupLookup naming Graph's error and the permissions", err)
	}
	n := len(f.asked)
	if _, err := check(on, "X-MS-CLIENT-PRINCIPAL", principalHeader("Ada", oid("a1"), map[string]string{"typ": "groups", "val": group})); err != nil || len(f.asked) != n {
		t.Errorf("groups listed: %v, asked Graph %d times", err, len(f.asked)-n)
	}
}
