package cloud

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Scopes follow the configured cloud (Microsoft Graph national cloud deployments; Partner Center REST
// URLs); the simulator on loopback stands in for the global cloud.
func TestScopesFollowTheConfiguredCloud(t *testing.T) {
	for _, c := range []struct {
		graph, pc                 string
		graphScope, pcApp, pcUser string
	}{
		{"https://graph.microsoft.com/v1.0", "https://api.partnercenter.microsoft.com",
			"https://graph.microsoft.com/.default", "https://api.partnercenter.microsoft.com/.default", "https://api.partnercenter.microsoft.com/user_impersonation"},
		{"https://graph.microsoft.us/v1.0", "https://api.partnercenter.microsoft.com",
			"https://graph.microsoft.us/.default", "https://api.partnercenter.microsoft.com/.default", "https://api.partnercenter.microsoft.com/user_impersonation"},
		{"https://DOD-Graph.microsoft.us/v1.0", "https://api.partnercenter.microsoft.com",
			"https://dod-graph.microsoft.us/.default", "https://api.partnercenter.microsoft.com/.default", "https://api.partnercenter.microsoft.com/user_impersonation"},
		{"https://microsoftgraph.chinacloudapi.cn/v1.0", "https://partner.partnercenterapi.microsoftonline.cn",
			"https://microsoftgraph.chinacloudapi.cn/.default", "https://partner.partnercenterapi.microsoftonline.cn/.default", "https://partner.partnercenterapi.microsoftonline.cn/user_impersonation"},
		{"https://127.0.0.1:7444/v1.0", "https://127.0.0.1:7445", // the simulator
			"https://graph.microsoft.com/.default", "https://api.partnercenter.microsoft.com/.default", "https://api.partnercenter.microsoft.com/user_impersonation"},
		{"", "", // unset: Public()
			"https://graph.microsoft.com/.default", "https://api.partnercenter.microsoft.com/.default", "https://api.partnercenter.microsoft.com/user_impersonation"},
	} {
		e := Endpoints{GraphURL: c.graph, PartnerCenterURL: c.pc}
		if got := e.GraphScope(); got != c.graphScope {
			t.Errorf("Graph %q: scope %q, want %q", c.graph, got, c.graphScope)
		}
		if got := e.PartnerCenterAppScope(); got != c.pcApp {
			t.Errorf("Partner Center %q: app scope %q, want %q", c.pc, got, c.pcApp)
		}
		if got := e.PartnerCenterScope(); got != c.pcUser {
			t.Errorf("Partner Center %q: delegated scope %q, want %q", c.pc, got, c.pcUser)
		}
	}
}

// Product code takes scopes from the configured Endpoints; the global constants are for tests.
func TestProductCodeDoesNotUseGlobalScopeConstants(t *testing.T) {
	root := filepath.Join("..", "..")
	use := regexp.MustCompile(`\bcloud\.(GraphScope|PartnerCenterAppScope|PartnerCenterScope)\b`)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && p != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") || strings.Contains(p, filepath.Join("shared", "sim")) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if m := use.FindString(string(b)); m != "" {
			t.Errorf("%s uses %s: use the configured Endpoints' method instead", p, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMicrosoftAuthority(t *testing.T) {
	for host, want := range map[string]bool{
		"": true, "https://login.microsoftonline.com/": true, "https://login.microsoftonline.us/": true, "https://login.chinacloudapi.cn/": true,
		"https://127.0.0.1:7443/": false, "https://login.example.com/": false,
	} {
		if got := MicrosoftAuthority(host); got != want {
			t.Errorf("MicrosoftAuthority(%q) = %v", host, got)
		}
	}
}
