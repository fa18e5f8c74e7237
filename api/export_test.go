package api

// The per-citizen limits, for the tests of package api_test.
const (
	SharesOpenedPerCitizen = sharesOpenedPerCitizen
	SharesOpenedWindow     = sharesOpenedWindow
	QRImagesPerCitizen     = qrImagesPerCitizen
	QRImagesWindow         = qrImagesWindow
	RefreshesPerCitizen    = refreshesPerCitizen
	RefreshesWindow        = refreshesWindow
)
