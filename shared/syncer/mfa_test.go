package syncer

import (
	"slices"
	"testing"

	msgraphgocore "github.com/microsoftgraph/msgraph-sdk-go-core"

	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/remedy"
)

func TestMethodName(t *testing.T) {
	for _, c := range []struct{ typ, phone, want string }{
		{"#microsoft.graph.passwordAuthenticationMethod", "", ""},
		{"#microsoft.graph.microsoftAuthenticatorAuthenticationMethod", "", "microsoftAuthenticatorPush"},
		{"#microsoft.graph.softwareOathAuthenticationMethod", "", "softwareOneTimePasscode"},
		{"#microsoft.graph.phoneAuthenticationMethod", "mobile", "mobilePhone"},
		{"#microsoft.graph.phoneAuthenticationMethod", "alternateMobile", "alternateMobilePhone"},
		{"#microsoft.graph.phoneAuthenticationMethod", "office", "officePhone"},
		{"#microsoft.graph.fido2AuthenticationMethod", "", "fido2"},
		{"#microsoft.graph.windowsHelloForBusinessAuthenticationMethod", "", "windowsHelloForBusiness"},
		{"#microsoft.graph.emailAuthenticationMethod", "", "email"},
		{"#microsoft.graph.temporaryAccessPassAuthenticationMethod", "", "temporaryAccessPass"},
		{"", "", ""},
	} {
		if got := methodName(c.typ, c.phone); got != c.want {
			t.Errorf("methodName(%q, %q) = %q, want %q", c.typ, c.phone, got, c.want)
		}
	}
}

func TestDeriveMFA(t *testing.T) {
	on, off := true, false
	for _, c := range []struct {
		name       string
		methods    []string
		sd         *bool
		perUser    string
		registered bool
		required   *bool
	}{
		{"security defaults require everyone, registered or not", []string{"email"}, &on, "", false, &on},
		{"authenticator registers", []string{"microsoftAuthenticatorPush"}, &on, "", true, &on},
		{"e-mail alone is SSPR, not MFA", []string{"email"}, &off, "disabled", false, &off},
		{"per-user enforced", []string{"mobilePhone", "email"}, &off, "enforced", true, &on},
		{"per-user enabled, not yet registered", nil, &off, "enabled", false, &on},
		{"per-user disabled though registered", []string{"fido2"}, &off, "disabled", true, &off},
		{"temporary access pass does not register", []string{"temporaryAccessPass"}, &off, "disabled", false, &off},
		{"policy unreadable, per-user unknown", []string{"softwareOneTimePasscode"}, nil, "", true, nil},
		{"policy unreadable, per-user disabled: unknown (security defaults may be on)", nil, nil, "disabled", false, nil},
		{"policy off, per-user unknown (beta failed)", []string{"fido2"}, &off, "", true, nil},
	} {
		d := deriveMFA(c.methods, c.sd, c.perUser)
		if d.Registered != c.registered || (d.Required == nil) != (c.required == nil) || (d.Required != nil && *d.Required != *c.required) {
			t.Errorf("%s: registered %v required %v, want %v %v", c.name, d.Registered, ptr(d.Required), c.registered, ptr(c.required))
		}
		if d.Methods == nil || len(d.Methods) != len(slices.DeleteFunc(slices.Clone(c.methods), func(s string) bool { return s == "" })) {
			t.Errorf("%s: methods %v from %v", c.name, d.Methods, c.methods)
		}
	}
}

func ptr(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}

func TestFallbackSource(t *testing.T) {
	on, off := true, false
	for _, c := range []struct {
		sd      *bool
		perUser bool
		want    string
	}{
		{&on, false, domain.MFASourceSecurityDefaults},
		{&on, true, domain.MFASourceSecurityDefaults},
		{&off, true, domain.MFASourcePerUser},
		{&off, false, domain.MFASourceMethods},
		{nil, false, domain.MFASourceMethods},
		{nil, true, domain.MFASourceMethods},
	} {
		if got := fallbackSource(c.sd, c.perUser); got != c.want {
			t.Errorf("fallbackSource(%v, %v) = %q, want %q", ptr(c.sd), c.perUser, got, c.want)
		}
	}
}

func TestBetaURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://graph.microsoft.com/v1.0":          "https://graph.microsoft.com/beta",
		"https://graph.microsoft.us/v1.0/":          "https://graph.microsoft.us/beta",
		"https://127.0.0.1:8443/v1.0":               "https://127.0.0.1:8443/beta",
		"https://graph.example/api":                 "",
		"https://microsoftgraph.chinacloudapi.cn/x": "",
	} {
		if got := betaURL(in); got != want {
			t.Errorf("betaURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// A failed $batch item becomes an ODataError whatever fields it has, and classifies like any
// Graph error (no nil dereference in Error()).
func TestDecodeItemErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int32
		body   map[string]any
		code   string
	}{
		{"code and message", 403, map[string]any{"error": map[string]any{"code": strp("Authorization_RequestDenied"), "message": strp("Insufficient privileges")}}, "Authorization_RequestDenied"},
		{"code only", 429, map[string]any{"error": map[string]any{"code": "TooManyRequests"}}, "TooManyRequests"},
		{"no body", 503, nil, ""},
		{"message null", 404, map[string]any{"error": map[string]any{"code": strp("Request_ResourceNotFound"), "message": nil}}, "Request_ResourceNotFound"},
	} {
		item := msgraphgocore.NewBatchItem()
		item.SetStatus(&c.status)
		item.SetBody(c.body)
		a := decodeItem(item)
		if a.err == nil || a.status != int(c.status) {
			t.Fatalf("%s: %+v, want an error with status %d", c.name, a, c.status)
		}
		code, msg, status, ok := odata(a.err)
		if !ok || code != c.code || status != int(c.status) || msg == "" || a.err.Error() == "" {
			t.Errorf("%s: code %q msg %q status %d ok %v", c.name, code, msg, status, ok)
		}
		if p := remedy.Classify(a.err); p.Code == "" {
			t.Errorf("%s: unclassified %+v", c.name, p)
		}
	}
	ok := int32(200)
	item := msgraphgocore.NewBatchItem()
	item.SetStatus(&ok)
	item.SetBody(map[string]any{"perUserMfaState": strp("enforced")})
	if a := decodeItem(item); a.err != nil || string(a.body) != `{"perUserMfaState":"enforced"}` {
		t.Errorf("success item: %+v %s", a, a.body)
	}
}

func strp(s string) *string { return &s }

func TestDeniedIsNotPremium(t *testing.T) {
	for _, c := range []struct {
		status int32
		code   string
		want   bool
	}{
		{403, "Authorization_RequestDenied", true},
		{403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant", false},
		{401, "InvalidAuthenticationToken", false},
		{429, "TooManyRequests", false},
	} {
		item := msgraphgocore.NewBatchItem()
		item.SetStatus(&c.status)
		item.SetBody(map[string]any{"error": map[string]any{"code": c.code, "message": "m"}})
		if got := denied(decodeItem(item).err); got != c.want {
			t.Errorf("denied(%d %s) = %v, want %v", c.status, c.code, got, c.want)
		}
	}
}
