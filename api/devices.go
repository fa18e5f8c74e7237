package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qujat/qujat/notify"
	"github.com/qujat/qujat/wallet"
)

type deviceBody struct {
	Platform string `json:"platform"`
	URL      string `json:"url"`
	Token    string `json:"token"`
}

type deviceCreated struct {
	ID       string `json:"id"`
	Platform string `json:"platform"`
	Secret   string `json:"secret,omitempty"`
}

type deviceItem struct {
	ID        string    `json:"id"`
	Platform  string    `json:"platform"`
	URL       string    `json:"url,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	Status    string    `json:"status"`
	Failures  int       `json:"failures"`
}

// addDevice registers a device of the caller; a webhook's signing secret is
// in the answer, and only there.
func (s *Server) addDevice(c echo.Context) error {
	if s.Devices == nil {
		return wallet.Errorf(wallet.ENOTFOUND, "no such resource")
	}
	var req deviceBody
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	r, err := s.Devices.Add(c.Request().Context(), citizenOf(c), notify.NewDevice{Platform: req.Platform, URL: req.URL, Token: req.Token})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, deviceCreated{ID: r.Device.ID, Platform: r.Device.Platform, Secret: r.Secret})
}

// listDevices lists the caller's devices with their delivery status.
func (s *Server) listDevices(c echo.Context) error {
	if s.Devices == nil {
		return wallet.Errorf(wallet.ENOTFOUND, "no such resource")
	}
	ds, err := s.Devices.List(c.Request().Context(), citizenOf(c))
	if err != nil {
		return err
	}
	out := make([]deviceItem, 0, len(ds))
	for _, d := range ds {
		out = append(out, deviceItem{ID: d.ID, Platform: d.Platform, URL: d.URL, CreatedAt: d.CreatedAt.UTC(), Status: d.Status, Failures: d.Failures})
	}
	return c.JSON(http.StatusOK, map[string]any{"devices": out})
}

// removeDevice removes one of the caller's devices (another citizen's is
// not found).
func (s *Server) removeDevice(c echo.Context) error {
	if s.Devices == nil {
		return wallet.Errorf(wallet.ENOTFOUND, "no such resource")
	}
	if err := s.Devices.Remove(c.Request().Context(), citizenOf(c), c.Param("id")); err != nil {
		if wallet.IsCode(err, wallet.ENOTFOUND) {
			return wallet.Errorf(wallet.ENOTFOUND, "no such device")
		}
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// devNotifications lists what the development notification driver was
// given, newest first (development only).
func (s *Server) devNotifications(c echo.Context) error {
	if s.DevNotifications == nil {
		return wallet.Errorf(wallet.ENOTFOUND, "no such resource")
	}
	out := s.DevNotifications.Delivered()
	if out == nil {
		out = []notify.Delivered{}
	}
	for i := range out {
		out[i].At = out[i].At.UTC()
	}
	return c.JSON(http.StatusOK, map[string]any{"notifications": out})
}
