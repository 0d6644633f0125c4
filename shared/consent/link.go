package consent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/tenantsync/tenantsync/shared/appperms"
	"github.com/tenantsync/tenantsync/shared/approles"
	"github.com/tenantsync/tenantsync/shared/domain"
	"github.com/tenantsync/tenantsync/shared/graphclient"
	"github.com/tenantsync/tenantsync/shared/oauthstate"
	"github.com/tenantsync/tenantsync/shared/remedy"
	"github.com/tenantsync/tenantsync/shared/store"
)

// Pending is an emailed consent link's record.
type Pending struct {
	TenantID    string    `json:"tenantId"`
	To          string    `json:"to"`
	SentAt      time.Time `json:"sentAt"`
	Expires     time.Time `json:"expires"`
	RequestedBy string    `json:"requestedBy,omitempty"`
	State       string    `json:"state"` // pending
}

// CallbackPath is where Entra returns the customer's admin after the consent page.
const CallbackPath = "/api/consent/callback"

// ParseEmail accepts exactly one plain mailbox address: local@domain, nothing else. It is
// stricter than RFC 5322 on purpose, because the address goes to Graph sendMail as a recipient
// and into a mail to a customer's administrator:
//   - no display name, no list, no comments (net/mail would accept "Admin <a@b.com>");
//   - the local part is a dot-atom (RFC 5322 section 3.2.3): no quoted local parts such as
//     "a b"@x.com, which no Microsoft 365 admin mailbox needs;
//   - the domain is a DNS name of at least two labels (letters, digits, hyphens; 1-63 characters
//     each, not starting or ending with a hyphen; the last label not all digits): no IP literals
//     such as a@[127.0.0.1], no bare IPv4 such as a@127.0.0.1, no single-label host, no trailing dot;
//   - ASCII only: an internationalised domain must be given in its xn-- form.
//
// Whether the domain really receives mail (an MX record) is not checked here: Exchange Online
// reports a bounce to the sending mailbox, and a DNS lookup from the handler would be a network
// call an attacker could aim.
func ParseEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%w: the e-mail address is empty", ErrInvalidEmail)
	}
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w: %q is not one mailbox address like admin@customer.com: %s", ErrInvalidEmail, clip(s, 100), why)
	}
	if len(s) > 254 {
		return bad("it is longer than 254 characters")
	}
	local, dom, ok := strings.Cut(s, "@")
	switch {
	case !ok:
		return bad("it has no @")
	case strings.Contains(dom, "@"):
		return bad("it has more than one @ (give exactly one address)")
	}
	if err := checkLocalPart(local); err != "" {
		return bad(err)
	}
	if err := checkMailDomain(dom); err != "" {
		return bad(err)
	}
	return s, nil
}

// atext is RFC 5322's atom character set.
const atext = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-"

func checkLocalPart(l string) string {
	if l == "" || len(l) > 64 {
		return "the part before @ must be 1 to 64 characters"
	}
	for _, atom := range strings.Split(l, ".") {
		if atom == "" {
			return "the part before @ has an empty atom (a leading, trailing or double dot)"
		}
		if strings.Trim(atom, atext) != "" {
			return "the part before @ may hold only letters, digits, dots and !#$%&'*+/=?^_`{|}~- (no quotes, spaces, commas or angle brackets)"
		}
	}
	return ""
}

func checkMailDomain(d string) string {
	if strings.HasPrefix(d, "[") {
		return "an IP address literal is not a mail domain"
	}
	if d == "" || len(d) > 253 {
		return "the domain must be 1 to 253 characters"
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return "the domain must be a DNS name with a dot, like customer.com"
	}
	for _, lb := range labels {
		if lb == "" || len(lb) > 63 {
			return "each label of the domain must be 1 to 63 characters (no empty label or trailing dot)"
		}
		if lb[0] == '-' || lb[len(lb)-1] == '-' {
			return "a label of the domain may not start or end with a hyphen"
		}
		for i := 0; i < len(lb); i++ {
			c := lb[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return "the domain may hold only letters, digits, hyphens and dots (an internationalised domain in its xn-- form)"
			}
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return "the domain ends in a number: an IP address is not a mail domain"
	}
	return ""
}

// cleanBy keeps who asked printable and short (it travels in the signed state and the mail).
// Automation (domain.AutomationCaller) is recorded as such and not named in the mail.
func cleanBy(by string) string {
	by = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.TrimSpace(by))
	return clip(by, 120)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) > n {
		r = r[:n]
	}
	return string(r) + "…"
}

