package syncer

import (
	"context"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphgocore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/devicemanagement"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/tenantsync/tenantsync/shared/domain"
)

var deviceSelect = []string{"id", "deviceName", "operatingSystem", "osVersion", "complianceState", "manufacturer", "model",
	"serialNumber", "enrolledDateTime", "lastSyncDateTime", "userId", "userPrincipalName"}

// devices streams Intune managed devices (no delta exists for them: a full read each run).
func devices(ctx context.Context, c *msgraphsdk.GraphServiceClient, adapter abstractions.RequestAdapter, sink deltaSink) error {
	top := int32(999)
	resp, err := c.DeviceManagement().ManagedDevices().Get(ctx, &devicemanagement.ManagedDevicesRequestBuilderGetRequestConfiguration{
		QueryParameters: &devicemanagement.ManagedDevicesRequestBuilderGetQueryParameters{Select: deviceSelect, Top: &top},
	})
	if err != nil {
		return err
	}
	it, err := msgraphgocore.NewPageIterator[models.ManagedDeviceable](resp, adapter, models.CreateManagedDeviceCollectionResponseFromDiscriminatorValue)
	if err != nil {
		return err
	}
	var sinkErr error
	err = it.Iterate(ctx, func(d models.ManagedDeviceable) bool {
		out := domain.Device{
			ID: str(d.GetId()), DeviceName: str(d.GetDeviceName()), OperatingSystem: str(d.GetOperatingSystem()),
			OSVersion: str(d.GetOsVersion()), Manufacturer: str(d.GetManufacturer()), Model: str(d.GetModel()),
			SerialNumber: str(d.GetSerialNumber()), Enrolled: timev(d.GetEnrolledDateTime()), LastSync: timev(d.GetLastSyncDateTime()),
			UserID: str(d.GetUserId()), UserPrincipalName: str(d.GetUserPrincipalName()),
		}
		if cs := d.GetComplianceState(); cs != nil {
			out.ComplianceState = cs.String()
		}
		sinkErr = sink.put(ctx, out.ID, out)
		return sinkErr == nil
	})
	if err == nil {
		err = sinkErr
	}
	return err
}
