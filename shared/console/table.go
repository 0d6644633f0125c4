package console

import (
	"encoding/csv"
	"io"
	"net/url"
	"strings"
)

// Table is one table as shown: the HTML page and the CSV download render the same columns and
// the same cell texts, so a download always equals what the admin saw.
type Table struct {
	Name    string // file name stem and anchor, e.g. "users"
	Caption string
	Columns []Column
	Rows    [][]Cell
	// Empty is shown instead of the table when there are no rows.
	Empty string
	// Note explains an unavailable collection (no Intune, concealed reports, ...).
	Note string
}

// Column is a table heading; SortKey (overview only) makes it a sort link.
type Column struct {
	Label   string
	Numeric bool
	SortKey string
}

// Cell is one value. Text is all the CSV carries; Href makes it a link, Status a badge.
type Cell struct {
	Text   string
	Href   string
	Status string // ok, warn, bad, off: adds a coloured badge next to the text
}

func text(s string) Cell { return Cell{Text: s} }

// WriteCSV writes t as RFC 4180 CSV (CRLF line ends, quotes where needed) in UTF-8 with a byte
// order mark, which Excel needs to read names such as "Zoë Sørensen" correctly. A cell that a
// spreadsheet would run as a formula (=, +, -, @ first) gets a leading apostrophe (OWASP
// "CSV Injection"): exported names come from customer tenants and are not trusted.
func WriteCSV(w io.Writer, t Table) error {
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	head := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		head[i] = c.Label
	}
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, row := range t.Rows {
		rec := make([]string, len(row))
		for i, c := range row {
			rec[i] = CSVCell(c.Text)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// CSVCell is a cell's text as written to CSV (formula neutralised).
func CSVCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// CSVFileName is the download's file name: letters, digits and dashes only.
func CSVFileName(parts ...string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('-')
		}
		for _, r := range strings.ToLower(p) {
			if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' {
				b.WriteRune(r)
			}
		}
	}
	return b.String() + ".csv"
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