// ConsentURL is the v2 admin-consent URL for tenantID with state.
func (s *Service) ConsentURL(tenantID, state string) string {
	v := url.Values{}
	v.Set("client_id", s.o.ClientID)
	v.Set("scope", s.o.Endpoints.GraphScope())
	v.Set("redirect_uri", strings.TrimRight(s.o.PublicBaseURL, "/")+CallbackPath)
	v.Set("state", state)
	return strings.TrimRight(s.o.Endpoints.AuthorityHost, "/") + "/" + url.PathEscape(tenantID) + "/v2.0/adminconsent?" + v.Encode()
}

// SendLink emails tenantID's admin-consent link to email. by is who at the MSP asked (shown in
// the mail and kept in the state). Each call sends a new link; earlier links stay valid until
// they expire or one of them is used.
func (s *Service) SendLink(ctx context.Context, tenantID, email, by string) (Pending, error) {
	to, err := ParseEmail(email)
	if err != nil {
		return Pending{}, err
	}
	tenantID = strings.ToLower(strings.TrimSpace(tenantID))
	if !domain.IsTenantID(tenantID) {
		return Pending{}, fmt.Errorf("%w: %q is not a tenant id (a GUID)", ErrUnknownTenant, clip(tenantID, 60))
	}
	if err := s.o.Store.Ensure(ctx); err != nil {
		return Pending{}, err
	}
	t, err := s.o.Store.GetTenant(ctx, tenantID)
	if store.IsNotFound(err) {
		return Pending{}, fmt.Errorf("%w: no tenant %s: run discovery (POST /api/discovery) if it is new", ErrUnknownTenant, tenantID)
	}
	if err != nil {
		return Pending{}, err
	}
	if t.Consent.State == domain.ConsentConsented {
		return Pending{}, fmt.Errorf("%w: %s already has tenantsync consented (method %s): no link is needed", ErrAlreadyConsented, nameOr(t.DisplayName, tenantID), orDash(t.Consent.Method))
	}
	if s.o.MailFrom == "" {
		return Pending{}, ErrMailNotConfigured
	}
	by = cleanBy(by)
	now := s.now().UTC()
	expires := now.Add(s.o.LinkTTL).Truncate(time.Second)
	state, err := s.o.Signer.Sign(oauthstate.Claims{Purpose: oauthstate.PurposeConsent, TenantID: tenantID, Expires: expires, By: by})
	if err != nil {
		return Pending{}, err
	}
	partner := s.partnerName(ctx)
	subject, body, err := s.composeMail(mailData{
		App: s.o.AppName, Partner: partner, Tenant: nameOr(t.DisplayName, "your organization"), By: mailBy(by),
		Link: s.ConsentURL(tenantID, state), Expires: expires.Format("Monday 2 January 2006, 15:04 UTC"), From: s.o.MailFrom,
	})
	if err != nil {
		return Pending{}, err
	}
	if err := s.sendMail(ctx, to, subject, body); err != nil {
		p := remedy.Classify(err)
		switch p.Code {
		case "ErrorInvalidUser", "MailboxNotEnabledForRESTAPI", "Request_ResourceNotFound":
			p.Remediation = "The mail is sent from the connected partner service account's mailbox: give it an Exchange Online mailbox, and set CONSENT_MAIL_FROM (" + s.o.MailFrom + ") to its address."
		case "ErrorAccessDenied", "Authorization_RequestDenied", "Forbidden":
			p.Remediation = "Grant the app the delegated Mail.Send permission in the partner tenant (tenantsync register does), then reconnect the partner account (GET /api/connect) and retry."
		case remedy.CodeInternal:
			if errors.Is(err, approles.ErrNoToken) {
				p.Remediation = "Connect the partner account (GET /api/connect): consent mails are sent from its mailbox."
			}
		}
		s.log().Warn("sending the consent link failed", "tenantId", tenantID, "code", p.Code, "message", p.Message)
		return Pending{}, kinded(ErrMailFailed, p)
	}
	c := domain.Consent{State: domain.ConsentPending, Method: MethodLink, UpdatedAt: now, PendingTo: to, SentAt: now, RequestedBy: by, ExpiresAt: expires}
	if err := s.o.Store.SetConsent(ctx, tenantID, c); err != nil {
		return Pending{}, err
	}
	s.log().Info("consent link sent", "tenantId", tenantID, "expires", expires.Format(time.RFC3339), "requestedBy", by)
	return Pending{TenantID: tenantID, To: to, SentAt: now, Expires: expires, RequestedBy: by, State: domain.ConsentPending}, nil
}

// mailBy is who asked as the mail names them: a person, or nobody for automation.
func mailBy(by string) string {
	if by == domain.AutomationCaller {
		return ""
	}
	return by
}

func nameOr(name, fallback string) string {
	if strings.TrimSpace(name) == "" {
		return fallback
	}
	return name
}

