package graph

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/tenantsync/tenantsync/shared/localdev/sim/scenario"
)

// intuneError is how Graph relays an Intune failure: 403 with code UnknownError and Intune's own
// error document serialised into the message. For a tenant without an Intune licence the
// document carries Intune's WWW-Authenticate realm (urn:intune:service), as in the traces MSPs
// post; realm is empty for the missing-permission case.
func intuneError(rid, inner, tenantID string, realm bool) *gerr {
	headers := "{}"
	if realm {
		headers = `{"WWW-Authenticate":"Bearer realm=\"urn:intune:service,` + tenantID + `\""}`
	}
	body := "{\r\n  \"_version\": 3,\r\n  \"Message\": " + jsonString(inner+" - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000 - Activity ID: "+rid+
		" - Url: https://fef.msub05.manage.microsoft.com/DeviceFE/StatelessDeviceFEService/deviceManagement/managedDevices?api-version=2024-07-11") +
		",\r\n  \"CustomApiErrorPhrase\": \"\",\r\n  \"RetryAfter\": null,\r\n  \"ErrorSourceService\": \"\",\r\n  \"HttpHeaders\": " + jsonString(headers) + "\r\n}"
	msg := `{"ErrorCode":"Forbidden","Message":` + jsonString(body) + `,"Target":null,"Details":null,"InnerError":null,"InstanceAnnotations":[]}`
	return &gerr{status: http.StatusForbidden, code: "UnknownError", message: msg}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// devicesGate: the Intune permission, then the tenant's Intune licence.
func (c *call) devicesGate() *gerr {
	if !allowed(c.claims, permDevices) {
		return intuneError(c.rid, "Application is not authorized to perform this operation. Application must have one of the following scopes: DeviceManagementManagedDevices.Read.All, DeviceManagementManagedDevices.ReadWrite.All", c.ten.id, false)
	}
	if !c.ten.intune || c.ten.t == nil {
		return intuneError(c.rid, "An error has occurred", c.ten.id, true)
	}
	return nil
}

type device struct {
	scenario.Device
	user *scenario.User // primary user, nil if none
}

func enrollmentType(os string) string {
	switch os {
	case "Windows":
		return "windowsAzureADJoin"
	case "iOS", "macOS":
		return "appleBulkWithUser"
	}
	return "androidEnterpriseFullyManaged"
}

var deviceEntity = &entity[device]{typeName: "managedDevice", props: []prop[device]{
	{"id", true, func(_ *call, d *device) any { return d.ID }},
	{"userId", true, func(_ *call, d *device) any { return nilIfEmpty(d.UserID) }},
	{"deviceName", true, func(_ *call, d *device) any { return d.DeviceName }},
	{"managedDeviceOwnerType", true, func(_ *call, d *device) any { return "company" }},
	{"enrolledDateTime", true, func(_ *call, d *device) any { return d.EnrolledDateTime }},
	{"lastSyncDateTime", true, func(_ *call, d *device) any { return d.LastSyncDateTime }},
	{"operatingSystem", true, func(_ *call, d *device) any { return d.OperatingSystem }},
	{"complianceState", true, func(_ *call, d *device) any { return d.ComplianceState }},
	{"jailBroken", true, func(_ *call, d *device) any {
		if d.OperatingSystem == "iOS" || d.OperatingSystem == "Android" {
			return "False"
		}
		return "Unknown"
	}},
	{"managementAgent", true, func(_ *call, d *device) any { return d.ManagementAgent }},
	{"osVersion", true, func(_ *call, d *device) any { return d.OSVersion }},
	{"easActivated", true, func(_ *call, d *device) any { return false }},
	{"easDeviceId", true, func(_ *call, d *device) any { return "" }},
	{"easActivationDateTime", true, func(_ *call, d *device) any { return "0001-01-01T00:00:00Z" }},
	{"azureADRegistered", true, func(_ *call, d *device) any { return true }},
	{"deviceEnrollmentType", true, func(_ *call, d *device) any { return enrollmentType(d.OperatingSystem) }},
	{"emailAddress", true, func(_ *call, d *device) any {
		if d.user != nil {
			return d.user.Mail
		}
		return ""
	}},
	{"azureADDeviceId", true, func(_ *call, d *device) any {
		return uuid.NewSHA1(uuid.NameSpaceOID, []byte("aad-device:"+d.ID)).String()
	}},
	{"deviceRegistrationState", true, func(_ *call, d *device) any { return "registered" }},
	{"deviceCategoryDisplayName", true, func(_ *call, d *device) any { return "Unknown Category" }},
	{"isSupervised", true, func(_ *call, d *device) any { return d.OperatingSystem == "iOS" }},
	{"model", true, func(_ *call, d *device) any { return d.Model }},
	{"manufacturer", true, func(_ *call, d *device) any { return d.Manufacturer }},
	{"serialNumber", true, func(_ *call, d *device) any { return d.SerialNumber }},
	{"userPrincipalName", true, func(_ *call, d *device) any { return d.UserPrincipalName }},
	{"userDisplayName", true, func(_ *call, d *device) any {
		if d.user != nil {
			return d.user.DisplayName
		}
		return ""
	}},
	{"isEncrypted", true, func(_ *call, d *device) any { return d.OperatingSystem != "Android" }},
	{"managedDeviceName", true, func(_ *call, d *device) any {
		return d.UserPrincipalName + "_" + d.OperatingSystem + "_" + d.EnrolledDateTime.UTC().Format("1/2/2006_3:04 PM")
	}},
	{"partnerReportedThreatState", true, func(_ *call, d *device) any { return "unknown" }},
	{"totalStorageSpaceInBytes", true, func(_ *call, d *device) any { return int64(255978209280) }},
	{"freeStorageSpaceInBytes", true, func(_ *call, d *device) any { return int64(103079215104) }},
}}

var deviceFilter = filterSpec{
	resource: "managedDevice",
	props: map[string]bool{
		"id": true, "devicename": true, "operatingsystem": true, "compliancestate": true, "userid": true,
		"userprincipalname": true, "lastsyncdatetime": true, "enrolleddatetime": true, "manufacturer": true, "model": true,
		"serialnumber": true, "managementagent": true,
	},
}

func deviceGetter(d *device) getter {
	return func(p string) any {
		switch p {
		case "id":
			return d.ID
		case "devicename":
			return d.DeviceName
		case "operatingsystem":
			return d.OperatingSystem
		case "compliancestate":
			return d.ComplianceState
		case "userid":
			return d.UserID
		case "userprincipalname":
			return d.UserPrincipalName
		case "lastsyncdatetime":
			return d.LastSyncDateTime
		case "enrolleddatetime":
			return d.EnrolledDateTime
		case "manufacturer":
			return d.Manufacturer
		case "model":
			return d.Model
		case "serialnumber":
			return d.SerialNumber
		case "managementagent":
			return d.ManagementAgent
		}
		return nil
	}
}

func (c *call) device(i int) device {
	d := device{Device: c.ten.t.Device(i)}
	if d.UserIndex >= 0 {
		if u, ok := c.ten.t.User(d.UserIndex); ok {
			d.user = &u
		}
	}
	return d
}

func handleDevices(c *call) *gerr {
	if e := c.devicesGate(); e != nil {
		return e
	}
	st, resumed, e := c.skipState("devices")
	if e != nil {
		return e
	}
	if !resumed {
		st = state{Kind: "devices", Tenant: c.ten.id, Top: 1000}
		st.Select, _ = qget(c.q, "select")
		st.Filter, _ = qget(c.q, "filter")
		// Intune pages hold at most 1,000 devices; a larger $top is capped, not refused.
		if v, ok := qget(c.q, "top"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 {
				return errf(http.StatusBadRequest, "BadRequest", "Invalid $top value '%s'.", v)
			}
			st.Top = max(1, min(n, 1000))
		}
	}
	sel, e := deviceEntity.parseSelect(st.Select)
	if e != nil {
		return e
	}
	f, e := parseFilter(st.Filter, deviceFilter)
	if e != nil {
		return e
	}
	col := c.startCollection("deviceManagement/managedDevices", nil)
	written, next := 0, -1
	n := c.ten.t.DeviceCount()
	for i := st.Pos; i < n; i++ {
		d := c.device(i)
		if !matches(f, deviceGetter(&d)) {
			continue
		}
		if written == st.Top {
			next = i
			break
		}
		deviceEntity.write(col.j, c, &d, sel, nil)
		written++
	}
	link := ""
	if next >= 0 {
		st.Pos = next
		link = c.nextLink("/deviceManagement/managedDevices", st, "select", "filter", "top")
	}
	col.end(link, "")
	return nil
}

func handleDevice(c *call) *gerr {
	if e := c.devicesGate(); e != nil {
		return e
	}
	sel, e := deviceEntity.parseSelect(qgetOr(c.q, "select"))
	if e != nil {
		return e
	}
	id := c.segs[2]
	for i := 0; i < c.ten.t.DeviceCount(); i++ {
		if strings.EqualFold(c.ten.t.Device(i).ID, id) {
			d := c.device(i)
			writeEntityDoc(c, http.StatusOK, "deviceManagement/managedDevices/$entity", deviceEntity, &d, sel)
			return nil
		}
	}
	return errf(http.StatusNotFound, "ResourceNotFound", "Resource not found")
}
