package history

import (
	"encoding/json"
	"time"

	"github.com/qujat/qujat/historylog"
	"github.com/qujat/qujat/wallet"
)

// Entry kinds beside wallet's event kinds.
const (
	// KindView is the kind of a view's leaf.
	KindView = "view"
	// KindVersion is the kind of a document version's leaf.
	KindVersion = "document_version"
)

// CitizenSubject is the subject string of a citizen: the IIN itself.
func CitizenSubject(iin wallet.IIN) string { return string(iin) }

// StaffSubject is the subject string of a staff member: "staff:" and their
// id, never an IIN's or an organisation's pseudonym.
func StaffSubject(staffID string) string { return "staff:" + staffID }

// OrganisationSubject is the subject string of an organisation client:
// "org:" and its id. An IIN never contains ':', so the two kinds of
// subject never share a pseudonym.
func OrganisationSubject(clientID string) string { return "org:" + clientID }

// viewPayload is the payload of a view entry: the view without its log index.
type viewPayload struct {
	ID           string    `json:"id"`
	DocumentID   string    `json:"document_id"`
	DocumentType string    `json:"document_type"`
	OwnerIIN     string    `json:"owner_iin"`
	ViewerKind   string    `json:"viewer_kind"`
	ViewerID     string    `json:"viewer_id"`
	Channel      string    `json:"channel"`
	ShareID      string    `json:"share_id,omitempty"`
	ConsentID    string    `json:"consent_id,omitempty"`
	SharedBy     string    `json:"shared_by,omitempty"`
	At           time.Time `json:"at"`
}

// ViewEntry returns the entry of a view: kind KindView, its time, as
// parties the document's owner, the viewer (an organisation by
// OrganisationSubject, a person by their IIN) and the guardian who opened
// the share if there is one, and as payload the view as JSON without its
// log index. EINVALID if the view has no id, owner or viewer.
func ViewEntry(v wallet.View) (historylog.Entry, error) {
	if v.ID == "" || v.OwnerIIN == "" || v.ViewerID == "" {
		return historylog.Entry{}, wallet.Errorf(wallet.EINVALID, "history log: a view needs an id, an owner and a viewer")
	}
	viewer := CitizenSubject(wallet.IIN(v.ViewerID))
	if v.ViewerKind == wallet.ViewerOrganisation {
		viewer = OrganisationSubject(v.ViewerID)
	}
	subjects := []string{CitizenSubject(v.OwnerIIN), viewer}
	if v.SharedBy != "" {
		subjects = append(subjects, CitizenSubject(v.SharedBy))
	}
	payload, err := json.Marshal(viewPayload{
		ID: v.ID, DocumentID: v.DocumentID, DocumentType: string(v.DocumentType), OwnerIIN: string(v.OwnerIIN),
		ViewerKind: v.ViewerKind, ViewerID: v.ViewerID, Channel: v.Channel, ShareID: v.ShareID,
		ConsentID: v.ConsentID, SharedBy: string(v.SharedBy), At: v.At.Truncate(time.Microsecond).UTC(),
	})
	if err != nil {
		return historylog.Entry{}, wallet.Wrap(wallet.EINTERNAL, err, "history log: view payload")
	}
	return historylog.Entry{Kind: KindView, At: v.At, Subjects: subjects, Payload: payload}, nil
}

// eventPayload is the payload of an event entry: the event without its log index.
type eventPayload struct {
	ID         string            `json:"id"`
	Kind       string            `json:"kind"`
	SubjectIIN string            `json:"subject_iin"`
	ActorKind  string            `json:"actor_kind"`
	ActorID    string            `json:"actor_id,omitempty"`
	ObjectID   string            `json:"object_id,omitempty"`
	Details    map[string]string `json:"details,omitempty"`
	At         time.Time         `json:"at"`
}

// EventEntry returns the entry of a history event: its kind and time, as
// parties the citizen whose history it belongs to and the actor (an
// organisation by OrganisationSubject, a citizen or guardian by IIN; a
// "system" actor is no party), and as payload the event as JSON without its
// log index. EINVALID if the event has no id, kind or subject. An event
// that a staff member acted belongs to no citizen when its subject is
// empty (a hosted registry's draft, a record of a business): the staff
// member is then its one party.
func EventEntry(e wallet.Event) (historylog.Entry, error) {
	staffOnly := e.SubjectIIN == "" && e.ActorKind == wallet.ActorStaff && e.ActorID != ""
	if e.ID == "" || e.Kind == "" || (e.SubjectIIN == "" && !staffOnly) {
		return historylog.Entry{}, wallet.Errorf(wallet.EINVALID, "history log: an event needs an id, a kind and a subject")
	}
	var subjects []string
	if e.SubjectIIN != "" {
		subjects = append(subjects, CitizenSubject(e.SubjectIIN))
	}
	switch {
	case e.ActorID == "" || e.ActorKind == "system":
	case e.ActorKind == wallet.ViewerOrganisation:
		subjects = append(subjects, OrganisationSubject(e.ActorID))
	case e.ActorKind == wallet.ActorStaff:
		subjects = append(subjects, StaffSubject(e.ActorID))
	default:
		subjects = append(subjects, CitizenSubject(wallet.IIN(e.ActorID)))
	}
	payload, err := json.Marshal(eventPayload{
		ID: e.ID, Kind: e.Kind, SubjectIIN: string(e.SubjectIIN), ActorKind: e.ActorKind, ActorID: e.ActorID,
		ObjectID: e.ObjectID, Details: e.Details, At: e.At.Truncate(time.Microsecond).UTC(),
	})
	if err != nil {
		return historylog.Entry{}, wallet.Wrap(wallet.EINTERNAL, err, "history log: event payload")
	}
	return historylog.Entry{Kind: e.Kind, At: e.At, Subjects: subjects, Payload: payload}, nil
}

// versionPayload is the payload of a document version's entry: what
// anchors the version chain in the log.
type versionPayload struct {
	DocumentID string    `json:"document_id"`
	Version    int       `json:"version"`
	Hash       string    `json:"hash"`
	PrevHash   string    `json:"prev_hash,omitempty"`
	At         time.Time `json:"at"`
}

// VersionEntry returns the entry of a document's new version: kind
// KindVersion, the version's time, the document's subject as its party,
// and as payload the document id, version number, hash and previous hash.
// The leaf thus anchors the head of the document's hash chain at every
// version: rewriting the chain, even whole, no longer matches the leaves.
// EINVALID for a version without document, number or hash.
func VersionEntry(subject wallet.IIN, v wallet.Version) (historylog.Entry, error) {
	if v.DocumentID == "" || v.Version < 1 || v.Hash == "" || subject == "" {
		return historylog.Entry{}, wallet.Errorf(wallet.EINVALID, "history log: a version needs a document, a number, a hash and a subject")
	}
	payload, err := versionPayloadOf(v)
	if err != nil {
		return historylog.Entry{}, err
	}
	return historylog.Entry{Kind: KindVersion, At: v.CreatedAt, Subjects: []string{CitizenSubject(subject)}, Payload: payload,
		Record: wallet.NewVersion{DocumentID: v.DocumentID, Version: v.Version}}, nil
}

func versionPayloadOf(v wallet.Version) ([]byte, error) {
	payload, err := json.Marshal(versionPayload{DocumentID: v.DocumentID, Version: v.Version, Hash: v.Hash,
		PrevHash: v.PrevHash, At: v.CreatedAt.Truncate(time.Microsecond).UTC()})
	if err != nil {
		return nil, wallet.Wrap(wallet.EINTERNAL, err, "history log: version payload")
	}
	return payload, nil
}
