package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/shared/domain"
)

// $top is 1*DIGIT from 1 to 999 (OData ABNF); main accepted "+5" (strconv.Atoi).
func TestCollectionTopIsStrict(t *testing.T) {
	e := newInputsEnv(t)
	groups := "/api/tenants/" + e.tenant + "/groups"
	for _, q := range []string{"%2B5", "+5", "%205", "5%20", "-5", "0", "1000", "5.0", "0x5", "", "%EF%BC%95", "5&$top=6"} {
		rec := e.do("GET", groups+"?$top="+q, "")
		if code, msg := errorCode(t, rec); rec.Code != http.StatusBadRequest || code != "BadRequest" || !strings.Contains(msg, "$top") {
			t.Errorf("$top=%s: %d %s %q, want 400 naming $top", q, rec.Code, code, msg)
		}
	}
	for q, want := range map[string]int{"05": 5, "5": 5, "999": inputsGroups} {
		rec := e.do("GET", groups+"?$top="+q, "")
		var page struct{ Value []json.RawMessage }
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &page) != nil || len(page.Value) != want {
			t.Errorf("$top=%s: %d, %d items, want %d: %s", q, rec.Code, len(page.Value), want, rec.Body)
		}
	}
	if rec := e.do("GET", groups+"?$top=5&$skiptoken=a&$skiptoken=b", ""); rec.Code != http.StatusBadRequest {
		t.Errorf("a repeated $skiptoken: %d", rec.Code)
	}
}

// @odata.nextLink comes from PUBLIC_BASE_URL and the canonical path, whatever Host and
// X-Forwarded-* say and however the path was spelled; following it pages through everything.
func TestNextLinkFromPublicBaseURL(t *testing.T) {
	e := newInputsEnv(t)
	spoof := []string{"Host", "evil.example", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example", "Forwarded", "host=evil.example;proto=https"}
	target := "/API/Tenants/" + strings.ToUpper(e.tenant) + "/Groups?$top=" + fmt.Sprint(inputsPageTop)
	seen := map[string]bool{}
	for pages := 0; ; pages++ {
		if pages > inputsGroups {
			t.Fatal("the nextLinks loop")
		}
		rec := e.do("GET", target, "", spoof...)
		var page struct {
			Value []domain.Group
			Next  string `json:"@odata.nextLink"`
		}
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &page) != nil {
			t.Fatalf("GET %s: %d %s", target, rec.Code, rec.Body)
		}
		for _, g := range page.Value {
			seen[g.ID] = true
		}
		if page.Next == "" {
			break
		}
		u, err := url.Parse(page.Next)
		if err != nil || u.Scheme+"://"+u.Host != inputsPublic || u.Path != "/api/tenants/"+e.tenant+"/groups" ||
			u.Query().Get("$top") != fmt.Sprint(inputsPageTop) || u.Query().Get("$skiptoken") == "" || strings.Contains(page.Next, "evil") {
			t.Fatalf("@odata.nextLink %q, want %s/api/tenants/%s/groups?$top=%d&$skiptoken=...", page.Next, inputsPublic, e.tenant, inputsPageTop)
		}
		target = u.RequestURI()
	}
	if len(seen) != inputsGroups {
		t.Errorf("paged %d groups, want %d", len(seen), inputsGroups)
	}
}
