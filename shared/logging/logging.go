// Package logging builds the structured logger every binary uses: JSON in Azure (Application
// Insights parses it), text for people at a terminal.
package logging

import (
	"io"
	"log/slog"
)

// New returns a logger writing format ("json" or "text") at level to w.
func New(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
