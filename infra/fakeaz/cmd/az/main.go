// Command az is the fake az CLI of infra/deploy_test.go (package fakeaz).
package main

import (
	"os"

	"github.com/tenantsync/tenantsync/infra/fakeaz"
)

func main() { os.Exit(fakeaz.Run(os.Args[1:])) }
