package devenv

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// Tests that each want empty tables share one Azurite per test process, with a pool of storage
// accounts (AZURITE_ACCOUNTS, "account:key;..."; Microsoft Learn, "Connect to Azurite with SDKs
// and tools", custom storage accounts and keys). Starting a Node.js process per test dominated
// the run time of the store, partner and consent suites; a fresh account is as isolated as a
// fresh Azurite (tables are per account) and costs a table deletion.

const poolSize = 32

var shared struct {
	once sync.Once
	az   *Azurite
	err  error
	free chan string
}

// accountName is the pool's n-th account: Azure account names are 3-24 lower-case letters and
// digits.
func accountName(n int) string { return fmt.Sprintf("tsacct%02d", n) }

// Account is one storage account of the shared Azurite, empty when handed out.
type Account struct {
	Name string
	port int
}

// ConnectionString is the aztables connection string for this account. Every pool account has
// Azurite's well-known development key.
func (a *Account) ConnectionString() string {
	return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;TableEndpoint=http://127.0.0.1:%d/%s;", a.Name, AzuriteAccountKey, a.port, a.Name)
}

// AcquireAccount hands out an empty account of the process-wide Azurite (started on first use,
// killed with the process), waiting while all are in use. Release gives it back after deleting
// every table in it.
func AcquireAccount(ctx context.Context) (*Account, func(), error) {
	shared.once.Do(func() {
		accounts := []string{"devstoreaccount1:" + AzuriteAccountKey}
		shared.free = make(chan string, poolSize)
		for i := range poolSize {
			accounts = append(accounts, accountName(i)+":"+AzuriteAccountKey)
			shared.free <- accountName(i)
		}
		// Pdeathsig fires when the forking OS thread exits, not the process: fork from a thread
		// locked to a goroutine that never returns, so the shared Azurite lives exactly as long
		// as the test process.
		started := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			shared.az, shared.err = startAzurite(context.Background(), "", nil, []string{"AZURITE_ACCOUNTS=" + strings.Join(accounts, ";")})
			close(started)
			select {}
		}()
		<-started
	})
	if shared.err != nil {
		return nil, nil, shared.err
	}
	var name string
	select {
	case name = <-shared.free:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	a := &Account{Name: name, port: shared.az.Port}
	release := func() {
		// An account whose tables cannot be emptied is not handed out again.
		if err := emptyAccount(a.ConnectionString()); err == nil {
			shared.free <- name
		}
	}
	if err := emptyAccount(a.ConnectionString()); err != nil {
		return nil, nil, fmt.Errorf("empty azurite account %s: %w", name, err)
	}
	return a, release, nil
}

// emptyAccount deletes every table of the account.
func emptyAccount(conn string) error {
	svc, err := aztables.NewServiceClientFromConnectionString(conn, nil)
	if err != nil {
		return err
	}
	ctx := context.Background()
	pager := svc.NewListTablesPager(nil)
	var names []string
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, t := range page.Tables {
			if t.Name != nil {
				names = append(names, *t.Name)
			}
		}
	}
	for _, n := range names {
		if _, err := svc.DeleteTable(ctx, n, nil); err != nil {
			return err
		}
	}
	return nil
}
