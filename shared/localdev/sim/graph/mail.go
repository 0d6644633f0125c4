package graph

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/mail"
	"regexp"
	"strings"
)

type recipient struct {
	EmailAddress struct {
		Address string `json:"address"`
		Name    string `json:"name"`
	} `json:"emailAddress"`
}

type sendMailBody struct {
	Message *struct {
		Subject *string `json:"subject"`
		Body    struct {
			ContentType string `json:"contentType"`
			Content     string `json:"content"`
		} `json:"body"`
		ToRecipients  []recipient `json:"toRecipients"`
		CcRecipients  []recipient `json:"ccRecipients"`
		BccRecipients []recipient `json:"bccRecipients"`
	} `json:"message"`
	SaveToSentItems *bool `json:"saveToSentItems"`
}

func errAccessDenied() *gerr {
	return errf(http.StatusForbidden, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
}

func handleSendMail(c *call) *gerr   { return c.sendMail(c.segs[1]) }
func handleMeSendMail(c *call) *gerr { return c.sendMail(c.claims.ObjectID) }

func (c *call) sendMail(idOrUPN string) *gerr {
	if !allowed(c.claims, permMail) {
		return errAccessDenied()
	}
	u, ok := c.ten.userByID(idOrUPN)
	if !ok {
		return errf(http.StatusNotFound, "ErrorInvalidUser", "The requested user '%s' is invalid.", idOrUPN)
	}
	// Delegated Mail.Send sends as the signed-in user only.
	if !c.claims.IsApp() && !strings.EqualFold(u.ID, c.claims.ObjectID) {
		return errAccessDenied()
	}
	if !u.HasMailbox {
		return errf(http.StatusNotFound, "MailboxNotEnabledForRESTAPI", "The mailbox is either inactive, soft-deleted, or is hosted on-premise.")
	}
	var body sendMailBody
	if err := json.NewDecoder(io.LimitReader(c.r.Body, 4<<20)).Decode(&body); err != nil {
		return errf(http.StatusBadRequest, "ErrorInvalidRequest", "Cannot read the request body.")
	}
	m := body.Message
	if m == nil {
		return errf(http.StatusBadRequest, "ErrorInvalidParameter", "The value of the parameter 'Message' is empty.")
	}
	// Exchange would send a subject-less message; the simulator refuses it so that a consent or
	// alert mail without a subject is caught in tests.
	if m.Subject == nil || strings.TrimSpace(*m.Subject) == "" {
		return errf(http.StatusBadRequest, "ErrorInvalidParameter", "The value of the parameter 'Subject' is empty.")
	}
	var lists [3][]string
	for k, rs := range [][]recipient{m.ToRecipients, m.CcRecipients, m.BccRecipients} {
		for _, r := range rs {
			addr := strings.TrimSpace(r.EmailAddress.Address)
			if a, err := mail.ParseAddress(addr); err != nil || a.Address != addr || !strings.Contains(addr[strings.IndexByte(addr, '@')+1:], ".") {
				return errf(http.StatusBadRequest, "ErrorInvalidRecipients",
					"At least one recipient isn't valid., Recipient '%s' isn't resolved. All recipients must be resolved before a message can be submitted.", r.EmailAddress.Address)
			}
			lists[k] = append(lists[k], addr)
		}
	}
	if len(lists[0])+len(lists[1])+len(lists[2]) == 0 {
		return errf(http.StatusBadRequest, "ErrorInvalidRecipients",
			"At least one recipient isn't valid., A message can't be sent because it contains no recipients.")
	}
	out := Mail{TenantID: c.ten.id, From: u.Mail, To: lists[0], Cc: lists[1], Bcc: lists[2], Subject: *m.Subject, SentAt: c.s.now().UTC()}
	if out.From == "" {
		out.From = u.UserPrincipalName
	}
	if strings.EqualFold(m.Body.ContentType, "html") {
		out.HTML = m.Body.Content
		out.Text = htmlToText(m.Body.Content)
	} else {
		out.Text = m.Body.Content
	}
	c.s.mu.Lock()
	c.s.outbox = append(c.s.outbox, out)
	c.s.mu.Unlock()
	c.w.WriteHeader(http.StatusAccepted)
	return nil
}

var (
	reScript = regexp.MustCompile(`(?is)<(script|style)[^>]*>.*?</(script|style)>`)
	reLink   = regexp.MustCompile(`(?is)<a\s[^>]*href\s*=\s*["']([^"']*)["'][^>]*>(.*?)</a>`)
	reBreak  = regexp.MustCompile(`(?i)<br\s*/?>|</(p|div|h[1-6]|tr|table|ul|ol)>`)
	reItem   = regexp.MustCompile(`(?i)<li[^>]*>`)
	reTag    = regexp.MustCompile(`(?s)<[^>]*>`)
	reSpaces = regexp.MustCompile(`[ \t\r\f\v]+`)
	reBlank  = regexp.MustCompile(`\n{3,}`)
)

// htmlToText derives the plain-text part of an HTML mail: block ends become line breaks, links
// keep their target ("label (url)"), tags go, entities are decoded.
func htmlToText(h string) string {
	s := reScript.ReplaceAllString(h, "")
	s = reLink.ReplaceAllStringFunc(s, func(m string) string {
		sub := reLink.FindStringSubmatch(m)
		href, label := html.UnescapeString(sub[1]), strings.TrimSpace(html.UnescapeString(reTag.ReplaceAllString(sub[2], "")))
		if label == "" || label == href {
			return href
		}
		return label + " (" + href + ")"
	})
	s = reItem.ReplaceAllString(s, "\n- ")
	s = reBreak.ReplaceAllString(s, "\n")
	s = reTag.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(reSpaces.ReplaceAllString(l, " "))
	}
	s = strings.Join(lines, "\n")
	s = reBlank.ReplaceAllString(s, "\n\n")
	return strings.TrimSpace(s)
}
