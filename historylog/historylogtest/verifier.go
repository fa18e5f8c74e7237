package historylogtest

import "golang.org/x/mod/sumdb/note"

func noteVerifier(vkey string) (note.Verifier, error) { return note.NewVerifier(vkey) }