// sendMail sends from the partner service account's own mailbox with its delegated token in the
// partner tenant (POST /me/sendMail, delegated Mail.Send granted in the partner tenant only by
// tenantsync register: https://learn.microsoft.com/graph/api/user-sendmail lists Mail.Send as the
// delegated permission): tenantsync holds no Mail.Send application permission anywhere.
func (s *Service) sendMail(ctx context.Context, to, subject, html string) error {
	if s.o.PartnerGraphToken == nil {
		return approles.ErrNoToken
	}
	// The mail leaves from the signed-in account's mailbox: CONSENT_MAIL_FROM must name it, so
	// that the sender the mail and the settings show is the real one.
	tok, err := s.o.PartnerGraphToken(ctx, s.o.PartnerTenantID)
	if err != nil {
		return err
	}
	if c, err := approles.ReadDelegated(tok); err != nil || !strings.EqualFold(c.UPN, s.o.MailFrom) {
		who := "another account"
		if err == nil && c.UPN != "" {
			who = c.UPN
		}
		return domain.Problem{Code: "MailFromMismatch", Message: "consent mails are sent from the connected partner service account's mailbox (" + who + "), not " + s.o.MailFrom,
			Remediation: "Set CONSENT_MAIL_FROM to " + who + " (the service account connected at /api/connect), or connect the account whose mailbox should send them."}
	}
	client, _, err := graphclient.New(approles.Delegated(s.o.PartnerTenantID, s.o.PartnerGraphToken), s.o.Endpoints)
	if err != nil {
		return err
	}
	msg := models.NewMessage()
	msg.SetSubject(&subject)
	b := models.NewItemBody()
	ct := models.HTML_BODYTYPE
	b.SetContentType(&ct)
	b.SetContent(&html)
	msg.SetBody(b)
	addr := models.NewEmailAddress()
	addr.SetAddress(&to)
	rcpt := models.NewRecipient()
	rcpt.SetEmailAddress(addr)
	msg.SetToRecipients([]models.Recipientable{rcpt})
	body := users.NewItemSendMailPostRequestBody()
	body.SetMessage(msg)
	save := false
	body.SetSaveToSentItems(&save)
	return client.Me().SendMail().Post(ctx, body, nil)
}

type mailData struct {
	App, Partner, Tenant, By, Link, Expires, From string
	Permissions                                   []appperms.Permission
}

// The mail is HTML that also reads as plain text (Graph sends one body; clients and the
// simulator's outbox derive the text from it): short paragraphs, a list, the link spelled out.
var mailTmpl = template.Must(template.New("mail").Parse(`<html><body style="font-family:Segoe UI,Arial,sans-serif;font-size:14px;line-height:1.5">
<p>Hello,</p>
<p>{{if .By}}{{.By}} at {{.Partner}}{{else}}{{.Partner}}{{end}} asks you, as an administrator of <b>{{.Tenant}}</b>, to approve <b>{{.App}}</b> for your Microsoft 365 tenant.</p>
<p>{{.App}} is the tool {{.Partner}} uses to keep an up-to-date inventory of your Microsoft 365 tenant: users, licences, groups, managed devices, mailbox usage and MFA registration. It only reads; it does not change anything in your tenant.</p>
<p>Approving grants {{.App}} exactly these Microsoft Graph application permissions in {{.Tenant}}, all read-only:</p>
<ul>{{range .Permissions}}<li><b>{{.Value}}</b>: {{.Why}}</li>{{end}}</ul>
<p>Nothing else: no permission to change, send or delete anything in {{.Tenant}}. This message was sent from {{.From}}'s own mailbox.</p>
<p>To review and approve, sign in with a Global Administrator account of {{.Tenant}} at this link:<br>
<a href="{{.Link}}">{{.Link}}</a></p>
<p>The link works until {{.Expires}} and can be used once. You can withdraw the approval at any time in the Microsoft Entra admin center (Enterprise applications &gt; {{.App}} &gt; Delete).</p>
<p>If you did not expect this message, do not approve it: reply to {{.From}}{{if .By}} or contact {{.By}}{{end}} at {{.Partner}}.</p>
</body></html>`))

func (s *Service) composeMail(d mailData) (subject, html string, err error) {
	d.Permissions = appperms.Customer()
	var b bytes.Buffer
	if err := mailTmpl.Execute(&b, d); err != nil {
		return "", "", err
	}
	subject = fmt.Sprintf("%s asks you to approve %s for %s", d.Partner, d.App, d.Tenant)
	if d.By != "" {
		subject = fmt.Sprintf("%s (%s) asks you to approve %s for %s", d.By, d.Partner, d.App, d.Tenant)
	}
	return subject, b.String(), nil
}
