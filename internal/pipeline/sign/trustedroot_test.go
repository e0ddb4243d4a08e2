package sign

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/pipeline/kit/run"
	"github.com/slipway-dev/slipway/internal/pipeline/kit/tools/toolstest"
)

// A keyless signature verifies with nothing but a trusted-root file: no network (a proxy that
// refuses every connection), no cached Sigstore root (an empty TUF_ROOT). The test stands in
// for Sigstore's public services with keys of its own, as the trusted root names them: a CA
// (Fulcio) issues a short-lived certificate for a workflow identity, a CT log signs the
// certificate's SCT, a transparency log (Rekor v1) signs the entry's SET and checkpoint. cosign
// requires each of them offline, and each case below removes one to show it.
func TestKeylessVerifiesOfflineWithATrustedRoot(t *testing.T) {
	cosign := toolstest.Installed(t, "cosign")
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	t.Setenv("NO_PROXY", "")
	t.Setenv("TUF_ROOT", t.TempDir())
	ctx := context.Background()
	dir := t.TempDir()
	const (
		identity = "https://github.com/slipway-dev/slipway/.github/workflows/release.yml@refs/tags/v1.2.3"
		issuer   = "https://token.actions.githubusercontent.com"
	)
	file := filepath.Join(dir, "release.json")
	if err := os.WriteFile(file, []byte(`{"schema":2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ss := newTestSigstore(t)
	root := ss.trustedRoot(t, filepath.Join(dir, "trusted_root.json"))
	v := Verifier{Cosign: cosign, CertIdentity: identity, CertIssuer: issuer, TrustedRoot: root}

	write := func(name string, b testBundle) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, ss.bundle(t, file, b), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.sigstore.json", testBundle{identity: identity, issuer: issuer, sct: true, tlog: true})
	if err := v.VerifyBlob(ctx, file, good); err != nil {
		t.Fatalf("a keyless signature does not verify offline against its trusted root: %v", err)
	}

	// The same logs, another CA: only the certificate's chain can fail.
	other := ss
	ca := newTestSigstore(t)
	other.ca, other.caKey = ca.ca, ca.caKey
	for name, c := range map[string]struct {
		v      Verifier
		bundle string
		says   string
	}{
		"another identity": {Verifier{Cosign: cosign, CertIdentity: strings.Replace(identity, "v1.2.3", "v1.2.4", 1), CertIssuer: issuer, TrustedRoot: root}, good,
			`expected SAN value "` + strings.Replace(identity, "v1.2.3", "v1.2.4", 1) + `"`},
		"another issuer": {Verifier{Cosign: cosign, CertIdentity: identity, CertIssuer: "https://accounts.google.com", TrustedRoot: root}, good,
			`expected issuer value "https://accounts.google.com"`},
		"another trusted root": {Verifier{Cosign: cosign, CertIdentity: identity, CertIssuer: issuer, TrustedRoot: other.trustedRoot(t, filepath.Join(t.TempDir(), "other.json"))}, good,
			"failed to verify leaf certificate"},
		// Without the file cosign fetches Sigstore's trusted root, which no network means no root.
		"no trusted root": {Verifier{Cosign: cosign, CertIdentity: identity, CertIssuer: issuer}, good, "getting trusted root from TUF"},
		// What cosign requires offline, one at a time:
		"no SCT in the certificate": {v, write("no-sct.sigstore.json", testBundle{identity: identity, issuer: issuer, tlog: true}),
			"only able to verify 0 SCT entries; unable to meet threshold of 1"},
		"no transparency-log entry": {v, write("no-tlog.sigstore.json", testBundle{identity: identity, issuer: issuer, sct: true}),
			"not enough verified log entries from transparency log: 0 < 1"},
		"a certificate expired before the entry was logged": {v, write("expired.sigstore.json", testBundle{identity: identity, issuer: issuer, sct: true, tlog: true, loggedLate: true}),
			"integrated time outside certificate validity"},
	} {
		t.Run(name, func(t *testing.T) {
			err := c.v.VerifyBlob(ctx, file, c.bundle)
			t.Logf("cosign: %s", run.Brief(err))
			if err == nil || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("err = %v, want a failure saying %q", err, c.says)
			}
		})
	}
	if err := os.WriteFile(file, []byte(`{"schema":3}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := v.VerifyBlob(ctx, file, good); err == nil {
		t.Fatal("a changed file verifies")
	}
}

// testSigstore is the test's own CA, CT log and transparency log.
type testSigstore struct {
	caKey, ctKey, tlogKey *ecdsa.PrivateKey
	ca                    *x509.Certificate
}

func newTestSigstore(t *testing.T) testSigstore {
	t.Helper()
	var s testSigstore
	for _, k := range []**ecdsa.PrivateKey{&s.caKey, &s.ctKey, &s.tlogKey} {
		var err error
		if *k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{Organization: []string{"slipway test"}, CommonName: "test fulcio"},
		NotBefore: time.Now().Add(-24 * time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &s.caKey.PublicKey, s.caKey)
	if err != nil {
		t.Fatal(err)
	}
	if s.ca, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	return s
}

func spki(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func keyID(t *testing.T, k *ecdsa.PrivateKey) []byte {
	sum := sha256.Sum256(spki(t, k))
	return sum[:]
}

// trustedRoot writes the trusted root naming the three services (the format of Sigstore's own
// trusted_root.json: protobuf-specs' TrustedRoot) and returns its path.
func (s testSigstore) trustedRoot(t *testing.T, path string) string {
	t.Helper()
	b64 := base64.StdEncoding.EncodeToString
	since := map[string]string{"start": time.Now().Add(-48 * time.Hour).UTC().Format(time.RFC3339)}
	log := func(url string, k *ecdsa.PrivateKey) map[string]any {
		return map[string]any{
			"baseUrl": url, "hashAlgorithm": "SHA2_256",
			"publicKey": map[string]any{"rawBytes": b64(spki(t, k)), "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": since},
			"logId":     map[string]any{"keyId": b64(keyID(t, k))},
		}
	}
	doc := map[string]any{
		"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
		"tlogs":     []any{log("https://rekor.test.invalid", s.tlogKey)},
		"ctlogs":    []any{log("https://ctfe.test.invalid", s.ctKey)},
		"certificateAuthorities": []any{map[string]any{
			"subject":   map[string]any{"organization": "slipway test", "commonName": "test fulcio"},
			"uri":       "https://fulcio.test.invalid",
			"certChain": map[string]any{"certificates": []any{map[string]any{"rawBytes": b64(s.ca.Raw)}}},
			"validFor":  since,
		}},
		"timestampAuthorities": []any{},
	}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// testBundle says what a bundle the test makes holds.
type testBundle struct {
	identity, issuer string
	sct              bool // the certificate carries an SCT of the CT log
	tlog             bool // the bundle carries a transparency-log entry
	loggedLate       bool // the entry was logged after the certificate expired
}

var (
	oidIssuerV2 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}    // Fulcio's OIDC issuer
	oidSCTList  = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2} // RFC 6962 embedded SCTs
)

// bundle signs file as a keyless signer does: a ten-minute certificate from the CA for the
// identity, the signature, and (per b) the SCT and the transparency-log entry; returned as a
// Sigstore bundle (v0.3, the format cosign writes).
func (s testSigstore) bundle(t *testing.T, file string, b testBundle) []byte {
	t.Helper()
	b64 := base64.StdEncoding.EncodeToString
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	issued := time.Now().Add(-5 * time.Minute).Truncate(time.Second)
	u, err := url.Parse(b.identity)
	if err != nil {
		t.Fatal(err)
	}
	issuerExt, err := asn1.MarshalWithParams(b.issuer, "utf8")
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), NotBefore: issued, NotAfter: issued.Add(10 * time.Minute),
		URIs: []*url.URL{u}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		ExtraExtensions: []pkix.Extension{{Id: oidIssuerV2, Value: issuerExt}},
	}
	create := func() *x509.Certificate {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, s.ca, &key.PublicKey, s.caKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cert := create()
	if b.sct {
		// RFC 6962 3.2: the log signs the certificate's TBS without the SCT list (the
		// precertificate entry), bound to the issuer's key; the SCT then goes into the
		// certificate as its last extension.
		ts := uint64(issued.Add(time.Second).UnixMilli())
		issuerKeyHash := sha256.Sum256(s.ca.RawSubjectPublicKeyInfo)
		var signed []byte
		signed = append(signed, 0, 0) // v1, certificate_timestamp
		signed = binary.BigEndian.AppendUint64(signed, ts)
		signed = binary.BigEndian.AppendUint16(signed, 1) // precert_entry
		signed = append(signed, issuerKeyHash[:]...)
		tbs := cert.RawTBSCertificate
		signed = append(signed, byte(len(tbs)>>16), byte(len(tbs)>>8), byte(len(tbs)))
		signed = append(signed, tbs...)
		signed = binary.BigEndian.AppendUint16(signed, 0) // no extensions
		digest := sha256.Sum256(signed)
		sig, err := ecdsa.SignASN1(rand.Reader, s.ctKey, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		sct := append([]byte{0}, keyID(t, s.ctKey)...)
		sct = binary.BigEndian.AppendUint64(sct, ts)
		sct = binary.BigEndian.AppendUint16(sct, 0)
		sct = append(sct, 4, 3) // sha256, ecdsa
		sct = binary.BigEndian.AppendUint16(sct, uint16(len(sig)))
		sct = append(sct, sig...)
		list := binary.BigEndian.AppendUint16(nil, uint16(len(sct)+2))
		list = binary.BigEndian.AppendUint16(list, uint16(len(sct)))
		list = append(list, sct...)
		ext, err := asn1.Marshal(list)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: oidSCTList, Value: ext})
		cert = create()
	}

	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(data)
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	material := map[string]any{"certificate": map[string]any{"rawBytes": b64(cert.Raw)}}
	if b.tlog {
		material["tlogEntries"] = []any{s.logEntry(t, cert, digest[:], sig, issued, b.loggedLate)}
	}
	out, err := json.Marshal(map[string]any{
		"mediaType":            "application/vnd.dev.sigstore.bundle.v0.3+json",
		"verificationMaterial": material,
		"messageSignature":     map[string]any{"messageDigest": map[string]any{"algorithm": "SHA2_256", "digest": b64(digest[:])}, "signature": b64(sig)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// logEntry is what Rekor v1 returns for a hashedrekord entry: the canonical body, its SET (the
// log's signature over body, time and index) and an inclusion proof in a one-entry tree with
// the checkpoint (a signed note) over it.
func (s testSigstore) logEntry(t *testing.T, cert *x509.Certificate, digest, sig []byte, issued time.Time, late bool) map[string]any {
	t.Helper()
	b64 := base64.StdEncoding.EncodeToString
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	body := fmt.Sprintf(`{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"sha256","value":%q}},"signature":{"content":%q,"publicKey":{"content":%q}}}}`,
		hex.EncodeToString(digest), b64(sig), b64(certPEM))
	logged := issued.Add(time.Minute)
	if late {
		logged = issued.Add(20 * time.Minute)
	}
	integrated := logged.Unix()
	sign := func(msg []byte) []byte {
		h := sha256.Sum256(msg)
		out, err := ecdsa.SignASN1(rand.Reader, s.tlogKey, h[:])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// The SET signs the canonical JSON (keys sorted, no spaces) of what the entry says.
	set := sign([]byte(fmt.Sprintf(`{"body":%q,"integratedTime":%d,"logID":%q,"logIndex":0}`, b64([]byte(body)), integrated, hex.EncodeToString(keyID(t, s.tlogKey)))))
	leaf := sha256.Sum256(append([]byte{0}, body...)) // RFC 6962 leaf hash: the root of a one-entry tree
	note := fmt.Sprintf("rekor.test.invalid - 1\n1\n%s\n", b64(leaf[:]))
	hint := keyID(t, s.tlogKey)[:4]
	checkpoint := note + "\n\u2014 rekor.test.invalid " + b64(append(hint, sign([]byte(note))...)) + "\n"
	return map[string]any{
		"logIndex": "0", "logId": map[string]any{"keyId": b64(keyID(t, s.tlogKey))},
		"kindVersion":       map[string]any{"kind": "hashedrekord", "version": "0.0.1"},
		"integratedTime":    fmt.Sprint(integrated),
		"inclusionPromise":  map[string]any{"signedEntryTimestamp": b64(set)},
		"inclusionProof":    map[string]any{"logIndex": "0", "rootHash": b64(leaf[:]), "treeSize": "1", "hashes": []any{}, "checkpoint": map[string]any{"envelope": checkpoint}},
		"canonicalizedBody": b64([]byte(body)),
	}
}
