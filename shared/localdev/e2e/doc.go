// Package e2e holds the product's end-to-end suites: the handler and local host binaries, Azurite
// and the simulator, driven as an MSP would (HTTP, the timer, the queue, a real browser). It has no
// code of its own outside tests.
package e2e
