// Package groupcheck answers whether a signed-in partner user is in tenantsync's admin group when
// the sign-in token could not list the user's groups (Entra's groups overage claim). It asks
// Microsoft Graph in the partner tenant with the app's own app-only token:
//
//	POST /users/{id}/checkMemberGroups {"groupIds": ["<ADMIN_GROUP_ID>"]}
//
// which answers the subset of groupIds the user is a member of, transitively ("directoryObject:
// checkMemberGroups", learn.microsoft.com/graph/api/directoryobject-checkmembergroups; up to 20
// groups per request). Application permissions, least privileged first: "User.Read.All and
// GroupMember.Read.All, User.Read.All and Group.Read.All, Directory.Read.All". tenantsync's app
// already holds User.Read.All and Group.Read.All (the sync needs them; tenantsync register grants
// them in the partner tenant too), so the lookup adds no permission. Answers are cached briefly
// (TTL) so a page load does not cost a Graph call; failures are not cached.
package groupcheck

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/tenantsync/tenantsync/shared/cloud"
	"github.com/tenantsync/tenantsync/shared/graphclient"
	"github.com/tenantsync/tenantsync/shared/remedy"
)

// DefaultTTL is how long an answer is reused: a user removed from the admin group loses access
// within it.
const DefaultTTL = 5 * time.Minute

// Checker implements adminauth.GroupChecker with Graph.
type Checker struct {
	// Credential is the app's app-only credential in the partner tenant.
	Credential func() (azcore.TokenCredential, error)
	Endpoints  cloud.Endpoints
	TTL        time.Duration
	Now        func() time.Time

	mu    sync.Mutex
	cache map[[2]string]entry
}

type entry struct {
	member  bool
	expires time.Time
}

func (c *Checker) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// IsMember reports whether userID (object id) is, transitively, a member of groupID.
func (c *Checker) IsMember(ctx context.Context, userID, groupID string) (bool, error) {
	key := [2]string{strings.ToLower(userID), strings.ToLower(groupID)}
	c.mu.Lock()
	if e, ok := c.cache[key]; ok && c.now().Before(e.expires) {
		c.mu.Unlock()
		return e.member, nil
	}
	c.mu.Unlock()
	member, err := c.ask(ctx, key[0], key[1])
	if err != nil {
		return false, err
	}
	ttl := c.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	c.mu.Lock()
	if c.cache == nil {
		c.cache = map[[2]string]entry{}
	}
	c.cache[key] = entry{member: member, expires: c.now().Add(ttl)}
	c.mu.Unlock()
	return member, nil
}

func (c *Checker) ask(ctx context.Context, userID, groupID string) (bool, error) {
	if c.Credential == nil {
		return false, errors.New("no partner-tenant credential configured")
	}
	cred, err := c.Credential()
	if err != nil {
		return false, err
	}
	client, _, err := graphclient.New(cred, c.Endpoints)
	if err != nil {
		return false, err
	}
	body := users.NewItemCheckMemberGroupsPostRequestBody()
	body.SetGroupIds([]string{groupID})
	resp, err := client.Users().ByUserId(userID).CheckMemberGroups().PostAsCheckMemberGroupsPostResponse(ctx, body, nil)
	if err != nil {
		p := remedy.Classify(err)
		return false, fmt.Errorf("Graph checkMemberGroups: %s: %s", p.Code, p.Message)
	}
	for _, g := range resp.GetValue() {
		if strings.EqualFold(g, groupID) {
			return true, nil
		}
	}
	return false, nil
}
