package syncer

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/shared/domain"
)

// memSink records puts (pure-logic tests only; the engine's writer is tested against Azurite).
type memSink struct{ rows map[string]any }

func (m *memSink) put(_ context.Context, key string, v any) error {
	if m.rows == nil {
		m.rows = map[string]any{}
	}
	m.rows[key] = v
	return nil
}
func (m *memSink) remove(_ context.Context, key string) error { delete(m.rows, key); return nil }

const mbHeader = "\ufeffReport Refresh Date,User Principal Name,Display Name,Is Deleted,Deleted Date,Created Date,Last Activity Date,Item Count,Storage Used (Byte),Issue Warning Quota (Byte),Prohibit Send Quota (Byte),Prohibit Send/Receive Quota (Byte),Deleted Item Count,Deleted Item Size (Byte),Deleted Item Quota (Byte),Has Archive,Recipient Type,Report Period\n"

func mbRow(upn, name, deleted string) string {
	return "2026-12-06," + upn + "," + name + "," + deleted + ",,2024-01-02,2026-12-05,120,4096,1,2,3,0,0,0,False,UserMailbox,7\n"
}

func TestClassifyUPN(t *testing.T) {
	for upn, want := range map[string]rowKind{
		"adele@contoso.com":                rowOK,
		"adele.vance+x@sub.contoso.com":    rowOK,
		"(Unknown)":                        rowMalformed,
		"":                                 rowMalformed,
		"@contoso.com":                     rowMalformed,
		"adele@":                           rowMalformed,
		"a@b@contoso.com":                  rowMalformed,
		"adele vance@contoso.com":          rowMalformed,
		"22C5B5A0E3BB38EA4BB5B8CCEEEEA51D": rowHashed,
		"<PII:H105(se/njcX9qwMG8mXJy0s+hqA0Iw=)>@contoso.com": rowHashed,
		"<pii:h105(abc)>@contoso.com":                         rowHashed,
		"22c5b5a0e3bb38ea4bb5b8cceeeea51d":                    rowMalformed, // lower case is not Microsoft's hash form, and has no @
	} {
		if got := classifyUPN(upn); got != want {
			t.Errorf("classifyUPN(%q) = %d, want %d", upn, got, want)
		}
	}
}

func TestReportConcealed(t *testing.T) {
	on, off := true, false
	for _, c := range []struct {
		name    string
		setting *bool
		st      mailboxStats
		want    bool
	}{
		{"setting on decides alone", &on, mailboxStats{Stored: 10}, true},
		{"one (Unknown) row is not concealment", &off, mailboxStats{Stored: 9, Malformed: 1}, false},
		{"all (Unknown) is not concealment", nil, mailboxStats{Malformed: 5}, false},
		{"a few hashes in a readable report", &off, mailboxStats{Stored: 9, Hashed: 1}, false},
		{"setting unreadable, mostly hashes", nil, mailboxStats{Stored: 1, Hashed: 3}, true},
		{"setting off but all hashed (setting changed after the refresh)", &off, mailboxStats{Hashed: 4}, true},
		{"half hashed", nil, mailboxStats{Stored: 2, Hashed: 2}, true},
		{"empty report", nil, mailboxStats{}, false},
	} {
		if got := reportConcealed(c.setting, c.st); got != c.want {
			t.Errorf("%s: reportConcealed = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestReadMailboxCSVSkipsAndCountsBadRows(t *testing.T) {
	off := false
	csv := mbHeader + mbRow("adele@contoso.com", "Adele Vance", "False") +
		mbRow("(Unknown)", "", "False") +
		mbRow("<PII:H105(se/njcX9qwMG8mXJy0s+hqA0Iw=)>@contoso.com", "<PII:H105(xyz)>", "False") +
		mbRow("alex@contoso.com", "22C5B5A0E3BB38EA4BB5B8CCEEEEA51D", "False") +
		mbRow("gone@contoso.com", "Gone", "True") +
		mbRow("megan@contoso.com", "Megan Bowen", "False")
	var sink memSink
	st, err := readMailboxCSV(context.Background(), strings.NewReader(csv), &off, &sink)
	if err != nil {
		t.Fatalf("readMailboxCSV: %v", err)
	}
	if st != (mailboxStats{Stored: 3, Deleted: 1, Hashed: 1, Malformed: 1}) || st.Skipped() != 2 {
		t.Errorf("stats %+v (skipped %d), want 3 stored, 1 deleted, 1 hashed, 1 malformed", st, st.Skipped())
	}
	if len(sink.rows) != 3 {
		t.Errorf("stored %d rows, want 3: %v", len(sink.rows), sink.rows)
	}
	for k, v := range sink.rows {
		m := v.(domain.Mailbox)
		if classifyUPN(m.UserPrincipalName) != rowOK || strings.Contains(m.DisplayName, "PII") || concealedName.MatchString(m.DisplayName) {
			t.Errorf("row %s stored a concealed or malformed name: %+v", k, m)
		}
		if m.UserPrincipalName == "alex@contoso.com" && m.DisplayName != "" {
			t.Errorf("hashed display name kept: %q", m.DisplayName)
		}
		if m.StorageUsedBytes != 4096 || m.ItemCount != 120 || m.RecipientType != "UserMailbox" {
			t.Errorf("row %s parsed wrong: %+v", k, m)
		}
	}
	if r := st.skipReason(); !strings.Contains(r, "1 without a user principal name") || !strings.Contains(r, "1 with a concealed or redacted name") {
		t.Errorf("skipReason %q", r)
	}
}

func TestReadMailboxCSVConcealedByShare(t *testing.T) {
	csv := mbHeader + mbRow("22C5B5A0E3BB38EA4BB5B8CCEEEEA51D", "4A3BD27BC5E5EC209A8897A9E92D775A", "False") +
		mbRow("7B503C6E4D583D8C1D216D2C3DC837BE", "4E6B27D83AB4BCEDFF1998A2354D34B5", "False") +
		mbRow("adele@contoso.com", "Adele Vance", "False")
	var sink memSink
	st, err := readMailboxCSV(context.Background(), strings.NewReader(csv), nil, &sink)
	if !errors.Is(err, errConcealed) {
		t.Fatalf("err %v, want errConcealed", err)
	}
	if st.Hashed != 2 || len(sink.rows) != 1 {
		t.Errorf("stats %+v, rows %v: want 2 hashed and only the real row stored", st, sink.rows)
	}
}

func TestReadMailboxCSVMissingColumn(t *testing.T) {
	var sink memSink
	_, err := readMailboxCSV(context.Background(), strings.NewReader("Report Refresh Date,Display Name\n"), nil, &sink)
	if err == nil || !strings.Contains(err.Error(), "User Principal Name") {
		t.Errorf("err %v, want a missing-column error naming User Principal Name", err)
	}
}
