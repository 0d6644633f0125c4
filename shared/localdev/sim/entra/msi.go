package entra

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/token"
)

// ManagedIdentity serves the App Service managed identity endpoint (IDENTITY_ENDPOINT):
// GET /msi/token?api-version=2019-08-01&resource=...[&client_id=|object_id=|mi_res_id=] with the
// X-IDENTITY-HEADER secret (MSAL's managedidentity package sends exactly this when
// IDENTITY_ENDPOINT and IDENTITY_HEADER are set). The answer is App Service's:
// {access_token, expires_on (unix seconds as a string), resource, token_type, client_id}.
func (s *Service) ManagedIdentity() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /msi/token", s.msiToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		mux.ServeHTTP(rec, r)
		ep := "GET /msi/token"
		if r.Method != http.MethodGet || r.URL.Path != "/msi/token" {
			ep = r.Method + " (no such endpoint)"
		}
		s.opts.Metrics.Observe("entra", s.partnerTenantID(), ep, rec.status)
	})
}

// miClientID is the system-assigned identity's client (app) id, derived from its object id.
func (s *Service) miClientID() string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte("mi-client:"+s.opts.ManagedIdentityObjectID)).String()
}

// msiError is App Service's error body.
func msiError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"statusCode": status, "message": msg, "correlationId": uuid.NewString()})
}

func (s *Service) msiToken(w http.ResponseWriter, r *http.Request) {
	hdr := r.Header.Get("X-IDENTITY-HEADER")
	if hdr == "" {
		msiError(w, http.StatusBadRequest, "The request does not contain the X-IDENTITY-HEADER header.")
		return
	}
	if subtle.ConstantTimeCompare([]byte(hdr), []byte(s.opts.IdentityHeader)) != 1 {
		msiError(w, http.StatusUnauthorized, "The X-IDENTITY-HEADER header value is not valid.")
		return
	}
	q := r.URL.Query()
	if v := q.Get("api-version"); v != "2019-08-01" {
		msiError(w, http.StatusBadRequest, "Unsupported api-version '"+v+"'. Use 2019-08-01.")
		return
	}
	res := q.Get("resource")
	if res == "" {
		msiError(w, http.StatusBadRequest, "The request does not contain the resource parameter.")
		return
	}
	// The simulated Function App has one identity: selecting it by object id must name it; a
	// client id or resource id selector is accepted as naming it too (the simulator cannot know
	// the ids a deployment would give a user-assigned identity).
	if oid := q.Get("object_id"); oid == "" && q.Get("principal_id") != "" {
		q.Set("object_id", q.Get("principal_id"))
	}
	if oid := q.Get("object_id"); oid != "" && !strings.EqualFold(oid, s.opts.ManagedIdentityObjectID) {
		msiError(w, http.StatusBadRequest, "No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.")
		return
	}
	clientID := q.Get("client_id")
	if clientID == "" {
		clientID = s.miClientID()
	}
	aud := strings.TrimSuffix(res, "/.default")
	if r, ok := findResource(aud, ""); ok {
		aud = r.Aud
	}
	tid := s.partnerTenantID()
	c := token.Claims{TenantID: tid, ObjectID: s.opts.ManagedIdentityObjectID, AppID: clientID, AZP: clientID, IDType: "app"}
	c.Subject = s.opts.ManagedIdentityObjectID
	c.Audience = jwt.ClaimStrings{aud}
	at, err := s.iss.Sign(c, miTokenLifetime)
	if err != nil {
		msiError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(msiResponse{AccessToken: at, ExpiresOn: strconv.FormatInt(s.now().Add(miTokenLifetime).Unix(), 10),
		Resource: res, TokenType: "Bearer", ClientID: clientID})
}

// msiResponse is App Service's 2019-08-01 answer, in its field order.
type msiResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresOn   string `json:"expires_on"`
	Resource    string `json:"resource"`
	TokenType   string `json:"token_type"`
	ClientID    string `json:"client_id"`
}
