package historylog

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"

	"github.com/qujat/qujat/wallet"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint is the body of a checkpoint: the log's origin, its size and its
// root hash.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
}

// MarshalText formats the checkpoint body in the C2SP tlog-checkpoint form:
// three lines, each ending in a newline: the origin, the size in decimal,
// and the root hash in standard base64.
func (c Checkpoint) MarshalText() ([]byte, error) {
	if c.Origin == "" || strings.ContainsAny(c.Origin, "\n") || c.Size < 0 {
		return nil, wallet.Errorf(wallet.EINVALID, "history log: invalid checkpoint")
	}
	b := make([]byte, 0, len(c.Origin)+1+20+1+base64.StdEncoding.EncodedLen(len(c.Root))+1)
	b = append(b, c.Origin...)
	b = append(b, '\n')
	b = strconv.AppendInt(b, c.Size, 10)
	b = append(b, '\n')
	b = base64.StdEncoding.AppendEncode(b, c.Root[:])
	return append(b, '\n'), nil
}

// ParseCheckpoint parses the body of a checkpoint (the text of the note,
// without signatures). Extension lines after the root are allowed, as the
// C2SP form says, and ignored. EINVALID if text is not a checkpoint.
func ParseCheckpoint(text []byte) (Checkpoint, error) {
	bad := wallet.Errorf(wallet.EINVALID, "history log: malformed checkpoint")
	if !bytes.HasSuffix(text, []byte("\n")) {
		return Checkpoint{}, bad
	}
	lines := strings.Split(string(text[:len(text)-1]), "\n")
	if len(lines) < 3 || lines[0] == "" {
		return Checkpoint{}, bad
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != lines[1] {
		return Checkpoint{}, bad
	}
	h, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(h) != tlog.HashSize {
		return Checkpoint{}, bad
	}
	c := Checkpoint{Origin: lines[0], Size: n}
	copy(c.Root[:], h)
	return c, nil
}

// SignCheckpoint returns the signed note of the checkpoint: its body, a
// blank line and the signature line of signer. EINVALID for a bad
// checkpoint, EINTERNAL if signing fails.
func SignCheckpoint(c Checkpoint, signer note.Signer) ([]byte, error) {
	text, err := c.MarshalText()
	if err != nil {
		return nil, err
	}
	msg, err := note.Sign(&note.Note{Text: string(text)}, signer)
	if err != nil {
		return nil, wallet.Wrap(wallet.EINTERNAL, err, "history log: cannot sign the checkpoint")
	}
	return msg, nil
}

// OpenCheckpoint checks the signature of a signed checkpoint with verifier
// and that its origin is origin, and returns the checkpoint. EINVALID if the
// note is malformed, not signed by the verifier's key, or of another origin.
func OpenCheckpoint(signed []byte, verifier note.Verifier, origin string) (Checkpoint, error) {
	n, err := note.Open(signed, note.VerifierList(verifier))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return Checkpoint{}, wallet.Wrap(wallet.EINVALID, err, "history log: checkpoint not signed by the log's key")
		}
		return Checkpoint{}, wallet.Wrap(wallet.EINVALID, err, "history log: checkpoint signature not valid")
	}
	c, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin != origin {
		return Checkpoint{}, wallet.Errorf(wallet.EINVALID, "history log: checkpoint of origin %q, want %q", c.Origin, origin)
	}
	return c, nil
}
