package refbackend

import (
	"crypto/ecdsa"
	"errors"
	"net/http"

	"github.com/vnkiosk/kiosk/kiosk/filing/filingsig"
)

// signatureError is the 400 answer to a filing whose Filing-Signature is
// missing or does not verify. It is backend.ErrorBody (code "validation") with
// the message repeated under "error".
type signatureError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Error   string `json:"error"`
}

// checkFilingSignature verifies the request's Filing-Signature header (a
// detached JWS, see package filingsig) over the filing JSON bytes exactly as
// received, against the public key of the client certificate presented in the
// mutual-TLS handshake: the filer's evidence and the kiosk's identity are then
// bound together whatever carried the request. A present signature is always
// checked; a missing one is accepted unless Options.RequireSignature is set.
func (s *Server) checkFilingSignature(r *http.Request, filingJSON []byte) error {
	jws := r.Header.Get(filingsig.HeaderName)
	if jws == "" {
		if s.opt.RequireSignature {
			return errors.New("no " + filingsig.HeaderName + " header")
		}
		return nil
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return errors.New("no client certificate to verify it with")
	}
	pub, ok := r.TLS.PeerCertificates[0].PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return errors.New("client certificate key is not ECDSA")
	}
	return filingsig.Verify(filingJSON, jws, pub)
}

func writeSignatureError(w http.ResponseWriter, err error) {
	msg := "filing signature does not verify: " + err.Error()
	writeJSON(w, http.StatusBadRequest, signatureError{Code: "validation", Message: msg, Error: msg})
}
