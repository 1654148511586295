// Package domain holds Lighthouse's events, value objects and rules. It has no
// infrastructure: no storage, no transport, no clock of its own.
package domain
