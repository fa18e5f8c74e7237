package sources

import (
	"slices"

	"github.com/qujat/qujat/wallet"
)

// Source registry names.
const (
	Population = "population" // id cards, passports, civil status; the directory
	Transport  = "transport"  // driving licences and vehicle registrations
	Education  = "education"  // diplomas
)

// SourceNames lists the known source registries, in a stable order.
func SourceNames() []string { return []string{Population, Transport, Education} }

// KnownSource reports whether name is one of SourceNames.
func KnownSource(name string) bool { return slices.Contains(SourceNames(), name) }

// Issuing authorities. Their keys sign the documents assembled from records.
const (
	IssuerMIA = "kz-mia" // Ministry of Internal Affairs
	IssuerMOJ = "kz-moj" // Ministry of Justice, civil registry
	IssuerEDU = "kz-edu" // Ministry of Science and Higher Education
)

// Issuer is an issuing authority.
type Issuer struct {
	ID   string
	Name string
}

// Issuers lists the issuing authorities of the known document types.
func Issuers() []Issuer {
	return []Issuer{
		{ID: IssuerMIA, Name: "Ministry of Internal Affairs of the Republic of Kazakhstan"},
		{ID: IssuerMOJ, Name: "Ministry of Justice of the Republic of Kazakhstan"},
		{ID: IssuerEDU, Name: "Ministry of Science and Higher Education of the Republic of Kazakhstan"},
	}
}

// SourceFor returns the registry that holds records of type t ("" if unknown).
func SourceFor(t wallet.DocumentType) string {
	switch t {
	case wallet.IDCard, wallet.Passport, wallet.BirthCertificate, wallet.MarriageCertificate:
		return Population
	case wallet.DrivingLicence, wallet.VehicleRegistration:
		return Transport
	case wallet.Diploma:
		return Education
	}
	return ""
}

// IssuerFor returns the authority that issues documents of type t ("" if unknown).
func IssuerFor(t wallet.DocumentType) string {
	switch t {
	case wallet.IDCard, wallet.Passport, wallet.DrivingLicence, wallet.VehicleRegistration:
		return IssuerMIA
	case wallet.BirthCertificate, wallet.MarriageCertificate:
		return IssuerMOJ
	case wallet.Diploma:
		return IssuerEDU
	}
	return ""
}
