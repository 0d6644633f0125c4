// Package adminauth decides who may use tenantsync's admin API. The Functions host already demands
// a function key on every non-anonymous route (automation uses that). In Azure, App Service
// Authentication signs people in and forwards their identity as X-MS-CLIENT-PRINCIPAL (it strips any
// copy a client sends); such a principal must belong to the configured admin group.
package adminauth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// Principal is the signed-in user App Service Authentication forwards.
type Principal struct {
	Name   string
	Groups []string
}

// ErrNotAdmin is returned for a principal outside the admin group.
var ErrNotAdmin = errors.New("the signed-in user is not in tenantsync's admin group")

// FromRequest decodes X-MS-CLIENT-PRINCIPAL; ok is false when there is none.
func FromRequest(r *http.Request) (p Principal, ok bool, err error) {
	h := r.Header.Get("X-MS-CLIENT-PRINCIPAL")
	if h == "" {
		return p, false, nil
	}
	b, err := base64.StdEncoding.DecodeString(h)
	if err != nil {
		return p, true, errors.New("X-MS-CLIENT-PRINCIPAL is not base64")
	}
	var raw struct {
		NameType string `json:"name_typ"`
		Claims   []struct {
			Type  string `json:"typ"`
			Value string `json:"val"`
		} `json:"claims"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return p, true, errors.New("X-MS-CLIENT-PRINCIPAL is not the App Service principal JSON")
	}
	for _, c := range raw.Claims {
		switch {
		case c.Type == "groups":
			p.Groups = append(p.Groups, strings.ToLower(c.Value))
		case c.Type == raw.NameType || c.Type == "name" || c.Type == "preferred_username":
			if p.Name == "" {
				p.Name = c.Value
			}
		}
	}
	if p.Name == "" {
		p.Name = r.Header.Get("X-MS-CLIENT-PRINCIPAL-NAME")
	}
	return p, true, nil
}

// Check enforces the admin group on a forwarded principal. No principal means the request was
// let through by the host's function key (automation, or the local host's key).
func Check(r *http.Request, adminGroupID string) (who string, err error) {
	p, ok, err := FromRequest(r)
	if err != nil {
		return "", err
	}
	if !ok {
		return "function key", nil
	}
	if adminGroupID == "" {
		return "", errors.New("ADMIN_GROUP_ID is not set, so signed-in users cannot be authorised: set it to the admin group's object id")
	}
	for _, g := range p.Groups {
		if g == strings.ToLower(adminGroupID) {
			return p.Name, nil
		}
	}
	return p.Name, ErrNotAdmin
}
