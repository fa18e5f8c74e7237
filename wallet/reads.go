package wallet

import (
	"context"
	"crypto/rand"
	"io"
	"time"
)

// DocumentReads is how a citizen reads documents through the API: their
// own, and, as a legal representative, a minor ward's. A ward's document is
// released to a guardian only after a view naming the guardian is
// committed in the ward's history (with its log leaf): the rule that a
// guardian's read is recorded lives here, not in a handler.
type DocumentReads struct {
	Documents    *DocumentService
	Guardianship Guardianship
	Changes      Committer
	// Rand is the random source of view ids; crypto/rand if nil.
	Rand io.Reader
}

// Document returns the document id if caller may read it: their own, or a
// minor ward's (recorded as a view). ENOTFOUND for anything else, never
// revealing that it exists; EUNAVAILABLE; the Committer's errors (nothing
// is released then).
func (r DocumentReads) Document(ctx context.Context, caller IIN, id string) (Document, error) {
	doc, err := r.Documents.Document(ctx, id)
	if err != nil {
		if IsCode(err, ENOTFOUND) {
			return Document{}, Errorf(ENOTFOUND, "no such document")
		}
		return Document{}, err
	}
	if err := r.Guardianship.MayActFor(ctx, caller, doc.SubjectIIN); err != nil {
		if IsCode(err, ENOTFOUND) {
			return Document{}, Errorf(ENOTFOUND, "no such document")
		}
		return Document{}, err
	}
	if caller != doc.SubjectIIN {
		if err := r.recordGuardianViews(ctx, caller, []Document{doc}); err != nil {
			return Document{}, err
		}
	}
	return doc, nil
}

// WardDocuments returns a minor ward's documents to their guardian, after
// recording one view per document in the ward's history. ENOTFOUND if
// guardian does not represent ward today; EUNAVAILABLE; the Committer's
// errors.
func (r DocumentReads) WardDocuments(ctx context.Context, guardian, ward IIN) ([]Document, error) {
	if err := r.Guardianship.IsGuardianOf(ctx, guardian, ward); err != nil {
		return nil, err
	}
	docs, err := r.Documents.Assembled(ctx, ward)
	if err != nil {
		return nil, err
	}
	if err := r.recordGuardianViews(ctx, guardian, docs); err != nil {
		return nil, err
	}
	return docs, nil
}

// recordGuardianViews commits, in one change, one view per document in the
// ward's history, naming the guardian.
func (r DocumentReads) recordGuardianViews(ctx context.Context, guardian IIN, docs []Document) error {
	if len(docs) == 0 {
		return nil
	}
	now := time.Now()
	if r.Guardianship.Now != nil {
		now = r.Guardianship.Now()
	}
	views := make([]View, len(docs))
	for i, d := range docs {
		id, err := NewTimeID(r.rand(), now, "vw_")
		if err != nil {
			return err
		}
		views[i] = View{
			ID: id, DocumentID: d.ID, DocumentType: d.Type, OwnerIIN: d.SubjectIIN,
			ViewerKind: ViewerGuardian, ViewerID: string(guardian),
			Channel: ChannelGuardian, At: now.UTC(), LogIndex: -1,
		}
	}
	_, err := r.Changes.Commit(ctx, Change{Views: views})
	return err
}

func (r DocumentReads) rand() io.Reader {
	if r.Rand != nil {
		return r.Rand
	}
	return rand.Reader
}
